/**
 * Base class of the server-side transports (HTTP long-polling, WebSocket).
 *
 * A transport turns wire data into packets ("packet" events) and packets into
 * wire data (`send`). It reports to its owner (the engine Socket of the session) by a
 * direct call, then emits the same event ("packet", "drain", "ready", "error", "close",
 * "headers") for whoever else listens: a session holds no listener on its transport, so
 * a long-lived transport has no listener table at all.
 */
import { EventEmitter } from "events";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "http";
import type { WebSocket } from "ws";
import debugModule from "debug";
import type { CodedError } from "../errors";
import { codecFor, protocolOf } from "./codec";
import { releaseListenerTable } from "./listener-table";
import type { EngineCodec, ProtocolRevision } from "./codec";
import type { Packet, RawData } from "./codec/packet";

const debug = debugModule("engine:transport");

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
}

export type ReadyState = "open" | "closing" | "closed";

/** Error emitted by a transport: `type` is always "TransportError", `code` one of the catalog's EIO_ERR_*. */
export interface TransportError extends CodedError {
  type: "TransportError";
  description?: unknown;
}

function noop(): void {}

/**
 * What a transport reports to the session using it: the engine Socket.
 *
 * @internal
 */
export interface TransportOwner {
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
   * The session this transport serves, while it does.
   *
   * @internal
   */
  _owner: TransportOwner | null = null;

  constructor(req: EngineRequest) {
    super();
    releaseListenerTable(this);
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
    const owner = this._owner;
    const listened = this.listenerCount("error") > 0;
    // without an owner nor a listener the session is already gone: report, never throw
    if (owner === null && !listened) {
      debug("ignored transport error %s (%s)", error.message, description);
      return;
    }
    const err = error as TransportError;
    err.type = "TransportError";
    err.description = description;
    if (owner !== null) {
      owner._onTransportError(err);
    }
    if (listened) {
      this.emit("error", err);
    }
  }

  protected onPacket(packet: Packet): void {
    const owner = this._owner;
    if (owner !== null) {
      owner._onTransportPacket(packet);
    }
    this.emit("packet", packet);
  }

  /** The transport may take packets again (`send`). */
  protected onReady(): void {
    const owner = this._owner;
    if (owner !== null) {
      owner._onTransportReady();
    }
    this.emit("ready");
  }

  /** What was handed to `send` has been written. */
  protected onDrain(): void {
    const owner = this._owner;
    if (owner !== null) {
      owner._onTransportDrain();
    }
    this.emit("drain");
  }

  /** Decodes one packet of wire data (a WebSocket message). */
  protected onData(data: RawData): void {
    this.onPacket(this.codec.decodePacket(data));
  }

  protected onClose(): void {
    this.readyState = "closed";
    const owner = this._owner;
    if (owner !== null) {
      owner._onTransportClose();
    }
    this.emit("close");
  }
}
