import { EventEmitter } from "events";
import * as http from "http";
import type { Server as HTTPSServer } from "https";
import type { Http2SecureServer, Http2Server } from "http2";
import cors from "cors";
import debugModule from "debug";
import { Adapter, Room, SessionAwareAdapter, SocketId } from "./adapter";
import type { AdapterConstructor } from "./adapter";
import { BroadcastOperator, RemoteSocket } from "./broadcast-operator";
import { Client } from "./client";
import { Server as Engine, ServerOptions as EngineOptions, AttachOptions } from "./engine/server";
import { ExtendedError, Namespace, ServerReservedEventsMap } from "./namespace";
import { ParentNamespace } from "./parent-namespace";
import { isV2Client } from "./v2-clients";
import * as parser from "./codec";
import type { PacketEncoder } from "./codec";
import type { Socket as EngineSocket } from "./engine/socket";
import { clientPathRegex, serveClientFile } from "./serve-client";
import { metricsOf, registerMetrics } from "./metrics";
import type { Metrics, PromClientLike, RegisterMetricsOptions } from "./metrics";
import { drain } from "./drain";
import type { DrainOptions, DrainResult } from "./drain";
import type { Socket } from "./socket";
import { resolveRateLimit } from "./rate-limit";
import type { RateLimit, RateLimitOptions } from "./rate-limit";
import {
  AllButLast,
  DecorateAcknowledgementsWithTimeoutAndMultipleResponses,
  DefaultEventsMap,
  EventNames,
  EventNamesWithAck,
  EventNamesWithoutAck,
  EventParams,
  EventsMap,
  FirstNonErrorArg,
  Last,
  ReservedOrUserEventNames,
  ReservedOrUserListener,
  StrictEventListener,
} from "./typed-events";

const debug = debugModule("socket.io:server");

type AnyHttpServer = http.Server | HTTPSServer | Http2SecureServer | Http2Server;

/**
 * A parser replacing the default codec, e.g. socket.io-msgpack-parser: an
 * `Encoder` whose `encode(packet)` returns the chunks to write, and a
 * `Decoder` (an event emitter) with `add(chunk)`, emitting "decoded" packets,
 * and `destroy()`. Loosely typed, as parsers declare their own types.
 *
 * @example
 * import * as parser from "socket.io-msgpack-parser";
 *
 * const io = new Server({ parser });
 */
export interface Parser {
  Encoder: new (...args: any[]) => { encode(packet: any): any };
  Decoder: new (...args: any[]) => any;
}

interface ServerOwnOptions {
  /** The path to capture. @default "/socket.io" */
  path: string;
  /** Whether to serve the client bundles. @default true */
  serveClient: boolean;
  /** The adapter class. @default the in-memory Adapter */
  adapter: AdapterConstructor;
  /** The parser. @default the built-in Socket.IO v5 codec */
  parser: Parser;
  /**
   * How many ms a client may stay connected without joining a namespace.
   * @default 45000
   */
  connectTimeout: number;
  /**
   * Lets a client that lost its connection recover its id, rooms, data and
   * the packets it missed.
   */
  connectionStateRecovery: {
    /** @default 120000 (2 minutes) */
    maxDisconnectionDuration?: number;
    /** Whether recovered sockets skip the middlewares. @default true */
    skipMiddlewares?: boolean;
    /**
     * Also stores each session while its socket is connected, so that it survives a node
     * killed without a disconnect (SIGKILL, out of memory, a lost machine): its clients then
     * recover their id, rooms, data and missed packets on another node. Only useful with an
     * adapter that stores sessions outside the process (@socket.io/redis-streams-adapter;
     * @socket.io/postgres-adapter 0.5 stores none).
     *
     * A session is stored once its socket is connected (after the synchronous "connection"
     * listeners, so rooms joined there are included), again after each `join()` / `leave()`
     * (at most one store per socket per tick), and every `maxDisconnectionDuration / 2` ms
     * (one timer per namespace, in batches) so that the stored copy does not expire. After a
     * crash, a session can be restored for at least half of `maxDisconnectionDuration`.
     * `socket.data` is restored as of the last store: a change that no join or leave followed
     * is stored only by the next refresh. A socket that ends for good (a disconnect by the
     * client or the server) leaves a marker that makes its stored copy unrestorable.
     *
     * Cost: one adapter write (a Redis SET with redis-streams) per connection, per join or
     * leave, per deliberate disconnect, and per connected socket every
     * `maxDisconnectionDuration / 2`; the adapter's storage holds every connected session.
     * Risk: an adapter write that fails is only logged by the adapter, if at all, and the
     * session then dies with its node as without this option.
     *
     * @default false
     * @example
     * new Server({ adapter, connectionStateRecovery: { persistWhileConnected: true } });
     */
    persistWhileConnected?: boolean;
  };
  /** Whether to remove child namespaces once they have no sockets left. @default false */
  cleanupEmptyChildNamespaces: boolean;
  /**
   * Token buckets on the events each socket receives from its client (see the README's
   * "Limits"). @default no limit
   */
  rateLimit: RateLimitOptions;
}

export interface ServerOptions extends EngineOptions, Omit<AttachOptions, "path">, ServerOwnOptions {}

type ParentNspNameMatchFn = (
  name: string,
  auth: { [key: string]: any },
  fn: (err: Error | null, success: boolean) => void,
) => void;

/**
 * The Socket.IO server: attach it to an http server (or let it create one),
 * then listen to "connection" on it or on one of its namespaces.
 *
 * @example
 * import { Server } from "socket.io";
 *
 * const io = new Server();
 *
 * io.on("connection", (socket) => {
 *   console.log(`socket ${socket.id} connected`);
 *   socket.emit("foo", "bar");
 *   socket.on("disconnect", (reason) => {
 *     console.log(`socket ${socket.id} disconnected due to ${reason}`);
 *   });
 * });
 *
 * io.listen(3000);
 */
export class Server<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends StrictEventListener<
  ServerSideEvents,
  ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
> {
  /** The main namespace, "/". */
  public readonly sockets: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  /** The Engine.IO server below (socket.io/engine). */
  public engine!: Engine;
  /** The http server this server is attached to. */
  public httpServer!: AnyHttpServer;
  /** The packet encoder, shared by every client (adapters encode broadcasts with it). */
  readonly encoder: PacketEncoder;
  readonly opts: Partial<ServerOptions>;

  /**
   * The parser: the built-in codec, or the `parser` option.
   *
   * @internal
   */
  _parser: Parser;
  /** The namespaces by name (the admin UI reads it). */
  _nsps: Map<string, Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> = new Map();
  private parentNsps: Map<
    ParentNspNameMatchFn,
    ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
  > = new Map();
  private parentNamespacesFromRegExp: Map<
    RegExp,
    ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
  > = new Map();
  private _adapter!: AdapterConstructor;
  private _serveClient!: boolean;
  private _path!: string;
  private clientPathRegex!: RegExp;
  /** @internal */
  _connectTimeout!: number;
  /**
   * The `rateLimit` option, checked; undefined without it.
   *
   * @internal
   */
  readonly _rateLimit: RateLimit | undefined;

  /**
   * @param srv an http server, a port to listen on, or the options
   * @param opts the options
   */
  constructor(opts?: Partial<ServerOptions>);
  constructor(srv?: AnyHttpServer | number, opts?: Partial<ServerOptions>);
  constructor(
    srv: undefined | Partial<ServerOptions> | AnyHttpServer | number,
    opts?: Partial<ServerOptions>,
  );
  constructor(
    srv: undefined | Partial<ServerOptions> | AnyHttpServer | number,
    opts: Partial<ServerOptions> = {},
  ) {
    super();
    if (typeof srv === "object" && srv instanceof Object && !(srv as any).listen) {
      opts = srv as Partial<ServerOptions>;
      srv = undefined;
    }
    this.path(opts.path || "/socket.io");
    this.connectTimeout(opts.connectTimeout || 45000);
    this.serveClient(opts.serveClient !== false);
    this._parser = opts.parser || parser;
    this.encoder = new this._parser.Encoder();
    this.opts = opts;
    this._rateLimit = resolveRateLimit(opts.rateLimit);
    if (opts.connectionStateRecovery) {
      opts.connectionStateRecovery = Object.assign(
        { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
        opts.connectionStateRecovery,
      );
      this.adapter(opts.adapter || SessionAwareAdapter);
    } else {
      this.adapter(opts.adapter || Adapter);
    }
    opts.cleanupEmptyChildNamespaces = !!opts.cleanupEmptyChildNamespaces;
    this.sockets = this.of("/");
    if (srv || typeof srv === "number") {
      this.attach(srv as AnyHttpServer | number);
    }
  }

  /**
   * The options, as read by the namespaces, sockets and adapters.
   *
   * @internal
   */
  get _opts(): Partial<ServerOptions> {
    return this.opts;
  }

  /**
   * Sets or gets whether the client bundles are served.
   *
   * @example
   * io.serveClient(false);
   */
  public serveClient(v: boolean): this;
  public serveClient(): boolean;
  public serveClient(v?: boolean): this | boolean;
  public serveClient(v?: boolean): this | boolean {
    if (!arguments.length) return this._serveClient;
    this._serveClient = v!;
    return this;
  }

  /**
   * Runs the dynamic namespace matchers for a name; `fn` receives the new
   * child namespace, or false when no matcher accepts the name.
   *
   * @internal
   */
  _checkNamespace(
    name: string,
    auth: { [key: string]: any },
    fn: (nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | false) => void,
  ): void {
    if (this.parentNsps.size === 0) return fn(false);
    const keysIterator = this.parentNsps.keys();
    const run = () => {
      const nextFn = keysIterator.next();
      if (nextFn.done) return fn(false);
      nextFn.value(name, auth, (err, allow) => {
        if (err || !allow) return run();
        const existing = this._nsps.get(name);
        if (existing) {
          // a concurrent connection created it while the matcher ran
          debug("dynamic namespace %s already exists", name);
          return fn(existing);
        }
        const namespace = this.parentNsps.get(nextFn.value)!.createChild(name);
        debug("dynamic namespace %s was created", name);
        fn(namespace);
      });
    };
    run();
  }

  /**
   * Sets or gets the path under which the server is reachable.
   *
   * @example
   * const io = new Server();
   * io.path("/my-custom-path/");
   */
  public path(v: string): this;
  public path(): string;
  public path(v?: string): this | string;
  public path(v?: string): this | string {
    if (!arguments.length) return this._path;
    this._path = v!.replace(/\/$/, "");
    this.clientPathRegex = clientPathRegex(this._path);
    return this;
  }

  /**
   * Sets or gets how long a client may stay connected without joining a
   * namespace.
   *
   * @example
   * io.connectTimeout(10000);
   */
  public connectTimeout(v: number): this;
  public connectTimeout(): number;
  public connectTimeout(v?: number): this | number;
  public connectTimeout(v?: number): this | number {
    if (v === undefined) return this._connectTimeout;
    this._connectTimeout = v;
    return this;
  }

  /**
   * Sets or gets the adapter class; setting it recreates the adapter of every
   * namespace.
   *
   * @example
   * import { createAdapter } from "@socket.io/redis-adapter";
   * io.adapter(createAdapter(pubClient, subClient));
   */
  public adapter(): AdapterConstructor;
  public adapter(v: AdapterConstructor): this;
  public adapter(v?: AdapterConstructor): AdapterConstructor | this {
    if (!arguments.length) return this._adapter;
    this._adapter = v!;
    for (const nsp of this._nsps.values()) {
      nsp._initAdapter();
    }
    return this;
  }

  /**
   * Attaches the server to an http server, or to a new one listening on the
   * given port. Alias of `attach()`.
   *
   * @example
   * const io = new Server();
   * io.listen(3000);
   */
  public listen(srv: AnyHttpServer | number, opts: Partial<ServerOptions> = {}): this {
    return this.attach(srv, opts);
  }

  /**
   * Attaches the server to an http server, or to a new one listening on the
   * given port.
   *
   * @example
   * import { createServer } from "http";
   *
   * const httpServer = createServer();
   * const io = new Server();
   * io.attach(httpServer);
   * httpServer.listen(3000);
   */
  public attach(srv: AnyHttpServer | number, opts: Partial<ServerOptions> = {}): this {
    if (typeof srv === "function") {
      throw new Error(
        "You are trying to attach socket.io to an express request handler function. Please pass a http.Server instance.",
      );
    }
    if (Number(srv) == (srv as any)) {
      srv = Number(srv);
    }
    if (typeof srv === "number") {
      debug("creating http server and binding to %d", srv);
      const port = srv;
      srv = http.createServer((_req, res) => {
        res.writeHead(404);
        res.end();
      });
      srv.listen(port);
    }

    Object.assign(this.opts, opts);
    opts.path = opts.path || this._path;
    this.initEngine(srv, Object.assign({}, this.opts, opts));
    return this;
  }

  private initEngine(srv: AnyHttpServer, opts: Partial<ServerOptions>): void {
    debug("creating engine.io instance with opts %j", opts);
    const engine = new Engine(opts);
    // the engine reads requests and upgrades, which https and http2 servers emit alike
    engine.attach(srv as http.Server, opts);
    // served before the engine sees the request: the bundles live under its path
    if (this._serveClient) this.attachServe(srv, opts);
    this.httpServer = srv;
    this.bind(engine);
  }

  private attachServe(srv: AnyHttpServer, opts: Partial<ServerOptions>): void {
    debug("attaching client serving req handler");
    const listeners = srv.listeners("request").slice(0);
    srv.removeAllListeners("request");
    // a page on another origin loads the bundle with the headers of the `cors` option
    const corsMiddleware = opts.cors ? cors(opts.cors) : undefined;
    srv.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (this.clientPathRegex.test(req.url!)) {
        if (corsMiddleware) {
          corsMiddleware(req, res, () => serveClientFile(this._path, req, res));
        } else {
          serveClientFile(this._path, req, res);
        }
      } else {
        for (let i = 0; i < listeners.length; i++) {
          listeners[i].call(srv, req, res);
        }
      }
    });
  }

  /**
   * Binds the server to an Engine.IO server created elsewhere.
   *
   * @example
   * import { Server as Engine } from "socket.io/engine";
   *
   * const engine = new Engine();
   * const io = new Server();
   * io.bind(engine);
   */
  public bind(engine: Engine): this {
    this.engine = engine;
    if (this._rateLimit !== undefined) {
      engine._readInSlices = true;
    }
    this.engine.on("connection", this.onconnection.bind(this));
    return this;
  }

  /** Alias of `engine`, kept for code written for older versions. */
  public get eio(): Engine {
    return this.engine;
  }

  private onconnection(conn: EngineSocket): this {
    debug("incoming connection with id %s", conn.id);
    const client = new Client(this, conn);
    if (isV2Client(conn)) {
      // socket.io v2 clients are connected to the main namespace implicitly
      client.connect("/");
    }
    return this;
  }

  /**
   * Looks up a namespace, creating it when needed. A regular expression or a
   * function declares dynamic namespaces, created on the first connection to
   * a matching name.
   *
   * @example
   * const adminNamespace = io.of("/admin");
   *
   * adminNamespace.on("connection", (socket) => {});
   *
   * io.of(/^\/dynamic-\d+$/).on("connection", (socket) => {});
   *
   * io.of((name, auth, next) => {
   *   next(null, true); // accept every name
   * });
   */
  public of(
    name: string | RegExp | ParentNspNameMatchFn,
    fn?: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    if (typeof name === "function" || name instanceof RegExp) {
      const parentNsp = new ParentNamespace(this);
      debug("initializing parent namespace %s", parentNsp.name);
      if (typeof name === "function") {
        this.parentNsps.set(name, parentNsp);
      } else {
        const regex = name;
        this.parentNsps.set((nsp, _auth, next) => next(null, regex.test(nsp)), parentNsp);
        this.parentNamespacesFromRegExp.set(regex, parentNsp);
      }
      if (fn) parentNsp.on("connect", fn);
      return parentNsp;
    }

    if (String(name)[0] !== "/") name = "/" + name;

    let nsp = this._nsps.get(name);
    if (!nsp) {
      for (const [regex, parentNamespace] of this.parentNamespacesFromRegExp) {
        if (regex.test(name)) {
          debug("attaching namespace %s to parent namespace %s", name, regex);
          return parentNamespace.createChild(name);
        }
      }
      debug("initializing namespace %s", name);
      nsp = new Namespace(this, name);
      this._nsps.set(name, nsp);
      if (name !== "/") {
        this.sockets._onNewNamespace(nsp);
      }
    }
    if (fn) nsp.on("connect", fn);
    return nsp;
  }

  /**
   * Takes this node out of service without ending its clients' sessions: new handshakes
   * are refused with 503 (a load balancer retries them on another node), the open
   * Engine.IO connections are closed at an even pace, at most `batchSize` at a time, so that
   * the other nodes take at most `rate` reconnections a second (the clients
   * see "transport close" and reconnect, elsewhere; with `connectionStateRecovery` the server
   * keeps their sessions: "forced close"), the drain waits until the adapter has stored every
   * session (a promise from `persistSession`), then closes the adapters and the engine. The
   * http server stays open unless `closeHttpServer`. `deadline` bounds it all.
   *
   * @example
   * process.once("SIGTERM", async () => {
   *   const { timedOut } = await io.drain({ rate: 200, deadline: 25000, closeHttpServer: true });
   *   process.exit(timedOut ? 1 : 0);
   * });
   */
  public drain(options: DrainOptions = {}): Promise<DrainResult> {
    return drain(
      {
        engine: this.engine,
        httpServer: this.httpServer,
        adapters: () => [...this._nsps.values()].map((nsp) => nsp.adapter),
      },
      options,
    );
  }

  /**
   * Closes every socket, the Engine.IO server and the http server.
   *
   * @example
   * io.close((err) => {
   *   // the http server is closed too
   * });
   */
  public async close(fn?: (err?: Error) => void): Promise<void> {
    // an adapter failing to close must not keep the rest of the server open
    await Promise.all(
      [...this._nsps.values()].map(async (nsp) => {
        nsp._sessionKeeper?.stop();
        nsp.sockets.forEach((socket) => {
          socket._onclose("server shutting down");
        });
        try {
          await nsp.adapter.close();
        } catch (err) {
          debug("adapter of %s failed to close: %s", nsp.name, err);
        }
      }),
    );
    if (this.engine) this.engine.close();
    if (this.httpServer) {
      this.httpServer.close(fn);
    } else if (fn) {
      fn();
    }
  }

  /**
   * Registers a middleware for the main namespace.
   *
   * @example
   * io.use((socket, next) => {
   *   next(new Error("unauthorized"));
   * });
   */
  public use(
    fn: (
      socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      next: (err?: ExtendedError) => void,
    ) => void,
  ): this {
    this.sockets.use(fn);
    return this;
  }

  /**
   * Targets a room when emitting.
   *
   * @example
   * io.to("room-101").emit("foo", "bar");
   */
  public to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.to(room);
  }

  /**
   * Targets a room when emitting. Alias of `to()`.
   *
   * @example
   * io.in("room-101").disconnectSockets();
   */
  public in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.in(room);
  }

  /**
   * Excludes a room when emitting.
   *
   * @example
   * io.except("room-101").emit("foo", "bar");
   */
  public except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.except(room);
  }

  /**
   * Emits and waits for the acknowledgements of every client.
   *
   * @example
   * const responses = await io.timeout(1000).emitWithAck("some-event");
   */
  public emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>> {
    return this.sockets.emitWithAck(ev as any, ...(args as any)) as any;
  }

  /**
   * Sends a `message` event to every client.
   *
   * @example
   * io.send("hello");
   */
  public send(...args: EventParams<EmitEvents, "message">): this {
    this.sockets.send(...args);
    return this;
  }

  /**
   * Sends a `message` event to every client. Alias of `send()`.
   *
   * @example
   * io.write("hello");
   */
  public write(...args: EventParams<EmitEvents, "message">): this {
    return this.send(...args);
  }

  /**
   * Emits to the other Socket.IO servers of the cluster.
   *
   * @example
   * io.serverSideEmit("hello", "world");
   */
  public serverSideEmit<Ev extends EventNames<ServerSideEvents>>(
    ev: Ev,
    ...args: EventParams<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<ServerSideEvents>, Ev>
  ): boolean {
    return this.sockets.serverSideEmit(ev, ...args);
  }

  /**
   * Emits to the other servers and waits for their acknowledgements.
   *
   * @example
   * const responses = await io.serverSideEmitWithAck("some-event");
   */
  public serverSideEmitWithAck<Ev extends EventNamesWithAck<ServerSideEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<ServerSideEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<ServerSideEvents, Ev>>>[]> {
    return this.sockets.serverSideEmitWithAck(ev as any, ...(args as any)) as any;
  }

  /**
   * Returns the ids of the sockets of the main namespace.
   *
   * @deprecated use `fetchSockets()` instead.
   */
  public allSockets(): Promise<Set<SocketId>> {
    return this.sockets.allSockets();
  }

  /**
   * Sets the compress flag.
   *
   * @example
   * io.compress(false).emit("hello");
   */
  public compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.compress(compress);
  }

  /**
   * The event may be lost if a client is not ready to receive it.
   *
   * @example
   * io.volatile.emit("hello");
   */
  public get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.volatile;
  }

  /**
   * The event is only sent to the clients of this node.
   *
   * @example
   * io.local.emit("foo", "bar");
   */
  public get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.local;
  }

  /**
   * Sets a timeout for the acknowledgements of every client.
   *
   * @example
   * io.timeout(1000).emit("some-event", (err, responses) => {});
   */
  public timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<EmitEvents>, SocketData> {
    return this.sockets.timeout(timeout);
  }

  /**
   * Returns the matching socket instances.
   *
   * @example
   * const sockets = await io.in("room1").fetchSockets();
   */
  public fetchSockets(): Promise<RemoteSocket<EmitEvents, SocketData>[]> {
    return this.sockets.fetchSockets();
  }

  /**
   * Makes the matching sockets join the given rooms.
   *
   * @example
   * io.socketsJoin("room1");
   */
  public socketsJoin(room: Room | Room[]): void {
    return this.sockets.socketsJoin(room);
  }

  /**
   * Makes the matching sockets leave the given rooms.
   *
   * @example
   * io.socketsLeave("room1");
   */
  public socketsLeave(room: Room | Room[]): void {
    return this.sockets.socketsLeave(room);
  }

  /**
   * Disconnects the matching sockets; with `close`, their whole connection.
   *
   * @example
   * io.disconnectSockets(true);
   */
  public disconnectSockets(close: boolean = false): void {
    return this.sockets.disconnectSockets(close);
  }

  /**
   * The metrics of this server now, as plain objects: counters kept since it started (the
   * engine's, and each namespace's) and gauges counted when called. Always kept: each
   * counter is an integer field incremented where the event happens.
   *
   * @example
   * const { engine, namespaces } = io.metrics();
   * console.log(engine.sessions); // { polling: 2, websocket: 40 }
   * console.log(engine.handshakes, engine.heartbeatTimeouts, engine.bytesSent);
   * console.log(namespaces["/"].sockets, namespaces["/"].eventsReceived);
   */
  public metrics(): Metrics {
    return metricsOf(this);
  }

  /**
   * Registers the metrics of `metrics()` into a prom-client registry (the default one, or
   * `options.register`), read each time it is scraped. prom-client is the application's:
   * it hands the module over, and this package never loads it.
   *
   * @example
   * const client = require("prom-client");
   * io.registerMetrics(client); // socketio_engine_sessions{transport="websocket"}, ...
   *
   * app.get("/metrics", async (req, res) => {
   *   res.set("Content-Type", client.register.contentType);
   *   res.end(await client.register.metrics());
   * });
   */
  public registerMetrics(client: PromClientLike, options?: RegisterMetricsOptions): this {
    registerMetrics(this, client, options);
    return this;
  }

  // Listening on the server is listening on the main namespace, as in the reference:
  // `io.on("connection", ...)` is `io.of("/").on("connection", ...)`, and `io.emit()`
  // broadcasts to the main namespace. The methods below forward to it; those that chain
  // return the server.

  /** The main namespace, typed as a plain EventEmitter: the server's event types are its own. */
  private get mainEmitter(): EventEmitter {
    return this.sockets;
  }

  /**
   * Emits to every client of the main namespace.
   *
   * @example
   * io.emit("hello", "world");
   */
  public override emit<Ev extends EventNamesWithoutAck<EmitEvents>>(
    ev: Ev,
    ...args: EventParams<EmitEvents, Ev>
  ): boolean {
    // Namespace.emit, reached through the plain EventEmitter type (its parameter types
    // are the server's, which TypeScript does not relate across the two classes)
    return this.mainEmitter.emit(ev, ...args);
  }

  /**
   * Listens on the main namespace ("connection", "new_namespace", or a server-side event).
   *
   * @example
   * io.on("connection", (socket) => socket.emit("welcome"));
   */
  public override on<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
    listener: ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >,
  ): this {
    this.mainEmitter.on(ev, listener);
    return this;
  }

  /**
   * Listens once on the main namespace.
   *
   * @example
   * io.once("connection", (socket) => console.log("first client", socket.id));
   */
  public override once<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
    listener: ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >,
  ): this {
    this.mainEmitter.once(ev, listener);
    return this;
  }

  /**
   * The listeners of an event of the main namespace.
   *
   * @example
   * io.listeners("connection").length;
   */
  public override listeners<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
  ): ReservedOrUserListener<
    ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    ServerSideEvents,
    Ev
  >[] {
    return this.sockets.listeners(ev as never) as ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >[];
  }

  /**
   * Same as `on()`.
   *
   * @example
   * io.addListener("connection", onConnection);
   */
  public override addListener(ev: string | symbol, listener: (...args: any[]) => void): this {
    this.mainEmitter.addListener(ev, listener);
    return this;
  }

  /**
   * Adds a listener before the others of the main namespace.
   *
   * @example
   * io.prependListener("connection", onConnection);
   */
  public override prependListener(ev: string | symbol, listener: (...args: any[]) => void): this {
    this.mainEmitter.prependListener(ev, listener);
    return this;
  }

  /**
   * Adds a one-time listener before the others of the main namespace.
   *
   * @example
   * io.prependOnceListener("connection", onConnection);
   */
  public override prependOnceListener(ev: string | symbol, listener: (...args: any[]) => void): this {
    this.mainEmitter.prependOnceListener(ev, listener);
    return this;
  }

  /**
   * Removes a listener of the main namespace.
   *
   * @example
   * io.off("connection", onConnection);
   */
  public override off(ev: string | symbol, listener: (...args: any[]) => void): this {
    this.mainEmitter.off(ev, listener);
    return this;
  }

  /**
   * Same as `off()`.
   *
   * @example
   * io.removeListener("connection", onConnection);
   */
  public override removeListener(ev: string | symbol, listener: (...args: any[]) => void): this {
    this.mainEmitter.removeListener(ev, listener);
    return this;
  }

  /**
   * Removes every listener of an event, or of all events, of the main namespace.
   *
   * @example
   * io.removeAllListeners("connection");
   */
  public override removeAllListeners(ev?: string | symbol): this {
    if (ev === undefined) {
      this.mainEmitter.removeAllListeners();
    } else {
      this.mainEmitter.removeAllListeners(ev);
    }
    return this;
  }

  /**
   * The listeners of an event of the main namespace, `once()` wrappers included.
   *
   * @example
   * io.rawListeners("connection");
   */
  public override rawListeners(ev: string | symbol): ((...args: any[]) => void)[] {
    return this.mainEmitter.rawListeners(ev) as ((...args: any[]) => void)[];
  }

  /**
   * The number of listeners of an event of the main namespace.
   *
   * @example
   * io.listenerCount("connection");
   */
  public override listenerCount(ev: string | symbol, listener?: (...args: any[]) => void): number {
    return this.mainEmitter.listenerCount(ev, listener);
  }

  /**
   * The events the main namespace has listeners for.
   *
   * @example
   * io.eventNames(); // ["connection"]
   */
  public override eventNames(): (string | symbol)[] {
    return this.mainEmitter.eventNames();
  }

  /**
   * Sets the listener count over which the main namespace warns of a leak.
   *
   * @example
   * io.setMaxListeners(20);
   */
  public override setMaxListeners(n: number): this {
    this.mainEmitter.setMaxListeners(n);
    return this;
  }

  /**
   * The listener count over which the main namespace warns of a leak.
   *
   * @example
   * io.getMaxListeners(); // 10
   */
  public override getMaxListeners(): number {
    return this.mainEmitter.getMaxListeners();
  }
}
