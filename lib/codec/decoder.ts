/**
 * The Socket.IO packet decoder (same API as socket.io-parser v4's Decoder), and the
 * validation of decoded packets.
 */
import { EventEmitter } from "events";
import debugModule from "debug";
import { codedError } from "../errors";
import { MAX_DEPTH, isBinary, reconstruct } from "./binary";
import { Packet, PacketType, RESERVED_EVENTS, Reviver } from "./packet";

const debug = debugModule("socket.io-parser");

export interface DecoderOptions {
  /** Passed down to `JSON.parse()`. */
  reviver?: Reviver;
  /** Most attachments a single packet may announce (default 10). */
  maxAttachments?: number;
}

/** The default bound on the attachments one packet may announce. */
export const DEFAULT_MAX_ATTACHMENTS = 10;
const CHAR_0 = 48;
const CHAR_9 = 57;
const CHAR_DASH = 45;
const CHAR_SLASH = 47;

/**
 * Decodes packets chunk by chunk. Emits "decoded" with each complete packet; BINARY_EVENT
 * and BINARY_ACK packets are emitted once all their attachments arrived, with the binary
 * values back in place and their type reported as EVENT / ACK. A payload nested deeper
 * than {@link MAX_DEPTH} levels is rejected ("payload too deep").
 */
export class Decoder extends EventEmitter {
  private readonly reviver?: Reviver;
  private readonly maxAttachments: number;
  private pending: Packet | null = null;
  private expected = 0;
  private buffers: unknown[] = [];

  /**
   * @param opts a `JSON.parse` reviver, or options
   * @example
   * const decoder = new Decoder({ maxAttachments: 5 });
   */
  constructor(opts?: DecoderOptions | Reviver) {
    super();
    if (typeof opts === "function") {
      this.reviver = opts;
      this.maxAttachments = DEFAULT_MAX_ATTACHMENTS;
    } else {
      this.reviver = opts?.reviver;
      this.maxAttachments = opts?.maxAttachments ?? DEFAULT_MAX_ATTACHMENTS;
    }
  }

  /**
   * Feeds one chunk: the text of a packet, or one binary attachment.
   *
   * @throws Error on any invalid input; the decoder stays usable afterwards
   * @example
   * decoder.on("decoded", (packet) => console.log(packet));
   * decoder.add('2["hello","world"]'); // { type: 2, nsp: "/", data: ["hello", "world"] }
   */
  add(obj: any): void {
    if (typeof obj === "string") {
      if (this.pending !== null) {
        throw codedError("SIO_ERR_UNEXPECTED_TEXT");
      }
      const packet = decodeText(obj, this.reviver, this.maxAttachments);
      if (packet.type === PacketType.BINARY_EVENT || packet.type === PacketType.BINARY_ACK) {
        this.expected = packet.attachments as number;
        delete packet.attachments;
        packet.type = packet.type === PacketType.BINARY_EVENT ? PacketType.EVENT : PacketType.ACK;
        this.pending = packet;
        return;
      }
      this.emit("decoded", packet);
    } else if (isBinary(obj) || isBase64Attachment(obj)) {
      const packet = this.pending;
      if (packet === null) {
        throw codedError("SIO_ERR_UNEXPECTED_BINARY");
      }
      this.buffers.push(obj);
      if (this.buffers.length < this.expected) {
        return;
      }
      const buffers = this.buffers;
      this.reset();
      if (packet.data !== undefined) {
        packet.data = reconstruct(packet.data, buffers);
      }
      this.emit("decoded", packet);
    } else {
      throw codedError("SIO_ERR_UNKNOWN_CHUNK", describe(obj));
    }
  }

  /**
   * Drops any packet waiting for its attachments (called when the connection closes).
   *
   * @example
   * decoder.destroy();
   */
  destroy(): void {
    this.reset();
  }

  private reset(): void {
    this.pending = null;
    this.expected = 0;
    this.buffers = [];
  }
}

/**
 * Decodes the text of one packet, with no state: a BINARY_EVENT or BINARY_ACK comes back
 * with its `attachments` count, still waiting for them. The server calls it directly for
 * the text packets of clients using the default parser, which then need no Decoder of
 * their own (see `client.ts`).
 *
 * @throws Error on any invalid input
 * @example
 * decodeText('2["hello"]', undefined, 10); // { type: 2, nsp: "/", data: ["hello"] }
 */
export function decodeText(str: string, reviver: Reviver | undefined, maxAttachments: number): Packet {
  const len = str.length;
  const type = str.charCodeAt(0) - CHAR_0;
  if (!(type >= PacketType.CONNECT && type <= PacketType.BINARY_ACK)) {
    throw codedError("SIO_ERR_UNKNOWN_PACKET_TYPE", str.charAt(0));
  }
  const packet: Packet = { type, nsp: "/" };
  let i = 1;

  if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
    const start = i;
    i = skipDigits(str, i);
    if (i === start || str.charCodeAt(i) !== CHAR_DASH) {
      throw codedError("SIO_ERR_ILLEGAL_ATTACHMENTS");
    }
    const attachments = Number(str.slice(start, i));
    if (attachments === 0) {
      throw codedError("SIO_ERR_ILLEGAL_ATTACHMENTS");
    }
    if (attachments > maxAttachments) {
      throw codedError("SIO_ERR_TOO_MANY_ATTACHMENTS");
    }
    packet.attachments = attachments;
    i++;
  }

  if (str.charCodeAt(i) === CHAR_SLASH) {
    // the namespace may carry a "?query" (socket.io v2 clients), kept for the server to split
    const comma = str.indexOf(",", i);
    const end = comma === -1 ? len : comma;
    packet.nsp = str.slice(i, end);
    i = comma === -1 ? len : comma + 1;
  }

  const idStart = i;
  i = skipDigits(str, i);
  if (i > idStart) {
    const id = Number(str.slice(idStart, i));
    if (!Number.isSafeInteger(id)) {
      throw codedError("SIO_ERR_INVALID_ACK_ID");
    }
    packet.id = id;
  }

  let payload: unknown;
  if (i < len) {
    try {
      payload = JSON.parse(str.slice(i), reviver);
    } catch {
      throw codedError("SIO_ERR_INVALID_PAYLOAD");
    }
    // a JSON text needs two characters per level: shorter ones cannot be too deep
    if (len - i > 2 * MAX_DEPTH && deeperThan(payload, MAX_DEPTH)) {
      throw codedError("SIO_ERR_PAYLOAD_TOO_DEEP");
    }
  }
  if (!isPayloadValid(type, payload)) {
    throw codedError("SIO_ERR_INVALID_PAYLOAD");
  }
  if (payload !== undefined) {
    packet.data = payload;
  }
  if (debug.enabled) debug("decoded %s as %j", str, packet);
  return packet;
}

/**
 * Whether the text opens a BINARY_EVENT or BINARY_ACK, which waits for its attachments.
 *
 * @example
 * isBinaryHeader('51-["f",{"_placeholder":true,"num":0}]'); // true
 */
export function isBinaryHeader(str: string): boolean {
  const type = str.charCodeAt(0) - CHAR_0;
  return type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK;
}

/**
 * Whether `value` (freshly parsed JSON) nests more than `max` arrays or objects. Walks
 * one level at a time, without recursion: JSON.parse itself builds any depth without
 * overflowing the stack, so the check runs on its result. Each level collects the
 * containers of the next one: flat data costs one pass and no list at all.
 */
function deeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== "object") {
    return false;
  }
  let level: object[] = [value];
  for (let depth = 1; ; depth++) {
    let next: object[] | null = null;
    for (let n = 0; n < level.length; n++) {
      const node = level[n] as Record<string, unknown>;
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) {
          const child: unknown = node[i];
          if (child !== null && typeof child === "object") {
            (next || (next = [])).push(child);
          }
        }
      } else {
        for (const key in node) {
          const child = node[key];
          if (child !== null && typeof child === "object") {
            (next || (next = [])).push(child);
          }
        }
      }
    }
    if (next === null) {
      return false;
    }
    if (depth === max) {
      return true;
    }
    level = next;
  }
}

function skipDigits(str: string, i: number): number {
  let code = str.charCodeAt(i);
  while (code >= CHAR_0 && code <= CHAR_9) {
    code = str.charCodeAt(++i);
  }
  return i;
}

function isObject(value: unknown): boolean {
  return Object.prototype.toString.call(value) === "[object Object]";
}

function isEventPayload(payload: unknown): boolean {
  if (!Array.isArray(payload)) {
    return false;
  }
  const name: unknown = payload[0];
  return typeof name === "number" || (typeof name === "string" && !RESERVED_EVENTS.has(name));
}

function isPayloadValid(type: PacketType, payload: unknown): boolean {
  switch (type) {
    case PacketType.CONNECT:
      return payload === undefined || isObject(payload);
    case PacketType.DISCONNECT:
      return payload === undefined;
    case PacketType.CONNECT_ERROR:
      return typeof payload === "string" || isObject(payload);
    case PacketType.EVENT:
    case PacketType.BINARY_EVENT:
      return isEventPayload(payload);
    case PacketType.ACK:
    case PacketType.BINARY_ACK:
      return Array.isArray(payload);
    default:
      return false;
  }
}

// attachments of clients without binary support arrive as { base64: true, data: "..." }
function isBase64Attachment(obj: unknown): boolean {
  return obj !== null && typeof obj === "object" && (obj as { base64?: unknown }).base64 === true;
}

function describe(value: unknown): string {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return String(value);
  }
  return Object.prototype.toString.call(value);
}

/**
 * Whether a decoded packet (types CONNECT to CONNECT_ERROR, as emitted by the Decoder)
 * is well formed: namespace string, integer ack id if any, data of the type's shape.
 *
 * @example
 * isPacketValid({ type: PacketType.EVENT, nsp: "/", data: ["hello"] }); // true
 * isPacketValid({ type: PacketType.EVENT, nsp: "/", data: [] }); // false
 */
export function isPacketValid(packet: Packet): boolean {
  if (packet === null || typeof packet !== "object") {
    return false;
  }
  if (typeof packet.nsp !== "string") {
    return false;
  }
  if (packet.id !== undefined && !Number.isInteger(packet.id)) {
    return false;
  }
  switch (packet.type) {
    case PacketType.CONNECT:
    case PacketType.DISCONNECT:
    case PacketType.EVENT:
    case PacketType.ACK:
    case PacketType.CONNECT_ERROR:
      return isPayloadValid(packet.type, packet.data);
    default:
      return false;
  }
}
