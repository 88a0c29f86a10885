/**
 * What the Engine.IO v4 and v3 codecs share: the packet, the type digits, the
 * error packet, base64 validation and the views over binary values.
 */
import type { WsPreEncodedFrame } from "../ws-frame";

export type PacketType = "open" | "close" | "ping" | "pong" | "message" | "upgrade" | "noop" | "error";

export type RawData = string | Buffer | ArrayBuffer | ArrayBufferView;

export interface PacketOptions {
  compress?: boolean;
  /** may be dropped rather than queued when the client is over `maxBufferedAmount` */
  volatile?: boolean;
  /** the complete WebSocket frame of the packet, sent as it is by the WebSocket transport */
  wsPreEncodedFrame?: WsPreEncodedFrame;
}

export interface Packet {
  type: PacketType;
  data?: RawData;
  options?: PacketOptions;
}

export type BinaryType = "nodebuffer" | "arraybuffer";

// Indexed by the char code of the type digit minus CHAR_ZERO, so decoding needs
// no string allocation for the lookup.
export const PACKET_TYPES: readonly PacketType[] = [
  "open",
  "close",
  "ping",
  "pong",
  "message",
  "upgrade",
  "noop",
];

export const CHAR_ZERO = 48;
export const CHAR_B = 98;

// Standard alphabet, optional padding; Buffer.from() silently skips invalid
// characters, so validity has to be checked up front.
export const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export type Binary = Buffer | ArrayBuffer | ArrayBufferView;

/** A fresh object per failure: callers may mutate the packets they receive. */
export function errorPacket(): Packet {
  return { type: "error", data: "parser error" };
}

export function isBinary(data: unknown): data is Binary {
  return ArrayBuffer.isView(data) || data instanceof ArrayBuffer;
}

/** Views the bytes of any binary value as a Buffer, without copying. */
export function toBuffer(data: Binary): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Copies exactly the viewed bytes into a standalone ArrayBuffer. */
export function toArrayBuffer(data: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  if (data instanceof ArrayBuffer) return data;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

/** Binary data as the caller asked for it: a Buffer, or an ArrayBuffer. */
export function mapBinary(data: Binary, binaryType?: BinaryType): Buffer | ArrayBuffer {
  return binaryType === "arraybuffer" ? toArrayBuffer(data) : toBuffer(data);
}
