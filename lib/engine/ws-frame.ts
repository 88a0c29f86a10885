/**
 * A pre-encoded WebSocket frame: a message framed once and written as it is to every
 * WebSocket client it is sent to (a broadcast). Handed to `socket.write()` as the
 * `wsPreEncodedFrame` option; the WebSocket transport sends it through `ws`'s sender
 * unchanged, every other transport encodes the packet's data as usual.
 */

/**
 * The buffers of one complete, unmasked frame, in order: what `ws`'s `Sender.frame()`
 * returns ([header, payload], or one buffer), and what {@link wsMessageFrame} builds.
 */
export type WsPreEncodedFrame = Buffer[];

// First byte of a WebSocket frame carrying a whole text message: FIN bit and opcode 1.
const FIN_TEXT = 0x81;

// Engine.IO "message" packet type, prefixed to the payload inside the frame.
const ENGINE_MESSAGE = 0x34; // "4"

/** Bytes of the header of an unmasked frame carrying `length` bytes. */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * A new buffer sized for an unmasked text frame of `length` bytes, its header
 * (`header` bytes) written.
 */
function textFrame(length: number, header: number): Buffer {
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = FIN_TEXT;
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  return frame;
}

/**
 * The frame of the Engine.IO message "4" + `payload`, as a server sends it. One buffer
 * sized exactly and filled in place: no intermediate copy whose pool slice would stay
 * pinned as long as a slow client holds the frame; header and payload in one buffer, so
 * that each target costs one stream write, not two.
 *
 * @example
 * socket.write(payload, { wsPreEncodedFrame: wsMessageFrame(payload) });
 */
export function wsMessageFrame(payload: string): WsPreEncodedFrame {
  const length = Buffer.byteLength(payload) + 1;
  const header = headerLength(length);
  const frame = textFrame(length, header);
  frame[header] = ENGINE_MESSAGE;
  frame.write(payload, header + 1);
  return [frame];
}

/**
 * The frame of a text message, as a server sends it, in one buffer: written with one
 * stream write (ws writes a header and a payload, two writes in one writev).
 *
 * @example
 * sender.sendFrame(wsTextFrame("3probe"));
 */
export function wsTextFrame(text: string): WsPreEncodedFrame {
  const length = Buffer.byteLength(text);
  const header = headerLength(length);
  const frame = textFrame(length, header);
  frame.write(text, header);
  return [frame];
}

/**
 * Bytes of the message a frame carries, as its header says (the frame's own bytes, less
 * the header).
 *
 * @example
 * wsPayloadLength(wsMessageFrame("hi")); // 3
 */
export function wsPayloadLength(frame: WsPreEncodedFrame): number {
  const header = frame[0];
  const length = header[1] & 0x7f;
  if (length < 126) {
    return length;
  }
  if (length === 126) {
    return header.readUInt16BE(2);
  }
  return header.readUInt32BE(2) * 0x100000000 + header.readUInt32BE(6);
}
