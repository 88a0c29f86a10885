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

import type { BinaryType, Packet, RawData } from "./packet";
import {
  BASE64,
  CHAR_B,
  CHAR_ZERO,
  errorPacket,
  isBinary,
  mapBinary,
  PACKET_TYPES,
  toArrayBuffer,
  toBuffer,
} from "./packet";

export const protocol = 4;

export type { BinaryType, Packet, PacketOptions, PacketType, RawData } from "./packet";

const PACKET_CODES: Record<string, string> = {
  open: "0",
  close: "1",
  ping: "2",
  pong: "3",
  message: "4",
  upgrade: "5",
  noop: "6",
};

const SEPARATOR = "\x1e";

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
    const packet = decodePacket(
      end === -1 ? payload.substring(start) : payload.substring(start, end),
      binaryType,
    );
    packets.push(packet);
    if (packet.type === "error" || end === -1) return packets;
    start = end + 1;
  }
}
