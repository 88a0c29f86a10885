import debugModule from "debug";
import type { AdapterNamespace, NamespaceAdapter, Room, SocketId } from "./adapter";
import { BroadcastOperator, RemoteSocket } from "./broadcast-operator";
import type { Client } from "./client";
import type { Server } from "./server";
import { runMiddlewares } from "./middleware";
import { isV2Client } from "./v2-clients";
import { Socket } from "./socket";
import { SessionKeeper } from "./session-keeper";
import {
  AllButLast,
  DecorateAcknowledgementsWithTimeoutAndMultipleResponses,
  DefaultEventsMap,
  EventNames,
  EventNamesWithoutAck,
  EventNamesWithAck,
  EventParams,
  EventsMap,
  FirstNonErrorArg,
  Last,
  StrictEventListener,
} from "./typed-events";

const debug = debugModule("socket.io:namespace");

const RESOLVED: Promise<void> = Promise.resolve();

function afterMiddlewares(
  nsp: Namespace<any, any, any, any>,
  socket: Socket<any, any, any, any>,
  fn: (socket: Socket<any, any, any, any>) => void,
  err: ExtendedError | undefined,
): void {
  nsp._afterMiddlewares(socket, fn, err);
}

function emitRateLimited(
  nsp: Namespace<any, any, any, any>,
  socket: Socket<any, any, any, any>,
  event: string,
): void {
  nsp._emitRateLimited(socket, event);
}

export interface ExtendedError extends Error {
  data?: any;
}

export interface NamespaceReservedEventsMap<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> {
  connect: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
  connection: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
  /** an event of `socket` over the `rateLimit` option: dropped, or the socket disconnected */
  rate_limited: (
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    event: string,
  ) => void;
}

export interface ServerReservedEventsMap<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> extends NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  new_namespace: (namespace: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
}

export const RESERVED_EVENTS: ReadonlySet<string | symbol> = new Set<
  keyof ServerReservedEventsMap<never, never, never, never>
>(["connect", "connection", "new_namespace"]);

type Middleware<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> = (
  socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
  next: (err?: ExtendedError) => void,
) => void;

/**
 * A communication channel that splits the logic of an application over a
 * single shared connection. Each namespace has its own event handlers, rooms
 * and middlewares.
 *
 * @example
 * const orderNamespace = io.of("/order");
 *
 * orderNamespace.on("connection", (socket) => {
 *   socket.join("room1");
 *   orderNamespace.to("room1").emit("hello");
 * });
 */
export class Namespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends StrictEventListener<
  ServerSideEvents,
  NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
> {
  public readonly name: string;
  /** The connected sockets of this node, by id. */
  public readonly sockets: Map<SocketId, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> =
    new Map();
  /** The adapter of this namespace: rooms, broadcasts, and the other nodes of a cluster. */
  public adapter!: NamespaceAdapter;
  public readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  // Counters, plain fields read on demand (`io.metrics()`), as the engine's
  /** Events received from the clients (before any rate limit). */
  eventsReceivedCount = 0;
  /** Events sent to the clients, one per socket reached (a broadcast counts its recipients). */
  eventsSentCount = 0;
  /** Sessions restored by connection state recovery. */
  recoveriesCount = 0;
  /** Sessions a client asked to recover that could not be restored (unknown, expired, already live). */
  recoveryFailuresCount = 0;

  /**
   * The sockets still running the middlewares, by id: not connected yet, so
   * not in `sockets`. Tools and tests inspect it, as with the reference.
   */
  _preConnectSockets: Map<SocketId, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> =
    new Map();
  /**
   * The middlewares, run on every new socket.
   *
   * @internal
   */
  _fns: Array<Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> = [];
  /** The ack id counter, shared with the adapter for broadcasts with acks. */
  _ids: number = 0;
  /** Events dropped by the `rateLimit` option (`onLimit: "drop"`). */
  rateLimitDroppedCount = 0;
  /**
   * Stores the sessions of the connected sockets (`connectionStateRecovery.persistWhileConnected`).
   *
   * @internal
   */
  _sessionKeeper: SessionKeeper | undefined;
  /** Sockets disconnected by the `rateLimit` option (`onLimit: "disconnect"`). */
  rateLimitDisconnectsCount = 0;

  constructor(server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, name: string) {
    super();
    this.server = server;
    this.name = name;
    this._initAdapter();
    const recovery = server._opts.connectionStateRecovery;
    if (recovery && recovery.persistWhileConnected) {
      this._sessionKeeper = new SessionKeeper(this, recovery.maxDisconnectionDuration!);
    }
  }

  /**
   * Creates the adapter; also called again when `io.adapter(...)` changes it.
   *
   * @internal
   */
  _initAdapter(): void {
    // a function building the adapter is called with `new` too: it returns the adapter
    const AdapterClass = this.server.adapter() as new (nsp: AdapterNamespace) => NamespaceAdapter;
    this.adapter = new AdapterClass(this);
    Promise.resolve(this.adapter.init()).catch((err: Error) => {
      debug("adapter init failed: %s", err && err.message);
    });
  }

  /**
   * Registers a middleware, run for every incoming socket before its
   * "connection" event. `next(err)` refuses the socket with a CONNECT_ERROR.
   *
   * @example
   * myNamespace.use((socket, next) => {
   *   if (isValid(socket.handshake.auth.token)) return next();
   *   next(new Error("not authorized"));
   * });
   */
  public use(fn: Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): this {
    this._fns.push(fn);
    return this;
  }

  private operator(): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter);
  }

  /**
   * Targets a room when emitting.
   *
   * @example
   * myNamespace.to("room-101").emit("foo", "bar");
   */
  public to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.operator().to(room);
  }

  /**
   * Targets a room when emitting. Alias of `to()`.
   *
   * @example
   * myNamespace.in("room-101").disconnectSockets();
   */
  public in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.operator().in(room);
  }

  /**
   * Excludes a room when emitting.
   *
   * @example
   * myNamespace.except("room-101").emit("foo", "bar");
   */
  public except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.operator().except(room);
  }

  /**
   * Creates a socket for a client that asked to join, runs the middlewares,
   * then connects it. `fn` runs once the socket is connected.
   *
   * @internal
   */
  async _add(
    client: Client<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    auth: Record<string, unknown>,
    fn: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): Promise<Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
    debug("adding socket to nsp %s", this.name);
    const recovery = this.server._opts.connectionStateRecovery;
    let socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
    if (recovery && typeof auth?.pid === "string" && typeof auth.offset === "string") {
      socket = await this.restoreSocket(client, auth, auth.pid, auth.offset);
    } else {
      socket = new Socket(this, client, auth);
      // the middlewares run a microtask later, as after a session lookup
      await RESOLVED;
    }

    if (socket.recovered && recovery && recovery.skipMiddlewares) {
      // the session lookup may be asynchronous: the client can be gone by now
      if (client.conn.readyState !== "open") {
        socket._cleanup();
      } else {
        this._doConnect(socket, fn);
      }
      return socket;
    }

    this._preConnectSockets.set(socket.id, socket);
    runMiddlewares(this._fns, socket, (err) => {
      process.nextTick(afterMiddlewares, this, socket, fn, err);
    });
    return socket;
  }

  /**
   * Connects the socket once the middlewares accepted it, or sends the refusal.
   *
   * @internal
   */
  _afterMiddlewares(
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    fn: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
    err: ExtendedError | undefined,
  ): void {
    this._preConnectSockets.delete(socket.id);
    const client = socket.client;
    if (client.conn.readyState !== "open") {
      debug("next called after client was closed - ignoring socket");
      socket._cleanup();
      return;
    }
    if (err) {
      debug("middleware error, sending CONNECT_ERROR packet to the client");
      socket._cleanup();
      if (isV2Client(client.conn)) {
        return socket._error(err.data || err.message);
      }
      return socket._error({ message: err.message, data: err.data });
    }
    this._doConnect(socket, fn);
  }

  /** A socket for a client that presents a session: the restored one, or a new one. */
  private async restoreSocket(
    client: Client<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    auth: Record<string, unknown>,
    pid: string,
    offset: string,
  ): Promise<Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
    let session;
    try {
      session = await this.adapter.restoreSession(pid, offset);
    } catch (e) {
      debug("error while restoring session: %s", e);
    }
    // A client back before the server noticed it left may present a session that an
    // earlier reconnection already restored: two sockets with one id would each
    // remove the other's rooms and map entry when they close, so it starts afresh.
    // the marker left by a socket that ended for good (`persistWhileConnected`): as without
    // the option, where nothing would have been stored, the client starts afresh
    if (session && (session as { closed?: boolean }).closed === true) {
      debug("session of %s ended for good", session.sid);
      session = null;
    }
    if (session && this.sockets.has(session.sid)) {
      debug("session of %s is already restored and live", session.sid);
      session = null;
    }
    if (session) {
      debug("connection state recovered for sid %s", session.sid);
      this.recoveriesCount++;
      return new Socket(this, client, auth, session);
    }
    this.recoveryFailuresCount++;
    return new Socket(this, client, auth);
  }

  private _doConnect(
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    fn: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): void {
    this.sockets.set(socket.id, socket);
    // the CONNECT packet goes before anything the "connection" listeners emit
    socket._onconnect();
    if (fn) fn(socket);
    this.emitReserved("connect", socket);
    this.emitReserved("connection", socket);
    // stored at the end of the tick: the rooms joined by the listeners are included
    if (this._sessionKeeper !== undefined) this._sessionKeeper.mark(socket);
  }

  /**
   * Forgets a socket that disconnected.
   *
   * @internal
   */
  _remove(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    if (this.sockets.has(socket.id)) {
      this.sockets.delete(socket.id);
    } else {
      debug("ignoring remove for %s", socket.id);
    }
  }

  /**
   * An event of `socket` over the `rateLimit` option: counted, reported to the
   * "rate_limited" listeners, and with `disconnect` the socket is disconnected.
   *
   * @internal
   */
  _onRateLimited(
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    event: string,
    disconnect: boolean,
  ): void {
    // received all the same (the metrics count events before any rate limit)
    this.eventsReceivedCount++;
    if (disconnect) {
      this.rateLimitDisconnectsCount++;
      socket._disconnectWith("rate limit exceeded");
    } else {
      this.rateLimitDroppedCount++;
    }
    // on a later tick, as the application's event handlers run: what a listener throws
    // is the application's error, not one of the packet being decoded
    if (this.listenerCount("rate_limited") > 0) {
      process.nextTick(emitRateLimited, this, socket, event);
    }
  }

  /** @internal */
  _emitRateLimited(
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    event: string,
  ): void {
    this.emitReserved("rate_limited", socket, event);
  }

  /**
   * Emits to every client of the namespace. Checked against the events map without
   * acknowledgements: with several clients, a callback needs `timeout()` (see
   * `emitWithAck()`).
   *
   * @example
   * myNamespace.emit("hello", "world");
   */
  public override emit<Ev extends EventNamesWithoutAck<EmitEvents>>(
    ev: Ev,
    ...args: EventParams<EmitEvents, Ev>
  ): boolean {
    return this.operator().emit(ev, ...args);
  }

  /**
   * Emits and waits for the acknowledgements of every client.
   *
   * @example
   * const responses = await myNamespace.timeout(1000).emitWithAck("some-event");
   */
  public emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>> {
    return this.operator().emitWithAck(ev as any, ...(args as any)) as any;
  }

  /**
   * Sends a `message` event to every client.
   *
   * @example
   * myNamespace.send("hello");
   */
  public send(...args: EventParams<EmitEvents, "message">): this {
    this.emit("message" as any, ...(args as any));
    return this;
  }

  /**
   * Sends a `message` event to every client. Alias of `send()`.
   *
   * @example
   * myNamespace.write("hello");
   */
  public write(...args: EventParams<EmitEvents, "message">): this {
    return this.send(...args);
  }

  /**
   * Emits to the other Socket.IO servers of the cluster (through the adapter).
   * A trailing function receives their acknowledgements.
   *
   * @example
   * myNamespace.serverSideEmit("hello", "world");
   *
   * myNamespace.on("hello", (arg1) => {
   *   console.log(arg1); // prints "world"
   * });
   */
  public serverSideEmit<Ev extends EventNames<ServerSideEvents>>(
    ev: Ev,
    ...args: EventParams<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<ServerSideEvents>, Ev>
  ): boolean {
    if (RESERVED_EVENTS.has(ev)) {
      throw new Error(`"${String(ev)}" is a reserved event name`);
    }
    this.adapter.serverSideEmit([ev, ...args]);
    return true;
  }

  /**
   * Emits to the other servers and waits for their acknowledgements.
   *
   * @example
   * const responses = await myNamespace.serverSideEmitWithAck("some-event");
   */
  public serverSideEmitWithAck<Ev extends EventNamesWithAck<ServerSideEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<ServerSideEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<ServerSideEvents, Ev>>>[]> {
    return new Promise((resolve, reject) => {
      args.push((err: Error | null, responses: any) => (err ? reject(err) : resolve(responses)));
      this.serverSideEmit(ev, ...(args as any));
    });
  }

  /**
   * Announces a namespace created after this one ("new_namespace"): called on the main
   * namespace, whose listeners are the server's. Emitted untyped, as the event belongs to
   * the server's reserved events, not to a namespace's.
   *
   * @internal
   */
  _onNewNamespace(nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    this.emitUntyped("new_namespace", nsp);
  }

  /** Delivers an event sent by another server with `serverSideEmit()`. */
  _onServerSideEmit(args: [string, ...any[]]): void {
    this.emitUntyped(...args);
  }

  /**
   * Returns the ids of the connected sockets.
   *
   * @deprecated use `fetchSockets()` instead.
   */
  public allSockets(): Promise<Set<SocketId>> {
    return this.operator().allSockets();
  }

  /**
   * Sets the compress flag.
   *
   * @example
   * myNamespace.compress(false).emit("hello");
   */
  public compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return this.operator().compress(compress);
  }

  /**
   * The event may be lost if a client is not ready to receive it.
   *
   * @example
   * myNamespace.volatile.emit("hello");
   */
  public get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return this.operator().volatile;
  }

  /**
   * The event is only sent to the clients of this node.
   *
   * @example
   * myNamespace.local.emit("foo", "bar");
   */
  public get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.operator().local;
  }

  /**
   * Sets a timeout for the acknowledgements of every client.
   *
   * @example
   * myNamespace.timeout(1000).emit("some-event", (err, responses) => {});
   */
  public timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<EmitEvents>, SocketData> {
    return this.operator().timeout(timeout);
  }

  /**
   * Returns the matching socket instances.
   *
   * @example
   * const sockets = await myNamespace.in("room1").fetchSockets();
   */
  public fetchSockets(): Promise<RemoteSocket<EmitEvents, SocketData>[]> {
    return this.operator().fetchSockets();
  }

  /**
   * Makes the matching sockets join the given rooms.
   *
   * @example
   * myNamespace.in("room1").socketsJoin(["room2", "room3"]);
   */
  public socketsJoin(room: Room | Room[]): void {
    return this.operator().socketsJoin(room);
  }

  /**
   * Makes the matching sockets leave the given rooms.
   *
   * @example
   * myNamespace.socketsLeave("room1");
   */
  public socketsLeave(room: Room | Room[]): void {
    return this.operator().socketsLeave(room);
  }

  /**
   * Disconnects the matching sockets; with `close`, their whole connection.
   *
   * @example
   * myNamespace.disconnectSockets(true);
   */
  public disconnectSockets(close: boolean = false): void {
    return this.operator().disconnectSockets(close);
  }
}
