/**
 * The Engine.IO protocol revisions a session may speak, each as one codec object:
 * a transport picks its codec once, from the handshake's `EIO` query parameter,
 * and every difference between v3 (socket.io v2 clients, behind `allowEIO3`) and
 * v4 goes through it.
 */
import type { Packet, RawData } from "./packet";
import * as v4 from "./v4";
import * as v3 from "./v3";

/** Engine.IO protocol revision. */
export type ProtocolRevision = 3 | 4;

export interface EngineCodec {
  readonly protocol: ProtocolRevision;
  /** whether the client sends the pings and the server answers (v3), rather than the reverse */
  readonly clientPings: boolean;
  /** whether a polling POST may carry a binary payload (application/octet-stream) */
  readonly binaryPayloads: boolean;
  /** Decodes one WebSocket message; invalid input is the error packet, never a throw. */
  decodePacket(data: RawData): Packet;
  /** Encodes one packet for a WebSocket message (binary data as raw bytes when `supportsBinary`). */
  encodePacket(packet: Packet, supportsBinary: boolean): string | Buffer;
  /** Encodes the packets of one polling response. */
  encodePayload(packets: Packet[], supportsBinary: boolean): string | Buffer;
  /**
   * Decodes a polling POST body, calling `onPacket` for each packet until it returns
   * false; decoding stops at the first invalid packet, handed over as the error packet.
   */
  decodePayload(data: string | Buffer, onPacket: (packet: Packet) => boolean | void): void;
}

const V4: EngineCodec = {
  protocol: 4,
  clientPings: false,
  binaryPayloads: false,
  decodePacket: v4.decodePacket,
  encodePacket: v4.encodePacketSync,
  encodePayload: v4.encodePayloadSync,
  decodePayload(data, onPacket) {
    const packets = v4.decodePayload(data as string);
    for (let i = 0; i < packets.length; i++) {
      if (onPacket(packets[i]) === false) {
        return;
      }
    }
  },
};

const V3: EngineCodec = {
  protocol: 3,
  clientPings: true,
  binaryPayloads: true,
  decodePacket: (data) => v3.decodePacket(data as string | Buffer),
  encodePacket: (packet, supportsBinary) => v3.encodePacketSync(packet, supportsBinary, false),
  encodePayload: v3.encodePayloadSync,
  decodePayload: (data, onPacket) => v3.decodePayload(data, undefined, onPacket),
};

/**
 * The revision a request asks for: "4" is v4, anything else (absent included) v3, as
 * with the reference; whether v3 is accepted is the server's decision (`allowEIO3`).
 *
 * @example
 * protocolOf({ EIO: "4", transport: "polling" }); // 4
 */
export function protocolOf(query: Record<string, string>): ProtocolRevision {
  return query.EIO === "4" ? 4 : 3;
}

/**
 * The codec of a protocol revision.
 *
 * @example
 * codecFor(4).encodePacket({ type: "message", data: "hi" }, true); // "4hi"
 */
export function codecFor(protocol: ProtocolRevision): EngineCodec {
  return protocol === 4 ? V4 : V3;
}
