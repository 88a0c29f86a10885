/**
 * Engine.IO protocol v4 packet and payload codec.
 *
 * Wire format: a packet is its type digit followed by its data ("4hello");
 * binary data travels as raw bytes over WebSocket or as "b" + base64 over HTTP
 * long-polling, where packets of a payload are separated by "\x1e".
 *
 * Exposed as `parser` from `socket.io/engine`, with the public API of the npm
 * package engine.io-parser v5.
 */

export const protocol = 4;

export type PacketType =
  | "open"
  | "close"
  | "ping"
  | "pong"
  | "message"
  | "upgrade"
  | "noop"
  | "error";

export type RawData = string | Buffer | ArrayBuffer | ArrayBufferView;

export interface PacketOptions {
  compress?: boolean;
  wsPreEncodedFrame?: unknown;
}

export interface Packet {
  type: PacketType;
  data?: RawData;
  options?: PacketOptions;
}

export type BinaryType = "nodebuffer" | "arraybuffer";

const PACKET_CODES: Record<string, string> = {
  open: "0",
  close: "1",
  ping: "2",
  pong: "3",
  message: "4",
  upgrade: "5",
  noop: "6",
};

// Indexed by the char code of the type digit minus 48, so decoding needs no
// string allocation for the lookup.
const PACKET_TYPES: PacketType[] = [
  "open",
  "close",
  "ping",
  "pong",
  "message",
  "upgrade",
  "noop",
];

const SEPARATOR = "\x1e";
const CHAR_ZERO = 48;
const CHAR_B = 98;

// A fresh object per failure: callers may mutate the packets they receive.
function errorPacket(): Packet {
  return { type: "error", data: "parser error" };
}

// Standard alphabet, optional padding; Buffer.from() silently skips invalid
// characters, so validity has to be checked up front.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBinary(data: unknown): data is Buffer | ArrayBuffer | ArrayBufferView {
  return ArrayBuffer.isView(data) || data instanceof ArrayBuffer;
}

/** Views the bytes of any binary value as a Buffer, without copying. */
function toBuffer(data: Buffer | ArrayBuffer | ArrayBufferView): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Copies exactly the viewed bytes into a standalone ArrayBuffer. */
function toArrayBuffer(data: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  if (data instanceof ArrayBuffer) return data;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

function mapBinary(data: Buffer | ArrayBuffer | ArrayBufferView, binaryType?: BinaryType): Buffer | ArrayBuffer {
  return binaryType === "arraybuffer" ? toArrayBuffer(data) : toBuffer(data);
}

function decodeBase64(encoded: string, binaryType?: BinaryType): Packet {
  const body = encoded.substring(1);
  if (body.length % 4 === 1 || !BASE64.test(body)) return errorPacket();
  const padding = body.indexOf("=");
  if (padding !== -1 && body.length % 4 !== 0) return errorPacket();
  const bytes = Buffer.from(body, "base64");
  return { type: "message", data: binaryType === "arraybuffer" ? toArrayBuffer(bytes) : bytes };
}

/**
 * Encodes one packet. Binary data becomes raw bytes (a Buffer, for WebSocket)
 * when `supportsBinary` is true, else "b" + base64 (for HTTP long-polling).
 *
 * @example
 * encodePacketSync({ type: "message", data: "hello" }, true); // "4hello"
 * encodePacketSync({ type: "message", data: Buffer.from([1, 2]) }, false); // "bAQI="
 */
export function encodePacketSync(packet: Packet, supportsBinary: boolean): string | Buffer {
  const data = packet.data;
  if (typeof data === "string") return PACKET_CODES[packet.type] + data;
  if (isBinary(data)) {
    const bytes = toBuffer(data);
    return supportsBinary ? bytes : "b" + bytes.toString("base64");
  }
  // Non-string data (e.g. a number sent by a plain engine.io user) is
  // stringified, and absent or falsy data leaves the type digit alone.
  return PACKET_CODES[packet.type] + ((data as unknown) || "");
}

/**
 * Encodes packets into one HTTP long-polling payload, binary data as base64.
 *
 * @example
 * encodePayloadSync([{ type: "message", data: "a" }, { type: "ping" }]); // "4a\x1e2"
 */
export function encodePayloadSync(packets: Packet[]): string {
  let payload = "";
  for (let i = 0; i < packets.length; i++) {
    if (i > 0) payload += SEPARATOR;
    payload += encodePacketSync(packets[i], false) as string;
  }
  return payload;
}

/**
 * Callback form of {@link encodePacketSync}; the callback runs synchronously.
 *
 * @example
 * encodePacket({ type: "pong", data: "probe" }, true, (encoded) => ws.send(encoded));
 */
export function encodePacket(
  packet: Packet,
  supportsBinary: boolean,
  callback: (encoded: string | Buffer) => void,
): void {
  callback(encodePacketSync(packet, supportsBinary));
}

/**
 * Callback form of {@link encodePayloadSync}; the callback runs synchronously.
 *
 * @example
 * encodePayload(packets, (payload) => res.end(payload));
 */
export function encodePayload(packets: Packet[], callback: (payload: string) => void): void {
  callback(encodePayloadSync(packets));
}

/**
 * Decodes one packet. Binary input (a WebSocket binary frame) is a message with
 * that data; any invalid input yields `{ type: "error", data: "parser error" }`
 * and never throws.
 *
 * @example
 * decodePacket("4hello"); // { type: "message", data: "hello" }
 * decodePacket("bAQI=", "arraybuffer"); // { type: "message", data: ArrayBuffer [1, 2] }
 */
export function decodePacket(encoded: RawData, binaryType?: BinaryType): Packet {
  if (typeof encoded !== "string") {
    return isBinary(encoded) ? { type: "message", data: mapBinary(encoded, binaryType) } : errorPacket();
  }
  const code = encoded.charCodeAt(0);
  if (code === CHAR_B) return decodeBase64(encoded, binaryType);
  const type = PACKET_TYPES[code - CHAR_ZERO];
  if (type === undefined) return errorPacket();
  return encoded.length > 1 ? { type, data: encoded.substring(1) } : { type };
}

/**
 * Decodes an HTTP long-polling payload. Decoding stops at the first invalid
 * packet, returned as the last element `{ type: "error", data: "parser error" }`.
 *
 * @example
 * decodePayload("4a\x1e2"); // [{ type: "message", data: "a" }, { type: "ping" }]
 */
export function decodePayload(payload: string, binaryType?: BinaryType): Packet[] {
  const packets: Packet[] = [];
  if (typeof payload !== "string") {
    packets.push(errorPacket());
    return packets;
  }
  let start = 0;
  for (;;) {
    const end = payload.indexOf(SEPARATOR, start);
    const packet = decodePacket(end === -1 ? payload.substring(start) : payload.substring(start, end), binaryType);
    packets.push(packet);
    if (packet.type === "error" || end === -1) return packets;
    start = end + 1;
  }
}
