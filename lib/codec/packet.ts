/**
 * The Socket.IO packet (protocol v5) as the encoder takes it and the decoder gives it.
 *
 * Text format: `<type>[<attachments>-][<nsp>,][<ack id>][JSON payload]`, the namespace
 * being omitted when it is "/", followed by the binary attachments for BINARY_* packets.
 */
import type { BinaryData } from "./binary";

/** Socket.IO protocol revision implemented here. */
export const protocol = 5;

export enum PacketType {
  CONNECT,
  DISCONNECT,
  EVENT,
  ACK,
  CONNECT_ERROR,
  BINARY_EVENT,
  BINARY_ACK,
}

export interface Packet {
  type: PacketType;
  nsp: string;
  data?: any;
  id?: number;
  attachments?: number;
}

/** A `JSON.stringify` replacer. */
export type Replacer = (this: any, key: string, value: any) => any;
/** A `JSON.parse` reviver. */
export type Reviver = (this: any, key: string, value: any) => any;

/** One encoded packet: the text part, then the attachments of a BINARY_* packet. */
export type EncodedPacket = Array<string | BinaryData>;

/** What the server needs of a packet encoder: the default one, or a custom parser's. */
export interface PacketEncoder {
  /** The chunks to write: the text (or the bytes) of the packet, then its attachments. */
  encode(packet: Packet): EncodedPacket;
}

/** What the server needs of a packet decoder: the default one, or a custom parser's. */
export interface PacketDecoder {
  /** Feeds one chunk received from the client; throws on invalid input. */
  add(chunk: unknown): void;
  /** Drops a packet still waiting for its attachments. */
  destroy(): void;
  on(event: "decoded", listener: (packet: Packet) => void): unknown;
  removeListener(event: "decoded", listener: (packet: Packet) => void): unknown;
}

/** Names with a meaning of their own for the event emitters on both sides. */
export const RESERVED_EVENTS: ReadonlySet<string | symbol> = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);
