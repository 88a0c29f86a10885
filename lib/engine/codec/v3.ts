/**
 * Engine.IO protocol v3 packet and payload codec, spoken by socket.io v2
 * clients when the server runs with `allowEIO3`.
 *
 * Wire format: a packet is its type digit followed by its data ("4hello").
 * Binary packets are the type number as first byte followed by the bytes over
 * WebSocket, or "b" + type digit + base64 in text. Long-polling payloads frame
 * each packet as `<length>:<packet>` (length in UTF-16 characters), or, when
 * the client supports binary and a packet is binary, as
 * `<0|1><length digits as bytes><255><packet bytes>`.
 */
import type { BinaryType, Packet, PacketType } from "./packet";
import {
  BASE64,
  CHAR_B,
  CHAR_ZERO,
  errorPacket,
  isBinary,
  mapBinary,
  PACKET_TYPES,
  toBuffer,
} from "./packet";

export const protocol = 3;

const PACKET_CODES: Record<string, number> = {
  open: 0,
  close: 1,
  ping: 2,
  pong: 3,
  message: 4,
  upgrade: 5,
  noop: 6,
};

const CHAR_COLON = 58;
const STRING_MARKER = 0;
const BINARY_MARKER = 1;
const LENGTH_END = 255;

type PayloadCallback = (packet: Packet, index: number, total: number) => boolean | void;

/**
 * Decodes UTF-8 as v3 peers do: an encoded surrogate code point (what a lone
 * surrogate becomes in lenient encoders) reads as U+FFFD, any other malformed
 * sequence makes the whole string invalid (null).
 */
function utf8String(bytes: Buffer): string | null {
  const fast = bytes.toString("utf8");
  // U+FFFD in the output is either genuine or a decoding failure: only the
  // latter needs the careful byte-by-byte pass.
  if (fast.indexOf("\uFFFD") === -1) return fast;
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let c: number;
    let extra: number;
    let min: number;
    if (b < 0x80) {
      c = b;
      extra = 0;
      min = 0;
    } else if (b >= 0xc2 && b <= 0xdf) {
      c = b & 0x1f;
      extra = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      c = b & 0x0f;
      extra = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      c = b & 0x07;
      extra = 3;
      min = 0x10000;
    } else {
      return null;
    }
    if (i + extra >= bytes.length) return null;
    for (let k = 1; k <= extra; k++) {
      const cont = bytes[i + k];
      if ((cont & 0xc0) !== 0x80) return null;
      c = (c << 6) | (cont & 0x3f);
    }
    if (c < min || c > 0x10ffff) return null;
    out += c >= 0xd800 && c <= 0xdfff ? "\uFFFD" : String.fromCodePoint(c);
    i += extra + 1;
  }
  return out;
}

function decodeString(data: string, binaryType: BinaryType | undefined, utf8decode: boolean): Packet {
  if (data.charCodeAt(0) === CHAR_B) return decodeBase64Packet(data.substring(1), binaryType);
  if (utf8decode) {
    // A "binary string" carries one byte per character.
    for (let i = 0; i < data.length; i++) if (data.charCodeAt(i) > 0xff) return errorPacket();
    const decoded = utf8String(Buffer.from(data, "latin1"));
    if (decoded === null) return errorPacket();
    data = decoded;
  }
  const type = PACKET_TYPES[data.charCodeAt(0) - CHAR_ZERO];
  if (type === undefined) return errorPacket();
  return data.length > 1 ? { type, data: data.substring(1) } : { type };
}

function decodeBinary(bytes: Buffer, binaryType?: BinaryType): Packet {
  const type = PACKET_TYPES[bytes[0]];
  if (type === undefined) return errorPacket();
  return { type, data: mapBinary(bytes.subarray(1), binaryType) };
}

function stringData(data: unknown): string {
  return data === undefined ? "" : String(data);
}

/**
 * Encodes one packet. Binary data becomes a Buffer (type byte + bytes) when
 * `supportsBinary` is true, else "b" + type digit + base64. With `utf8encode`
 * string packets come out as a "binary string" (one UTF-8 byte per character).
 *
 * @example
 * encodePacket({ type: "message", data: "hello" }, true, false, (encoded) => ws.send(encoded)); // "4hello"
 */
export function encodePacket(
  packet: Packet,
  supportsBinary: boolean,
  utf8encode: boolean,
  callback: (encoded: string | Buffer) => void,
): void;
export function encodePacket(
  packet: Packet,
  supportsBinary: boolean,
  callback: (encoded: string | Buffer) => void,
): void;
export function encodePacket(packet: Packet, callback: (encoded: string | Buffer) => void): void;
export function encodePacket(
  packet: Packet,
  supportsBinary: boolean | ((encoded: string | Buffer) => void),
  utf8encode?: boolean | ((encoded: string | Buffer) => void),
  callback?: (encoded: string | Buffer) => void,
): void {
  // The reference accepts the callback in any trailing position.
  if (typeof supportsBinary === "function") {
    callback = supportsBinary;
    supportsBinary = false;
  } else if (typeof utf8encode === "function") {
    callback = utf8encode;
    utf8encode = false;
  }
  (callback as (encoded: string | Buffer) => void)(
    encodePacketSync(packet, supportsBinary, utf8encode === true),
  );
}

/**
 * Synchronous form of {@link encodePacket}.
 *
 * @example
 * encodePacketSync({ type: "message", data: "hello" }, true, false); // "4hello"
 */
export function encodePacketSync(
  packet: Packet,
  supportsBinary: boolean,
  utf8encode: boolean,
): string | Buffer {
  const data = packet.data;
  if (isBinary(data)) {
    if (!supportsBinary) return base64Packet(packet.type, toBuffer(data));
    const bytes = toBuffer(data);
    const out = Buffer.allocUnsafe(bytes.length + 1);
    out[0] = PACKET_CODES[packet.type];
    bytes.copy(out, 1);
    return out;
  }
  const text = stringData(data);
  return PACKET_CODES[packet.type] + (utf8encode ? Buffer.from(text, "utf8").toString("latin1") : text);
}

function base64Packet(type: PacketType, bytes: Buffer): string {
  return "b" + PACKET_CODES[type] + bytes.toString("base64");
}

/**
 * Encodes a packet in the text form for binary data: "b" + type digit + base64
 * (string data is base64-encoded from its UTF-8 bytes).
 *
 * @example
 * encodeBase64Packet({ type: "message", data: Buffer.from([1, 2]) }, (s) => s); // "b4AQI="
 */
export function encodeBase64Packet(packet: Packet, callback: (encoded: string) => void): void {
  const data = packet.data;
  callback(
    base64Packet(packet.type, isBinary(data) ? toBuffer(data) : Buffer.from(stringData(data), "utf8")),
  );
}

/**
 * Decodes one packet: a string ("4hello", "b4AQI="), or a binary WebSocket
 * frame whose first byte is the type. With `utf8decode` a string input is read
 * as a UTF-8 "binary string". Invalid input yields the error packet, never throws.
 *
 * @example
 * decodePacket(Buffer.from([4, 1, 2])); // { type: "message", data: <Buffer 01 02> }
 */
export function decodePacket(
  data: string | Buffer | ArrayBuffer,
  binaryType?: BinaryType,
  utf8decode?: boolean,
): Packet {
  if (typeof data === "string") return decodeString(data, binaryType, utf8decode === true);
  if (isBinary(data)) return decodeBinary(toBuffer(data), binaryType);
  return errorPacket();
}

/**
 * Decodes the text form of a binary packet, without its leading "b":
 * type digit + base64.
 *
 * @example
 * decodeBase64Packet("4AQI="); // { type: "message", data: <Buffer 01 02> }
 */
export function decodeBase64Packet(msg: string, binaryType?: BinaryType): Packet {
  const type = PACKET_TYPES[msg.charCodeAt(0) - CHAR_ZERO];
  if (type === undefined) return errorPacket();
  const body = msg.substring(1);
  if (body.length % 4 === 1 || !BASE64.test(body)) return errorPacket();
  if (body.indexOf("=") !== -1 && body.length % 4 !== 0) return errorPacket();
  return { type, data: mapBinary(Buffer.from(body, "base64"), binaryType) };
}

/**
 * Encodes packets into one long-polling payload: a string of
 * `<length>:<packet>` frames, or a binary payload when `supportsBinary` is
 * true and some packet carries binary data. No packets encode as "0:".
 *
 * @example
 * encodePayload([{ type: "message", data: "a" }, { type: "ping" }], false, (p) => p); // "2:4a1:2"
 */
export function encodePayload(
  packets: Packet[],
  supportsBinary: boolean,
  callback: (data: string | Buffer) => void,
): void;
export function encodePayload(packets: Packet[], callback: (data: string | Buffer) => void): void;
export function encodePayload(
  packets: Packet[],
  supportsBinary: boolean | ((data: string | Buffer) => void),
  callback?: (data: string | Buffer) => void,
): void {
  if (typeof supportsBinary === "function") {
    callback = supportsBinary;
    supportsBinary = false;
  }
  (callback as (data: string | Buffer) => void)(encodePayloadSync(packets, supportsBinary));
}

/**
 * Synchronous form of {@link encodePayload}.
 *
 * @example
 * encodePayloadSync([{ type: "message", data: "a" }, { type: "ping" }], false); // "2:4a1:2"
 */
export function encodePayloadSync(packets: Packet[], supportsBinary: boolean): string | Buffer {
  if (supportsBinary && hasBinary(packets)) return encodeBinaryPayload(packets);
  if (packets.length === 0) return "0:";
  let payload = "";
  for (let i = 0; i < packets.length; i++) {
    const encoded = encodePacketSync(packets[i], false, false) as string;
    payload += encoded.length + ":" + encoded;
  }
  return payload;
}

function hasBinary(packets: Packet[]): boolean {
  for (let i = 0; i < packets.length; i++) if (isBinary(packets[i].data)) return true;
  return false;
}

function digitCount(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

function writeLength(out: Buffer, offset: number, length: number): number {
  const digits = digitCount(length);
  for (let k = digits - 1; k >= 0; k--) {
    out[offset + k] = length % 10;
    length = Math.floor(length / 10);
  }
  out[offset + digits] = LENGTH_END;
  return offset + digits + 1;
}

// Two passes (sizes, then writes) so the whole payload is one allocation.
function encodeBinaryPayload(packets: Packet[]): Buffer {
  let total = 0;
  for (let i = 0; i < packets.length; i++) {
    const length = frameLength(packets[i]);
    total += 2 + digitCount(length) + length;
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < packets.length; i++) {
    const packet = packets[i];
    const data = packet.data;
    if (isBinary(data)) {
      const bytes = toBuffer(data);
      out[offset++] = BINARY_MARKER;
      offset = writeLength(out, offset, bytes.length + 1);
      out[offset++] = PACKET_CODES[packet.type];
      offset += bytes.copy(out, offset);
    } else {
      const text = stringData(data);
      out[offset++] = STRING_MARKER;
      offset = writeLength(out, offset, 1 + Buffer.byteLength(text));
      out[offset++] = CHAR_ZERO + PACKET_CODES[packet.type];
      offset += out.write(text, offset, "utf8");
    }
  }
  return out;
}

function frameLength(packet: Packet): number {
  const data = packet.data;
  return 1 + (isBinary(data) ? data.byteLength : Buffer.byteLength(stringData(data)));
}

/**
 * Decodes a long-polling payload (string or binary), calling `callback` for
 * each packet with the offset just past it and the payload length; returning
 * false from the callback stops decoding. Decoding stops at the first invalid
 * frame or packet, reported as `{ type: "error", data: "parser error" }` with
 * index 0 and total 1. Never throws.
 *
 * @example
 * decodePayload("2:4a1:2", undefined, (packet) => { handle(packet); });
 */
export function decodePayload(
  data: string | Buffer,
  binaryType: BinaryType | undefined,
  callback: PayloadCallback,
): void;
export function decodePayload(data: string | Buffer, callback: PayloadCallback): void;
export function decodePayload(
  data: string | Buffer,
  binaryType: BinaryType | undefined | PayloadCallback,
  callback?: PayloadCallback,
): void {
  if (typeof binaryType === "function") {
    callback = binaryType;
    binaryType = undefined;
  }
  const done = callback as PayloadCallback;
  if (typeof data === "string") return decodeStringPayload(data, binaryType, done);
  if (isBinary(data)) return decodeBinaryPayload(toBuffer(data), binaryType, done);
  done(errorPacket(), 0, 1);
}

function decodeStringPayload(
  data: string,
  binaryType: BinaryType | undefined,
  callback: PayloadCallback,
): void {
  if (data.length === 0) {
    callback(errorPacket(), 0, 1);
    return;
  }
  const total = data.length;
  let i = 0;
  while (i < total) {
    let length = 0;
    const start = i;
    for (;;) {
      if (i >= total) {
        callback(errorPacket(), 0, 1);
        return;
      }
      const c = data.charCodeAt(i++);
      if (c === CHAR_COLON) break;
      const digit = c - CHAR_ZERO;
      if (digit < 0 || digit > 9) {
        callback(errorPacket(), 0, 1);
        return;
      }
      length = length * 10 + digit;
    }
    if (i - 1 === start || i + length > total) {
      callback(errorPacket(), 0, 1);
      return;
    }
    // A zero length frame carries no packet: "0:" is the empty payload.
    if (length > 0) {
      const packet = decodeString(data.substring(i, i + length), binaryType, false);
      if (packet.type === "error") {
        callback(packet, 0, 1);
        return;
      }
      if (callback(packet, i + length, total) === false) return;
    }
    i += length;
  }
}

function decodeBinaryPayload(
  data: Buffer,
  binaryType: BinaryType | undefined,
  callback: PayloadCallback,
): void {
  const total = data.length;
  if (total === 0) {
    callback(errorPacket(), 0, 1);
    return;
  }
  let i = 0;
  while (i < total) {
    const marker = data[i++];
    if (marker !== STRING_MARKER && marker !== BINARY_MARKER) {
      callback(errorPacket(), 0, 1);
      return;
    }
    let length = 0;
    const start = i;
    for (;;) {
      if (i >= total) {
        callback(errorPacket(), 0, 1);
        return;
      }
      const b = data[i++];
      if (b === LENGTH_END) break;
      if (b > 9) {
        callback(errorPacket(), 0, 1);
        return;
      }
      length = length * 10 + b;
    }
    if (i - 1 === start || length === 0 || i + length > total) {
      callback(errorPacket(), 0, 1);
      return;
    }
    const frame = data.subarray(i, i + length);
    let packet: Packet;
    if (marker === BINARY_MARKER) {
      packet = decodeBinary(frame, binaryType);
    } else {
      const text = utf8String(frame);
      packet = text === null ? errorPacket() : decodeString(text, binaryType, false);
    }
    if (packet.type === "error") {
      callback(packet, 0, 1);
      return;
    }
    i += length;
    if (callback(packet, i, total) === false) return;
  }
}
