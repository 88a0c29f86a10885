/**
 * The Engine.IO server: verifies requests, performs handshakes, routes polling
 * requests and WebSocket upgrades to their session.
 */
import { EventEmitter } from "events";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse, Server as HttpServer } from "http";
import type { Duplex } from "stream";
import * as qs from "querystring";
import { WebSocketServer, WebSocket as WsSocket } from "ws";
import type { ServerOptions as WsServerOptions } from "ws";
import base64id = require("base64id");
import { serialize as serializeCookie } from "cookie";
import cors, { CorsOptions, CorsOptionsDelegate } from "cors";
import debugModule from "debug";
import { Socket } from "./socket";
import { transports } from "./transports";
import type { Polling, HttpCompressionOptions } from "./transports/polling";
import type { WebSocket, PerMessageDeflateOptions } from "./transports/websocket";
import type { Transport, TransportOwner, EngineRequest } from "./transport";
import type { RawData } from "./codec/packet";
import { protocolOf } from "./codec";
import type { ProtocolRevision } from "./codec";
import {
  errors,
  errorMessages,
  abortRequest,
  abortUpgrade,
  ErrorCode,
  ErrorContext,
} from "./handshake-errors";
import { UpgradeResponse, takeResponseHeaders } from "./upgrade-response";
import { HeartbeatQueue } from "./heartbeat";
import { AddressTable, addressOf } from "./address-limits";
import type { AddressLimitsOptions } from "./address-limits";
import type { HeartbeatEntry } from "./heartbeat";
import { readInSlices } from "./read-slices";
import { Forwarding } from "./forwarding";
import type { SessionForwardingOptions } from "./forwarding";

const debug = debugModule("engine");

type OutgoingHeaders = Record<string, number | string | string[]>;

/** Decides whether a handshake is accepted: `fn(null, true)` accepts. */
export type AllowRequest = (
  req: IncomingMessage,
  fn: (err: string | null | undefined, success: boolean) => void,
) => void;

/** A connect-style middleware, run on every engine request (polling and upgrade). */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * The attributes of a Set-Cookie header, as the `cookie` package serializes
 * them. Declared here so that the package's types need no `@types/cookie`.
 */
export interface CookieSerializeOptions {
  /** the Domain attribute; by default the cookie belongs to the current domain only */
  domain?: string;
  /** encodes the value; default encodeURIComponent */
  encode?(value: string): string;
  /** the Expires attribute; by default a session cookie */
  expires?: Date;
  /** the HttpOnly attribute */
  httpOnly?: boolean;
  /** the Max-Age attribute, in seconds */
  maxAge?: number;
  /** the Partitioned attribute (CHIPS) */
  partitioned?: boolean;
  /** the Path attribute */
  path?: string;
  /** the Priority attribute */
  priority?: "low" | "medium" | "high";
  /** the SameSite attribute: true is "strict" */
  sameSite?: boolean | "lax" | "strict" | "none";
  /** the Secure attribute */
  secure?: boolean;
}

/**
 * The `cookie` option: the session id cookie set on the handshake.
 *
 * @example
 * const engine = new Server({ cookie: { name: "sid", httpOnly: true, sameSite: "strict", maxAge: 86400 } });
 */
export interface CookieOptions extends CookieSerializeOptions {
  /** name of the cookie holding the session id; default "io" */
  name?: string;
}

/** The part of a ws-compatible server the engine uses. */
export interface WsServerLike {
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (client: WsSocket, req: IncomingMessage) => void,
  ): void;
  close(): void;
  on?(event: "headers", listener: (headers: string[], req: IncomingMessage) => void): unknown;
}

export interface ServerOptions {
  /** ms without a pong (after a ping) before the session is closed; default 20000 */
  pingTimeout?: number;
  /** ms between two pings; default 25000 */
  pingInterval?: number;
  /** ms an upgrade may take; default 10000 */
  upgradeTimeout?: number;
  /**
   * Not in engine.io. ms by which pings (and ping-timeout closes) may be delayed so that
   * those due close together leave together: cheaper for a server holding many idle sessions
   * (one wake-up per window instead of one per ping). A ping then leaves up to this much
   * later than pingInterval; a client disconnects when a ping is later than its
   * pingTimeout, so the window is capped at a quarter of pingTimeout. Default 0: every ping
   * on time, as with engine.io.
   */
  pingBatchWindow?: number;
  /** max bytes of a message (WebSocket) or a POST body (polling); default 1e6 */
  maxHttpBufferSize?: number;
  /**
   * max pieces a polling POST body may arrive in: over it the request gets 413, the
   * session is closed and the request destroyed; default 10000
   */
  maxBufferedChunks?: number;
  /**
   * ms a polling POST body may take to arrive: past it the request gets 408, the
   * session is closed and the request destroyed; default 30000
   */
  httpRequestBodyTimeout?: number;
  /**
   * max bytes of memory held for what is queued for one client (its write buffer plus what
   * the transport has not flushed: each packet's bytes and the objects that hold it), not
   * counting a burst written in one go while it kept up; over it, volatile packets are
   * dropped and the client is closed with "write buffer full". Default 1e7; 0 or Infinity
   * disables the bound.
   */
  maxBufferedAmount?: number;
  allowRequest?: AllowRequest;
  /** allowed transports; default ["polling", "websocket"] */
  transports?: string[];
  /** default true */
  allowUpgrades?: boolean;
  /** WebSocket permessage-deflate; default false */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** compression of polling responses; default { threshold: 1024 } */
  httpCompression?: boolean | HttpCompressionOptions;
  /** constructor of the WebSocket server; default ws's WebSocketServer */
  wsEngine?: new (opts: WsServerOptions) => WsServerLike;
  /** a message sent right after the handshake */
  initialPacket?: RawData;
  /** a cookie holding the session id, set on the polling handshake; default false */
  cookie?: boolean | CookieOptions;
  /** options of the `cors` package; default false */
  cors?: CorsOptions | CorsOptionsDelegate;
  /** accept Engine.IO v3 clients (socket.io v2); default false */
  allowEIO3?: boolean;
  /**
   * per remote address, caps on the sessions open at once and on the rate of handshakes;
   * a handshake over them gets 429 `{"code":6,"message":"Too many requests"}`; default
   * no cap
   */
  addressLimits?: AddressLimitsOptions;
  /**
   * a request header holding the client's address, set by a proxy in front (e.g.
   * "x-forwarded-for", of which the last address is taken): the address of
   * `socket.remoteAddress` (Socket.IO: `handshake.address`) and of `addressLimits`.
   * Default none: the address of the TCP connection (a client can write any header).
   */
  addressHeader?: string;
  /**
   * Not in engine.io. Every node of a deployment serves every request of every session,
   * without load-balancer affinity ("sticky sessions"). Each session id names its node
   * (`<id from generateId>.<tag>`, a custom `generateId` included; the tag is encrypted
   * and authenticated with the secret); a polling request or a WebSocket upgrade reaching
   * another node is forwarded to the owner's internal listener (`host`:`port`, which
   * accepts only requests carrying a token derived from the secret) and answered by the
   * owner. When the owner cannot be reached, or does not answer within `timeout`, the
   * request gets 400 `{"code":1,"message":"Session ID unknown"}`, as without the option.
   *
   * Handshakes wait until the internal listener listens. If it cannot (EADDRINUSE...),
   * the error is emitted as "error" on the engine when it has a listener, otherwise
   * reported as a process warning ("SessionForwardingWarning"); new sessions are then
   * refused with 503 (code 7), so that a load balancer opens them elsewhere.
   * `close()` closes the internal listener. Default off.
   *
   * @example
   * new Server({ sessionForwarding: { secret: process.env.SIO_FORWARDING_SECRET, host: "10.0.0.2" } });
   */
  sessionForwarding?: SessionForwardingOptions;
}

export interface AttachOptions {
  /** path the engine answers on; default "/engine.io" */
  path?: string;
  /** destroy upgrade requests for other paths that nobody answered; default true */
  destroyUpgrade?: boolean;
  /** ms before such an upgrade request is destroyed; default 1000 */
  destroyUpgradeTimeout?: number;
  /** match "/engine.io/" rather than "/engine.io"; default true */
  addTrailingSlash?: boolean;
}

/** The options as resolved by the server (defaults applied). */
export interface ResolvedServerOptions
  extends Omit<ServerOptions, "cors" | "cookie" | "perMessageDeflate" | "httpCompression">, AttachOptions {
  pingTimeout: number;
  pingInterval: number;
  upgradeTimeout: number;
  pingBatchWindow: number;
  maxHttpBufferSize: number;
  maxBufferedChunks: number;
  httpRequestBodyTimeout: number;
  maxBufferedAmount: number;
  transports: string[];
  allowUpgrades: boolean;
  perMessageDeflate: false | PerMessageDeflateOptions;
  httpCompression: false | HttpCompressionOptions;
  wsEngine: new (opts: WsServerOptions) => WsServerLike;
  cookie: false | (CookieOptions & { name: string });
  cors: false | CorsOptions | CorsOptionsDelegate;
  allowEIO3: boolean;
}

/** The payload of the "connection_error" event. */
export interface ConnectionError {
  req: IncomingMessage;
  code: ErrorCode;
  message: string;
  context: ErrorContext | undefined;
}

type VerifyCallback = (code?: ErrorCode, context?: ErrorContext) => void;
type CloseConnection = (code: ErrorCode, context?: ErrorContext) => void;

// control characters are not allowed in a header value
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

function resolveOptions(opts: ServerOptions): ResolvedServerOptions {
  const resolved: ResolvedServerOptions = {
    wsEngine: WebSocketServer,
    pingTimeout: 20000,
    pingInterval: 25000,
    upgradeTimeout: 10000,
    pingBatchWindow: 0,
    maxHttpBufferSize: 1e6,
    maxBufferedChunks: 10000,
    httpRequestBodyTimeout: 30000,
    maxBufferedAmount: 1e7,
    transports: ["polling", "websocket"],
    allowUpgrades: true,
    cors: false,
    allowEIO3: false,
    ...(opts as Partial<ResolvedServerOptions>),
    httpCompression:
      opts.httpCompression === false
        ? false
        : { threshold: 1024, ...(typeof opts.httpCompression === "object" ? opts.httpCompression : {}) },
    perMessageDeflate: opts.perMessageDeflate
      ? { threshold: 1024, ...(typeof opts.perMessageDeflate === "object" ? opts.perMessageDeflate : {}) }
      : false,
    cookie: opts.cookie
      ? {
          name: "io",
          path: "/",
          httpOnly: true,
          sameSite: "lax",
          ...(typeof opts.cookie === "object" ? opts.cookie : {}),
        }
      : false,
  };
  return resolved;
}

function onWebSocketError(err: Error): void {
  debug("websocket error: %s", err.message);
}

/**
 * Closes a WebSocket no transport takes. A frame the client sent along with its upgrade
 * request can fail as soon as ws reads it (CVE-2022-21676), even after the close: the
 * socket keeps an error listener for its life.
 */
function refuseWebSocket(websocket: WsSocket): void {
  websocket.on("error", onWebSocketError);
  websocket.close();
}

/**
 * The heartbeat deadlines of a server's sessions: one queue per kind of deadline, each
 * with one timer (heartbeat.ts).
 *
 * @internal
 */
export interface HeartbeatQueues {
  /** v4: the next ping, pingInterval after the open or the last pong */
  readonly pingDue: HeartbeatQueue;
  /** v4: the pong, pingTimeout after the ping */
  readonly pongDeadline: HeartbeatQueue;
  /** v3: the client's next ping, pingInterval + pingTimeout after its last one */
  readonly clientPingDeadline: HeartbeatQueue;
}

function pingDue(entry: HeartbeatEntry): void {
  (entry as Socket)._onPingDue();
}

function heartbeatTimeout(entry: HeartbeatEntry): void {
  (entry as Socket)._onHeartbeatTimeout();
}

// The server's listener of a session's "headers", one function for every transport: the
// transport knows the session it was made for.
function onTransportHeaders(this: Transport, headers: OutgoingHttpHeaders, req: EngineRequest): void {
  (this._owner as TransportOwner)._onTransportHeaders(headers, req);
}

function onSessionClose(this: Socket): void {
  // once, as engine.io's, without a once() wrapper per session
  this.removeListener("close", onSessionClose);
  this.server._onSessionClose(this);
}

function onForeignUpgradeError(err: Error): void {
  debug("error on an upgrade request for another path: %s", err.message);
}

/** Parses the query string into plain string values (the last one wins on repeats). */
function parseQuery(url: string | undefined): Record<string, string> {
  const index = url ? url.indexOf("?") : -1;
  if (index === -1) {
    return {};
  }
  const parsed = qs.parse((url as string).slice(index + 1));
  const query: Record<string, string> = {};
  for (const key of Object.keys(parsed)) {
    const value = parsed[key];
    query[key] = Array.isArray(value) ? value[value.length - 1] : (value as string);
  }
  return query;
}

export class Server extends EventEmitter {
  static readonly errors = errors;
  static readonly errorMessages = errorMessages;

  readonly opts: ResolvedServerOptions;
  /** open sessions by id */
  clients: Record<string, Socket> = {};
  clientsCount = 0;
  // The counters, down to rateLimitedHandshakesCount: plain fields incremented where the
  // event happens, read on demand (`io.metrics()`), so that they cost the traffic nothing more
  /** Sessions opened. */
  handshakesCount = 0;
  /** Requests refused ("connection_error" events), by error code (`Server.errors`). */
  connectionErrorCounts: number[] = [0, 0, 0, 0, 0, 0, 0];
  /** Sessions upgraded from polling to WebSocket. */
  upgradesCount = 0;
  /** Sessions closed with "ping timeout": no pong (v4) or no ping (v3) in time. */
  heartbeatTimeoutsCount = 0;
  /** Engine.IO packets received from the clients over their session's transport. */
  packetsReceivedCount = 0;
  /** Engine.IO packets written to the clients by their session's transport. */
  packetsSentCount = 0;
  /** Bytes of the packets received: WebSocket messages and polling POST bodies. */
  bytesReceivedCount = 0;
  /** Bytes of the packets sent: WebSocket messages and polling responses, before compression. */
  bytesSentCount = 0;
  /**
   * Volatile packets not sent: Socket.IO volatile emits skipped because the
   * client's transport was busy, and packets sent with `{ volatile: true }` to a
   * client over `maxBufferedAmount`.
   */
  droppedPacketsCount = 0;
  /** Clients closed with "write buffer full" (over `maxBufferedAmount`). */
  slowClientsClosedCount = 0;
  /** Handshakes refused with 429 by the per-address caps. */
  rateLimitedHandshakesCount = 0;
  /** Polling requests forwarded to the node owning their session (`sessionForwarding`). */
  forwardedRequestsCount = 0;
  /** WebSocket upgrades tunnelled to the node owning their session (`sessionForwarding`). */
  forwardedUpgradesCount = 0;
  /**
   * Forwarded requests and upgrades whose owner could not be reached or did not answer in
   * time: answered 400 "Session ID unknown", or cut when its answer had begun.
   */
  forwardingFailuresCount = 0;
  /**
   * Long polls answered twice (`sessionForwarding`): the node relaying the first answer
   * died before relaying it, and a proxy sent the GET again, to this node or another one.
   */
  retriedPollsCount = 0;
  /** the WebSocket server (undefined when websocket is not an allowed transport) */
  ws: WsServerLike | undefined;
  /** the http server created by `listen()` */
  httpServer?: HttpServer;

  /**
   * Set by `io.drain()`: new sessions are refused with 503, so that a load balancer
   * opens them on another node; the open ones go on.
   *
   * @internal
   */
  _draining = false;

  /**
   * Set by the Socket.IO server when its `rateLimit` option is on: the reads of every
   * WebSocket are handed to ws a slice at a time (see read-slices.ts).
   *
   * @internal
   */
  _readInSlices = false;

  private readonly middlewares: Middleware[] = [];
  /** the counts of `addressLimits`; undefined without the option */
  private readonly addresses: AddressTable | undefined;
  /** the `addressHeader` option, in lower case as node keys the headers */
  private readonly addressHeader: string | undefined;
  private wsClosed = false;
  /** @internal */
  readonly _heartbeat: HeartbeatQueues;
  /**
   * The `sessionForwarding` option at work; undefined without it.
   *
   * @internal
   */
  readonly _forwarding: Forwarding | undefined;

  /**
   * @example
   * const engine = new Server({ pingInterval: 10000 });
   * engine.attach(httpServer);
   */
  constructor(opts: ServerOptions = {}) {
    super();
    this.opts = resolveOptions(opts);
    const resolved = this.opts;
    // the batching window, capped so that a late ping stays well within the client's patience
    const slack = (): number =>
      Math.max(0, Math.min(resolved.pingBatchWindow || 0, Math.floor(resolved.pingTimeout / 4)));
    this.addresses = opts.addressLimits ? new AddressTable(opts.addressLimits) : undefined;
    this.addressHeader = opts.addressHeader ? opts.addressHeader.toLowerCase() : undefined;
    this._heartbeat = {
      pingDue: new HeartbeatQueue(() => resolved.pingInterval, pingDue, slack),
      pongDeadline: new HeartbeatQueue(() => resolved.pingTimeout, heartbeatTimeout, slack),
      clientPingDeadline: new HeartbeatQueue(
        () => resolved.pingInterval + resolved.pingTimeout,
        heartbeatTimeout,
        slack,
      ),
    };
    if (this.opts.cors) {
      this.use(cors(this.opts.cors) as Middleware);
    }
    this._forwarding = opts.sessionForwarding
      ? new Forwarding(this, opts.sessionForwarding, resolved.pingInterval + resolved.pingTimeout + 5000)
      : undefined;
    this.init();
  }

  /**
   * Creates the WebSocket server, when the websocket transport is allowed, and opens the
   * internal listener of `sessionForwarding`.
   */
  private init(): void {
    if (this._forwarding !== undefined) {
      this._forwarding.open();
    }
    if (this.opts.transports.indexOf("websocket") === -1) {
      return;
    }
    if (this.ws && !this.wsClosed) {
      return;
    }
    this.wsClosed = false;
    this.ws = new this.opts.wsEngine({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: this.opts.perMessageDeflate,
      maxPayload: this.opts.maxHttpBufferSize,
    });
    if (typeof this.ws.on === "function") {
      this.ws.on("headers", (headersArray, req) => this.onUpgradeHeaders(headersArray, req as EngineRequest));
    }
  }

  private onUpgradeHeaders(headersArray: string[], req: EngineRequest): void {
    const headers = takeResponseHeaders(req) as OutgoingHeaders;
    if (!req._query.sid) {
      this.emit("initial_headers", headers, req);
    }
    this.emit("headers", headers, req);
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (Array.isArray(value)) {
        for (const item of value) {
          headersArray.push(`${name}: ${item}`);
        }
      } else {
        headersArray.push(`${name}: ${value}`);
      }
    }
  }

  /**
   * Names of the transports a session on `transport` may upgrade to.
   *
   * @example
   * engine.upgrades("polling"); // ["websocket"]
   */
  upgrades(transport: string): string[] {
    if (!this.opts.allowUpgrades) {
      return [];
    }
    const constructor = transports[transport];
    return constructor ? constructor.upgradesTo : [];
  }

  /**
   * Generates a session id; override it (it may return a promise).
   *
   * @example
   * engine.generateId = (req) => crypto.randomUUID();
   */
  generateId(_req: IncomingMessage): string | Promise<string> {
    return base64id.generateId();
  }

  /**
   * Adds a connect-style middleware, run before every engine request is
   * handled (including the WebSocket upgrade request).
   *
   * @example
   * engine.use(helmet());
   */
  use(fn: Middleware): void {
    this.middlewares.push(fn);
  }

  private applyMiddlewares(
    req: IncomingMessage,
    res: ServerResponse,
    callback: (err?: unknown) => void,
  ): void {
    const middlewares = this.middlewares;
    if (middlewares.length === 0) {
      callback();
      return;
    }
    const apply = (i: number): void => {
      debug("applying middleware nº%d", i + 1);
      try {
        middlewares[i](req, res, (err?: unknown) => {
          if (err) {
            callback(err);
          } else if (i + 1 < middlewares.length) {
            apply(i + 1);
          } else {
            callback();
          }
        });
      } catch (err) {
        callback(err || new Error("middleware failure"));
      }
    };
    apply(0);
  }

  /**
   * Prepares a request before any engine logic: parses its query string into
   * `req._query` (kept when already set, e.g. by a framework). Called on every
   * polling request and upgrade; a subclass may override it.
   *
   * @example
   * class MyEngine extends Server {
   *   prepare(req) {
   *     super.prepare(req);
   *     req._query.tenant = req.headers["x-tenant"];
   *   }
   * }
   */
  protected prepare(req: IncomingMessage): void {
    const r = req as EngineRequest;
    if (!r._query) {
      r._query = parseQuery(req.url);
    }
  }

  private verify(req: EngineRequest, upgrade: boolean, fn: VerifyCallback): void {
    const transport = req._query.transport;
    if (
      typeof transport !== "string" ||
      this.opts.transports.indexOf(transport) === -1 ||
      !Object.prototype.hasOwnProperty.call(transports, transport)
    ) {
      debug('unknown transport "%s"', transport);
      return fn(errors.UNKNOWN_TRANSPORT, { transport });
    }
    const origin = req.headers.origin;
    if (origin && INVALID_HEADER_CHAR.test(origin)) {
      return fn(errors.BAD_REQUEST, { name: "INVALID_ORIGIN", origin });
    }
    const sid = req._query.sid;
    if (sid) {
      if (!Object.prototype.hasOwnProperty.call(this.clients, sid)) {
        debug('unknown sid "%s"', sid);
        return fn(errors.UNKNOWN_SID, { sid });
      }
      const client = this.clients[sid];
      const previousTransport = client.transport.name;
      if (!upgrade && previousTransport !== transport) {
        debug("bad request: unexpected transport without upgrade");
        return fn(errors.BAD_REQUEST, { name: "TRANSPORT_MISMATCH", transport, previousTransport });
      }
      // a session speaks the revision of its handshake: a request in the other one would
      // reach a codec the session never negotiated (and bypass allowEIO3)
      const protocol = protocolOf(req._query);
      const previousProtocol = client.protocol;
      if (protocol !== previousProtocol) {
        debug("bad request: unexpected protocol revision");
        return fn(errors.BAD_REQUEST, { name: "PROTOCOL_MISMATCH", protocol, previousProtocol });
      }
      return fn();
    }
    if (this._draining) {
      return fn(errors.SERVICE_UNAVAILABLE, { name: "SERVER_DRAINING" });
    }
    if (req.method !== "GET") {
      return fn(errors.BAD_HANDSHAKE_METHOD, { method: req.method });
    }
    if (transport === "websocket" && !upgrade) {
      debug("invalid transport upgrade");
      return fn(errors.BAD_REQUEST, { name: "TRANSPORT_HANDSHAKE_ERROR" });
    }
    const addresses = this.addresses;
    // the rate before allowRequest, which a flood of handshakes must not reach; the
    // sessions after it, right before the session opens (the count is then up to date)
    const refusal = addresses && addresses.takeHandshake(this._addressOf(req), Date.now());
    if (refusal) {
      return this.refuseAddress(fn, refusal);
    }
    const allowRequest = this.opts.allowRequest;
    if (!allowRequest) {
      return addresses === undefined ? fn() : this.checkSessions(addresses, req, upgrade, fn);
    }
    allowRequest(req, (message, success) => {
      if (!success) {
        return fn(errors.FORBIDDEN, { message: message || undefined });
      }
      if (addresses === undefined) {
        return fn();
      }
      this.checkSessions(addresses, req, upgrade, fn);
    });
  }

  private checkSessions(
    addresses: AddressTable,
    req: EngineRequest,
    upgrade: boolean,
    fn: VerifyCallback,
  ): void {
    const address = this._addressOf(req);
    const refusal = addresses.checkSessions(address);
    if (refusal) {
      return this.refuseAddress(fn, refusal);
    }
    if (addresses.capsSessions) {
      this.holdPlace(addresses, req, address, upgrade ? req.socket : req.res);
    }
    fn();
  }

  /**
   * Counts the session of a handshake from its check on, so that the handshakes in flight
   * (waiting for an async generateId, or for the upgrade) count against `maxSessions` as
   * well: concurrent handshakes cannot go past the cap together. The place becomes the
   * session's when it opens, and is freed if the request's connection (polling: its
   * response) closes before, whatever ended the handshake.
   */
  private holdPlace(
    addresses: AddressTable,
    req: EngineRequest,
    address: string,
    target: NodeJS.EventEmitter | null | undefined,
  ): void {
    if (!target) {
      return;
    }
    addresses.opened(address, Date.now());
    const release = (): void => {
      if (req._addressHold === hold) {
        req._addressHold = undefined;
        addresses.closed(address, Date.now());
      }
    };
    const hold = { target, release };
    req._addressHold = hold;
    target.once("close", release);
  }

  /**
   * Whether a handshake whose place among its address's sessions is not held (see
   * holdPlace: its client went away while its id was generated) may still open its session:
   * with `maxSessions`, it is checked again, refused as it would have been at first.
   */
  private mayOpen(req: EngineRequest, closeConnection: CloseConnection): boolean {
    const addresses = this.addresses;
    if (addresses === undefined || !addresses.capsSessions || req._addressHold !== undefined) {
      return true;
    }
    const refusal = addresses.checkSessions(this._addressOf(req));
    if (refusal === undefined) {
      return true;
    }
    this.refuseAddress((code, context) => {
      this.connectionError(req, code!, context);
      closeConnection(code!, context);
    }, refusal);
    return false;
  }

  /** A session opened: counted among its address's, in the place its handshake held if any. */
  private countSession(req: EngineRequest, address: string): void {
    const hold = req._addressHold;
    if (hold !== undefined) {
      req._addressHold = undefined;
      hold.target.removeListener("close", hold.release);
    } else {
      this.addresses!.opened(address, Date.now());
    }
  }

  private refuseAddress(fn: VerifyCallback, refusal: ErrorContext): void {
    debug("too many requests from %s (%s)", refusal.address, refusal.name);
    this.rateLimitedHandshakesCount++;
    fn(errors.TOO_MANY_REQUESTS, refusal);
  }

  /**
   * The address of the client of a request: the TCP connection's, or the `addressHeader`
   * option's.
   *
   * @internal
   */
  _addressOf(req: IncomingMessage): string {
    return addressOf(req, this.addressHeader);
  }

  private connectionError(req: IncomingMessage, code: ErrorCode, context?: ErrorContext): void {
    const counts = this.connectionErrorCounts;
    counts[code] = (counts[code] || 0) + 1;
    const event: ConnectionError = { req, code, message: errorMessages[code], context };
    this.emit("connection_error", event);
  }

  /** The protocol revision of a handshake, or undefined when it is refused. */
  private handshakeProtocol(
    req: EngineRequest,
    closeConnection: CloseConnection,
  ): ProtocolRevision | undefined {
    const protocol = protocolOf(req._query);
    if (protocol === 3 && !this.opts.allowEIO3) {
      debug("unsupported protocol version");
      this.connectionError(req, errors.UNSUPPORTED_PROTOCOL_VERSION, { protocol });
      closeConnection(errors.UNSUPPORTED_PROTOCOL_VERSION);
      return undefined;
    }
    return protocol;
  }

  /**
   * Handles an HTTP request for the engine path (polling).
   *
   * @example
   * httpServer.on("request", (req, res) => engine.handleRequest(req, res));
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    this.prepare(req);
    const request = req as EngineRequest;
    // another node's session: its owner answers, before any middleware of this node
    if (this._forwarding !== undefined && this._forwarding.request(request, res)) {
      return;
    }
    debug('handling "%s" http request "%s"', req.method, req.url);
    request.res = res;
    const callback: VerifyCallback = (code, context) => {
      if (code !== undefined) {
        this.connectionError(request, code, context);
        abortRequest(res, code, context);
        return;
      }
      const sid = request._query.sid;
      if (sid) {
        debug("setting new request for existing client");
        this.clients[sid].transport.onRequest(request);
        return;
      }
      const closeConnection: CloseConnection = (errorCode, errorContext) =>
        abortRequest(res, errorCode, errorContext);
      const protocol = this.handshakeProtocol(request, closeConnection);
      if (protocol !== undefined) {
        this.generateSessionId(
          request,
          closeConnection,
          (id) => void this.open(id, request._query.transport, request, protocol, closeConnection),
        );
      }
    };
    this.applyMiddlewares(request, res, (err) => {
      if (err) {
        callback(errors.BAD_REQUEST, { name: "MIDDLEWARE_FAILURE" });
      } else {
        this.verify(request, false, callback);
      }
    });
  }

  /**
   * Handles an HTTP upgrade request for the engine path (WebSocket).
   *
   * @example
   * httpServer.on("upgrade", (req, socket, head) => engine.handleUpgrade(req, socket, head));
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, upgradeHead: Buffer): void {
    this.prepare(req);
    const request = req as EngineRequest;
    if (this._forwarding !== undefined && this._forwarding.upgrade(request, socket, upgradeHead)) {
      return;
    }
    // node no longer watches the socket once it is handed over; until ws does,
    // a client vanishing must not raise an uncaught error
    const onSocketError = (err: Error): void => debug("upgrade socket error: %s", err.message);
    socket.on("error", onSocketError);
    const res = new UpgradeResponse(request, socket);
    const upgrade = (id?: string): void => {
      if (!this.ws) {
        abortUpgrade(socket, errors.BAD_REQUEST);
        return;
      }
      res.writeHead();
      // after writeHead: middlewares hooking it (express-session) set their cookies there
      const cookie = id === undefined ? undefined : this.sessionCookie(id);
      if (cookie !== undefined) {
        const previous = res.getHeader("set-cookie");
        res.setHeader(
          "Set-Cookie",
          previous === undefined ? [cookie] : ([] as string[]).concat(previous as string | string[], cookie),
        );
      }
      // a new session's open packet is written while ws completes the upgrade:
      // corked, the 101 response and that packet leave in one write (uncorked whatever
      // is thrown meanwhile, or the client would get neither)
      socket.cork();
      try {
        this.ws.handleUpgrade(request, socket, upgradeHead, (websocket) => {
          socket.removeListener("error", onSocketError);
          if (this._readInSlices) {
            readInSlices(socket);
          }
          this.onWebSocket(request, websocket, id);
        });
      } finally {
        socket.uncork();
      }
    };
    const callback: VerifyCallback = (code, context) => {
      if (code !== undefined) {
        this.connectionError(request, code, context);
        abortUpgrade(socket, code, context);
        return;
      }
      if (request._query.sid) {
        upgrade();
        return;
      }
      const closeConnection: CloseConnection = (errorCode, errorContext) =>
        abortUpgrade(socket, errorCode, errorContext);
      if (this.handshakeProtocol(request, closeConnection) === undefined) {
        return;
      }
      // a new session: its id exists before the upgrade completes, so that a
      // failure refuses the upgrade with an HTTP answer, and the session
      // cookie goes out with the 101 response
      this.generateSessionId(request, closeConnection, upgrade);
    };
    this.applyMiddlewares(request, res as unknown as ServerResponse, (err) => {
      if (err) {
        callback(errors.BAD_REQUEST, { name: "MIDDLEWARE_FAILURE" });
      } else {
        this.verify(request, true, callback);
      }
    });
  }

  /** `id` is the id generated for a new session, before the upgrade. */
  private onWebSocket(req: EngineRequest, websocket: WsSocket, id: string | undefined): void {
    const transportName = req._query.transport;
    const constructor = transports[transportName];
    if (!constructor || !constructor.prototype || !(constructor.prototype as Transport).handlesUpgrades) {
      debug("transport doesnt handle upgraded requests");
      refuseWebSocket(websocket);
      return;
    }
    req.websocket = websocket;
    const sid = req._query.sid;
    if (id !== undefined) {
      const protocol = protocolOf(req._query);
      const closeConnection: CloseConnection = () => refuseWebSocket(websocket);
      void this.open(id, transportName, req, protocol, closeConnection);
      return;
    }
    const client = this.clients[sid];
    if (!client) {
      debug("upgrade attempt for closed client");
      refuseWebSocket(websocket);
    } else if (client.upgrading) {
      debug("transport has already been trying to upgrade");
      refuseWebSocket(websocket);
    } else if (client.upgraded) {
      debug("transport had already been upgraded");
      refuseWebSocket(websocket);
    } else {
      debug("upgrading existing transport");
      // the transport takes the socket's errors from its creation on (synchronously, before ws reads a frame)
      const transport = this.createTransport(transportName, req);
      (transport as WebSocket).perMessageDeflate = this.opts.perMessageDeflate;
      client._maybeUpgrade(transport);
    }
  }

  private createTransport(name: string, req: EngineRequest): Transport {
    return new transports[name](req);
  }

  /**
   * Runs `generateId` (sync or async) for a new session; a failure refuses the handshake.
   * With `sessionForwarding`, the id is tagged with this node's internal address.
   */
  private generateSessionId(
    req: EngineRequest,
    closeConnection: CloseConnection,
    then: (id: string) => void,
  ): void {
    const forwarding = this._forwarding;
    if (forwarding !== undefined) {
      const open = then;
      then = (id) =>
        forwarding.tagWhenReady(id, open, () => {
          debug("no internal listener to name in the session id");
          this.connectionError(req, errors.SERVICE_UNAVAILABLE, { name: "FORWARDING_UNAVAILABLE" });
          closeConnection(errors.SERVICE_UNAVAILABLE);
        });
    }
    let id: string | Promise<string>;
    try {
      id = this.generateId(req);
    } catch (error) {
      this.onIdGenerationError(req, error, closeConnection);
      return;
    }
    if (typeof id === "string") {
      then(id);
      return;
    }
    Promise.resolve(id).then(then, (error) => this.onIdGenerationError(req, error, closeConnection));
  }

  /** The Set-Cookie value of the `cookie` option for a session, if the option is on. */
  private sessionCookie(id: string): string | undefined {
    const cookie = this.opts.cookie;
    if (!cookie) {
      return undefined;
    }
    const { name, ...attributes } = cookie;
    return serializeCookie(name, id, attributes);
  }

  private onIdGenerationError(req: EngineRequest, error: unknown, closeConnection: CloseConnection): void {
    debug("error while generating an id");
    this.connectionError(req, errors.BAD_REQUEST, { name: "ID_GENERATION_ERROR", error });
    closeConnection(errors.BAD_REQUEST);
  }

  /**
   * Creates the session. An async function, as the reference's handshake is: what a listener
   * throws here ("connection", "headers"...) rejects the promise (an "unhandledRejection"),
   * rather than being thrown back through the handling of the request. Nothing is awaited:
   * the session opens synchronously.
   */
  private async open(
    id: string,
    transportName: string,
    req: EngineRequest,
    protocol: ProtocolRevision,
    closeConnection: CloseConnection,
  ): Promise<void> {
    debug('handshaking client "%s"', id);
    if (!this.mayOpen(req, closeConnection)) {
      return;
    }
    let transport: Transport;
    try {
      transport = this.createTransport(transportName, req);
    } catch (error) {
      debug('error handshaking to transport "%s"', transportName);
      this.connectionError(req, errors.BAD_REQUEST, { name: "TRANSPORT_HANDSHAKE_ERROR", error });
      closeConnection(errors.BAD_REQUEST);
      return;
    }
    if (transportName === "polling") {
      (transport as Polling).maxHttpBufferSize = this.opts.maxHttpBufferSize;
      (transport as Polling).maxBufferedChunks = this.opts.maxBufferedChunks;
      (transport as Polling).httpRequestBodyTimeout = this.opts.httpRequestBodyTimeout;
      (transport as Polling).httpCompression = this.opts.httpCompression;
    } else if (transportName === "websocket") {
      (transport as WebSocket).perMessageDeflate = this.opts.perMessageDeflate;
    }
    const socket = new Socket(id, this, transport, req, protocol);
    // for the transport's whole life, as the reference's: the responses of a transport
    // replaced by an upgrade, or of a closing one, still get the server's headers
    transport.on("headers", onTransportHeaders);
    transport.onRequest(req);
    this.clients[id] = socket;
    this.clientsCount++;
    this.handshakesCount++;
    if (this.addresses !== undefined) {
      this.countSession(req, socket.remoteAddress);
    }
    // a listener, as engine.io's (the session's first "close" listener, seen by listenerCount)
    socket.on("close", onSessionClose);
    this.emit("connection", socket);
  }

  /**
   * The headers of a polling response of `socket` (an upgrade gets its headers from ws).
   *
   * @internal
   */
  _onSessionHeaders(socket: Socket, headers: OutgoingHttpHeaders, req: EngineRequest): void {
    if (!req._query.sid) {
      const cookie = this.sessionCookie(socket.id);
      if (cookie !== undefined) {
        headers["Set-Cookie"] = [cookie];
      }
      this.emit("initial_headers", headers, req);
    }
    this.emit("headers", headers, req);
  }

  /**
   * A session closed: it leaves `clients` before the other "close" listeners run.
   *
   * @internal
   */
  _onSessionClose(socket: Socket): void {
    if (this.clients[socket.id] === socket) {
      delete this.clients[socket.id];
      this.clientsCount--;
      if (this.addresses !== undefined) {
        this.addresses.closed(socket.remoteAddress, Date.now());
      }
    }
  }

  /**
   * Closes every session ("forced close"), the WebSocket server, and with
   * `sessionForwarding` the internal listener and the tunnels through this node; the http
   * server is left open.
   *
   * @example
   * engine.close();
   */
  close(): this {
    debug("closing all open clients");
    for (const id of Object.keys(this.clients)) {
      this.clients[id].close(true);
    }
    if (this.ws && !this.wsClosed) {
      debug("closing webSocketServer");
      this.ws.close();
      this.wsClosed = true;
    }
    if (this._forwarding !== undefined) {
      this._forwarding.close();
    }
    return this;
  }

  /**
   * Captures the requests (and upgrades) of an http server for the engine path.
   *
   * @example
   * const engine = new Server();
   * engine.attach(httpServer, { path: "/engine.io" });
   */
  attach(server: HttpServer, options: AttachOptions = {}): void {
    let path = (options.path || "/engine.io").replace(/\/$/, "");
    if (options.addTrailingSlash !== false) {
      path += "/";
    }
    const destroyUpgradeTimeout = options.destroyUpgradeTimeout || 1000;
    const check = (req: IncomingMessage): boolean => (req.url || "").slice(0, path.length) === path;

    const listeners = server.listeners("request").slice(0) as ((...args: unknown[]) => void)[];
    server.removeAllListeners("request");
    server.on("close", () => this.close());
    server.on("listening", () => this.init());
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      if (check(req)) {
        debug('intercepting request for path "%s"', path);
        this.handleRequest(req, res);
        return;
      }
      for (let i = 0; i < listeners.length; i++) {
        listeners[i].call(server, req, res);
      }
    });

    if (this.opts.transports.indexOf("websocket") === -1) {
      return;
    }
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (check(req)) {
        this.handleUpgrade(req, socket, head);
        return;
      }
      // node stops watching the socket of an upgrade request as soon as it emits "upgrade":
      // a peer resetting it before anyone answers must not raise an uncaught error
      // (CVE-2022-41940), whether or not another listener takes the request
      socket.on("error", onForeignUpgradeError);
      if (options.destroyUpgrade !== false) {
        // other upgrade listeners get a chance to answer before the socket is dropped
        setTimeout(() => {
          const net = socket as Duplex & { bytesWritten?: number };
          if (socket.writable && (net.bytesWritten || 0) <= 0) {
            socket.end();
          }
        }, destroyUpgradeTimeout);
      }
    });
  }
}
