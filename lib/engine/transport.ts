/**
 * Base class of the server-side transports (HTTP long-polling, WebSocket).
 *
 * A transport turns wire data into packets ("packet" events) and packets into
 * wire data (`send`), and reports its state with events ("drain", "ready", "error",
 * "close", "headers"). The session using it listens to them as any listener does (a test
 * or a wrapper may emit them, or remove the session's listeners); its listeners are the
 * same functions for every session, which find the session through `_owner`.
 */
import { EventEmitter } from "events";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "http";
import type { WebSocket } from "ws";
import debugModule from "debug";
import type { CodedError } from "../errors";
import { codecFor, protocolOf } from "./codec";
import { listenerTables } from "./listener-table";
import type { EngineCodec, ProtocolRevision } from "./codec";
import type { Packet, RawData } from "./codec/packet";

const debug = debugModule("engine:transport");

/**
 * Gives a transport without listeners a compact listener table (see listener-table.ts):
 * at its creation, and again when the listeners of an upgrade have all been removed.
 *
 * @internal
 */
export const compactTransportTable = listenerTables();

/**
 * An HTTP request as seen by the engine: `_query` is the parsed query string,
 * set before any engine logic runs.
 */
export interface EngineRequest extends IncomingMessage {
  _query: Record<string, string>;
  /** the response of a polling request, handed from the server to the transport */
  res?: ServerResponse | null;
  /** the accepted WebSocket of an upgrade request */
  websocket?: WebSocket;
  /**
   * The place a handshake holds among the sessions of its address (`addressLimits`) until
   * its session opens: `release` frees it, called on the "close" of `target` (the response
   * of a polling handshake, the socket of an upgrade).
   *
   * @internal
   */
  _addressHold?: { readonly target: NodeJS.EventEmitter; readonly release: () => void };
}

export type ReadyState = "open" | "closing" | "closed";

/** Error emitted by a transport: `type` is always "TransportError", `code` one of the catalog's EIO_ERR_*. */
export interface TransportError extends CodedError {
  type: "TransportError";
  description?: unknown;
}

function noop(): void {}

/**
 * The traffic counters of the engine Server, which the transports of its sessions add to.
 *
 * @internal
 */
export interface TrafficCounters {
  packetsReceivedCount: number;
  packetsSentCount: number;
  bytesReceivedCount: number;
  bytesSentCount: number;
  retriedPollsCount: number;
}

/**
 * The session a transport serves, as its listeners see it: the engine Socket.
 *
 * @internal
 */
export interface TransportOwner {
  readonly server: TrafficCounters;
  _onTransportPacket(packet: Packet): void;
  _onTransportReady(): void;
  _onTransportDrain(): void;
  _onTransportError(err: TransportError): void;
  _onTransportClose(): void;
  _onTransportHeaders(headers: OutgoingHttpHeaders, req: EngineRequest): void;
}

export abstract class Transport extends EventEmitter {
  /** session id, set by the owning socket */
  sid = "";
  /** whether `send()` may be called now */
  writable = false;
  /** Engine.IO protocol revision of the client (3 or 4) */
  readonly protocol: ProtocolRevision;
  /** false when the client asked for base64-encoded binary (`b64=1`, v3) */
  supportsBinary: boolean;
  /** set when the transport is being replaced by an upgrade */
  discarded = false;
  readyState: ReadyState = "open";
  /**
   * The session this transport serves or served, for the session's listeners (shared by all
   * sessions) to find it; it stays after the session lets go, as the listener of the
   * "headers" event does.
   *
   * @internal
   */
  _owner: TransportOwner | null = null;

  constructor(req: EngineRequest) {
    super();
    compactTransportTable(this);
    this.protocol = protocolOf(req._query);
    this.supportsBinary = !req._query.b64;
  }

  /** the codec of the revision: every v3/v4 difference goes through it */
  get codec(): EngineCodec {
    return codecFor(this.protocol);
  }

  /** "polling" or "websocket" */
  abstract get name(): string;

  /**
   * Bytes handed to this transport and not yet flushed to the network: nothing
   * for polling (a payload leaves with its response), what `ws` and the TCP
   * stream still hold for WebSocket.
   */
  get bufferedAmount(): number {
    return 0;
  }

  /** Writes packets to the wire; only valid while `writable`. */
  abstract send(packets: Packet[]): void;

  protected abstract doClose(fn: () => void): void;

  /** whether this transport is created from an HTTP upgrade */
  get handlesUpgrades(): boolean {
    return false;
  }

  /** Marks the transport as replaced, so closing it does not wait for the client. */
  discard(): void {
    this.discarded = true;
  }

  /**
   * Closes the transport at once, dropping whatever it still buffers: used for a
   * client that does not read what is sent to it.
   *
   * @example
   * transport.abort();
   */
  abort(): void {
    this.discard();
    this.close();
  }

  /** Handles a new HTTP request of this session (polling only). */
  onRequest(_req: EngineRequest): void {}

  /**
   * Closes the transport; `fn` runs once it is closed.
   *
   * @example
   * transport.close(() => console.log("closed"));
   */
  close(fn?: () => void): void {
    if (this.readyState === "closed" || this.readyState === "closing") {
      return;
    }
    this.readyState = "closing";
    this.doClose(fn || noop);
  }

  protected onError(error: CodedError, description?: unknown): void {
    // without a listener the session is already gone: report, never throw
    if (this.listenerCount("error") === 0) {
      debug("ignored transport error %s (%s)", error.message, description);
      return;
    }
    const err = error as TransportError;
    err.type = "TransportError";
    err.description = description;
    this.emit("error", err);
  }

  protected onPacket(packet: Packet): void {
    const owner = this._owner;
    if (owner !== null) {
      owner.server.packetsReceivedCount++;
    }
    this.emit("packet", packet);
  }

  /**
   * Counts `bytes` of wire data received for the session. A WebSocket being probed for an
   * upgrade serves no session yet: its traffic counts from the upgrade on.
   */
  protected countReceived(bytes: number): void {
    const owner = this._owner;
    if (owner !== null) {
      owner.server.bytesReceivedCount += bytes;
    }
  }

  /** Counts `packets` written to the client, `bytes` long (before any compression). */
  protected countSent(packets: number, bytes: number): void {
    const owner = this._owner;
    if (owner !== null) {
      const counters = owner.server;
      counters.packetsSentCount += packets;
      counters.bytesSentCount += bytes;
    }
  }

  /** The transport may take packets again (`send`). */
  protected onReady(): void {
    this.emit("ready");
  }

  /** What was handed to `send` has been written. */
  protected onDrain(): void {
    this.emit("drain");
  }

  /** Decodes one packet of wire data (a WebSocket message). */
  protected onData(data: RawData): void {
    this.onPacket(this.codec.decodePacket(data));
  }

  protected onClose(): void {
    this.readyState = "closed";
    this.emit("close");
  }
}
