import type { IncomingHttpHeaders, IncomingMessage } from "http";
import type { ParsedUrlQuery } from "querystring";
import { EventEmitter } from "events";
import debugModule from "debug";
import type { BroadcastFlags, NamespaceAdapter, Room, Session, SessionToPersist, SocketId } from "./adapter";
import { assertNotReserved, BroadcastOperator } from "./broadcast-operator";
import type { Client, WriteOptions } from "./client";
import type { Socket as EngineSocket } from "./engine/socket";
import type { Namespace } from "./namespace";
import { runMiddlewares } from "./middleware";
import { generateId } from "./ids";
import { emptyObject } from "./lean-objects";
import { listenerTables } from "./engine/listener-table";
import { isV2Client } from "./v2-clients";
import { storeSession } from "./session-keeper";
import { Packet, PacketType } from "./codec";
import type { Server } from "./server";
import {
  AllButLast,
  DecorateAcknowledgements,
  DefaultEventsMap,
  EventNames,
  EventNamesWithAck,
  EventParams,
  EventsMap,
  FirstNonErrorArg,
  Last,
  StrictEventEmitter,
} from "./typed-events";

const debug = debugModule("socket.io:socket");

// the listener tables of Socket.IO sockets (see engine/listener-table.ts)
const compactTable = listenerTables();

const emitToListeners = EventEmitter.prototype.emit;

/** Why a socket was disconnected, as given to the "disconnect" listeners. */
export type DisconnectReason =
  | "transport error"
  | "transport close"
  | "forced close"
  | "ping timeout"
  | "write buffer full"
  | "parse error"
  | "server shutting down"
  | "forced server close"
  | "client namespace disconnect"
  | "server namespace disconnect"
  | "rate limit exceeded";

/** Reasons after which a client may come back and recover its session. */
const RECOVERABLE_DISCONNECT_REASONS: ReadonlySet<DisconnectReason> = new Set([
  "transport error",
  "transport close",
  "forced close",
  "ping timeout",
  "write buffer full",
  "server shutting down",
  "forced server close",
]);

export interface SocketReservedEventsMap {
  disconnect: (reason: DisconnectReason, description?: any) => void;
  disconnecting: (reason: DisconnectReason, description?: any) => void;
  error: (err: Error) => void;
}

/** The handshake details of a socket, read from the Engine.IO request. */
export interface Handshake {
  /** The headers sent as part of the handshake. */
  headers: IncomingHttpHeaders;
  /** The date of creation (as string). */
  time: string;
  /** The ip of the client. */
  address: string;
  /** Whether the connection is cross-domain. */
  xdomain: boolean;
  /** Whether the connection is secure. */
  secure: boolean;
  /** The date of creation (as unix timestamp). */
  issued: number;
  /** The request URL string. */
  url: string;
  /** The query object. */
  query: ParsedUrlQuery;
  /** The auth object sent by the client in its CONNECT packet. */
  auth: { [key: string]: any };
}

/** A socket middleware: runs on every incoming event packet. */
export type Event = [string, ...any[]];

interface SocketFlags extends BroadcastFlags {
  timeout?: number;
}

type AnyListener = (...args: any[]) => void;

type SocketMiddleware = (event: Event, next: (err?: Error) => void) => void;

// `handshake.time` is the date as a string, to the second: the sockets that connect within
// the same second share one string rather than hold a copy each.
let lastSecond = NaN;
let lastDateString = "";

function dateString(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastDateString = new Date(ms) + "";
  }
  return lastDateString;
}

function emitEvent(socket: Socket<any, any, any, any>, args: any[]): void {
  socket._dispatchEvent(args);
}

// The client names the events it sends, "error" included (CVE-2024-38355): without a
// listener, an "error" event throws ERR_UNHANDLED_ERROR out of the packet handler and ends
// the process. So every socket listens to its own "error" from its creation, as the
// reference does; middleware and parse errors are reported through debug and reach the
// application's own listeners, never stderr.
function onOwnError(this: Socket<any, any, any, any>, err: unknown): void {
  debug("socket %s error: %s", this.id, err instanceof Error ? err.message : err);
}

/**
 * The link between a client and one namespace. A client connected to several
 * namespaces has one Socket per namespace, all over the same connection.
 *
 * @example
 * io.on("connection", (socket) => {
 *   console.log(`socket ${socket.id} connected`);
 *   socket.emit("foo", "bar");
 *   socket.on("foobar", () => {});
 *   socket.join("room1");
 *   socket.on("disconnect", (reason) => {
 *     console.log(`socket ${socket.id} disconnected due to ${reason}`);
 *   });
 * });
 */
export class Socket<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends StrictEventEmitter<ListenEvents, EmitEvents, SocketReservedEventsMap> {
  /** An unique identifier for the session. */
  public readonly id: SocketId;
  /** Whether the connection state was recovered after a temporary disconnection. */
  public readonly recovered: boolean = false;
  /** The handshake details. */
  public readonly handshake: Handshake;
  /** Additional information that can be attached to the socket and read by `fetchSockets()`. */
  public data: SocketData = emptyObject() as SocketData;
  /** Whether the socket is currently connected or not. */
  public connected: boolean = false;

  public readonly nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  public readonly client: Client<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;

  /** The private id, sent to the client to recover this session later. */
  private readonly pid?: string;
  // made on the first acknowledgement: most sockets never wait for one (see `acks`)
  private _acks: Map<number, (...args: any[]) => void> | undefined;

  private readonly adapter: NamespaceAdapter;
  // the middlewares, made on first use (`use()` or a read of `fns`): most sockets have none
  private _fns: SocketMiddleware[] | undefined;
  // the flags of the next emit, made on first use (a flag, or a read of `flags`)
  private _flags: SocketFlags | undefined;
  private _anyListeners?: AnyListener[];
  private _anyOutgoingListeners?: AnyListener[];
  /**
   * The token buckets of the `rateLimit` option (rate-limit.ts), made with the first event
   * when the option is set: never assigned otherwise, so a socket has no such property.
   *
   * @internal
   */
  _rateState?: number[];

  /**
   * Created by the namespace, not by users.
   *
   * @param previousSession the session restored by connection state recovery
   */
  constructor(
    nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    client: Client<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    auth: Record<string, unknown>,
    previousSession?: Session,
  ) {
    super();
    compactTable(this);
    this.nsp = nsp;
    this._acks = undefined;
    this._fns = undefined;
    this._flags = undefined;
    this.adapter = nsp.adapter;
    this.client = client;
    if (previousSession) {
      this.id = previousSession.sid;
      this.pid = previousSession.pid;
      previousSession.rooms.forEach((room) => this.join(room));
      this.data = previousSession.data as SocketData;
      // written before the CONNECT packet, as socket.io 4.8 does: socket.io-client buffers
      // them and emits them before its "connect" event
      for (const data of previousSession.missedPackets) {
        this.packet({ type: PacketType.EVENT, nsp: "", data });
      }
      this.recovered = true;
    } else {
      if (isV2Client(client.conn)) {
        // socket.io v2 clients derive their socket id from the connection id
        this.id = nsp.name !== "/" ? nsp.name + "#" + client.id : client.id;
      } else {
        this.id = generateId();
      }
      if (this.server._opts.connectionStateRecovery) {
        this.pid = generateId();
      }
    }
    this.handshake = this.buildHandshake(auth);
    super.on("error", onOwnError);
  }

  /**
   * The middlewares of `use()`, in order: a middleware pushed here runs as one given to `use()`.
   *
   * @internal
   */
  get fns(): SocketMiddleware[] {
    return this._fns || (this._fns = []);
  }

  set fns(fns: SocketMiddleware[]) {
    this._fns = fns;
  }

  /**
   * The flags of the next emit (`volatile`, `compress`, `timeout`...); the emit takes them
   * and leaves an empty set.
   *
   * @internal
   */
  get flags(): SocketFlags {
    return this._flags || (this._flags = emptyObject());
  }

  set flags(flags: SocketFlags) {
    this._flags = flags;
  }

  // read through the namespace rather than held by every socket
  private get server(): Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    return this.nsp.server;
  }

  private buildHandshake(auth: Record<string, unknown>): Handshake {
    // A connection may come without its HTTP request: a WebTransport-style
    // one, or an app that dropped `rawSocket.request` to save memory. Such a
    // socket connects as with the reference: secure, no headers, no query.
    const request = this.request as (IncomingMessage & { _query?: ParsedUrlQuery }) | null | undefined;
    const issued = Date.now();
    return {
      headers: (request && request.headers) || {},
      time: dateString(issued),
      address: this.conn.remoteAddress,
      xdomain: !!(request && request.headers && request.headers.origin),
      secure: !request || !request.connection || !!(request.connection as { encrypted?: boolean }).encrypted,
      issued,
      url: (request ? request.url : undefined) as string,
      query: (request && request._query) || {},
      auth,
    };
  }

  /**
   * Emits to this client. A trailing function is an acknowledgement callback.
   *
   * @example
   * socket.emit("hello", "world", { a: 1 }, Buffer.from([1, 2, 3]));
   *
   * socket.emit("with-ack", "data", (answer) => {
   *   console.log(answer);
   * });
   */
  public override emit<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: EventParams<EmitEvents, Ev>
  ): boolean {
    assertNotReserved(ev);
    const data: unknown[] = [ev, ...args];
    const packet: Packet = { type: PacketType.EVENT, data, nsp: "" };

    if (typeof data[data.length - 1] === "function") {
      const id = this.nsp._ids++;
      debug("emitting packet with ack id %d", id);
      this.registerAckCallback(id, data.pop() as AnyListener);
      packet.id = id;
    }

    // the emit takes the flags: they become the write options of its packets (as with the
    // reference, "packetCreate" listeners see them, with `compress` set)
    const flags = this._flags || {};
    this._flags = undefined;

    try {
      if (this.server._opts.connectionStateRecovery) {
        // through the adapter, so that the packet gets an offset and is kept for
        // a recovering client
        this.adapter.broadcast(packet, {
          rooms: new Set([this.id]),
          except: new Set(),
          flags,
        });
      } else {
        this.notifyOutgoingListeners(packet);
        this.packet(packet, flags);
      }
    } catch (err) {
      // data that cannot be encoded (too deep, circular) never left: its acknowledgement
      // will not come, and a timeout must not report it later
      if (packet.id !== undefined && this._acks !== undefined) {
        this._acks.delete(packet.id);
      }
      throw err;
    }
    return true;
  }

  /**
   * Emits and returns a promise of the client's acknowledgement.
   *
   * @example
   * const answer = await socket.timeout(1000).emitWithAck("hello", "world");
   */
  public emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>> {
    const withErr = this._flags !== undefined && this._flags.timeout !== undefined;
    return new Promise((resolve, reject) => {
      args.push((arg1: any, arg2: any) => {
        if (withErr) {
          return arg1 ? reject(arg1) : resolve(arg2);
        }
        return resolve(arg1);
      });
      this.emit(ev, ...(args as any));
    });
  }

  /**
   * Acknowledgement callbacks by packet id; the adapter registers broadcast acks here.
   * The map is made on first access.
   *
   * @example
   * socket.acks.set(id, (answer) => console.log(answer));
   */
  public get acks(): Map<number, (...args: any[]) => void> {
    return this._acks || (this._acks = new Map());
  }

  public set acks(acks: Map<number, (...args: any[]) => void>) {
    this._acks = acks;
  }

  /**
   * Forgets the acknowledgement registered under `id` if it is `ack`, without making the map.
   *
   * @internal
   */
  _forgetAck(id: number, ack: unknown): void {
    const acks = this._acks;
    if (acks !== undefined && acks.get(id) === ack) acks.delete(id);
  }

  /**
   * Acknowledgements awaited from the client, counted without making the map.
   *
   * @internal
   */
  get _acksPending(): number {
    return this._acks === undefined ? 0 : this._acks.size;
  }

  private registerAckCallback(id: number, ack: AnyListener): void {
    const timeout = this._flags !== undefined ? this._flags.timeout : undefined;
    if (timeout === undefined) {
      this.acks.set(id, ack);
      return;
    }
    const timer = setTimeout(() => {
      // gone when the emit failed, or answered in the meantime
      if (!this.acks.delete(id)) return;
      debug("event with ack id %d has timed out after %d ms", id, timeout);
      ack.call(this, new Error("operation has timed out"));
    }, timeout);
    this.acks.set(id, (...args: unknown[]) => {
      clearTimeout(timer);
      ack.apply(this, [null, ...args]);
    });
  }

  /**
   * Targets a room when broadcasting: every socket in the room but this one.
   *
   * @example
   * socket.to("room-101").emit("foo", "bar");
   */
  public to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().to(room);
  }

  /**
   * Targets a room when broadcasting. Alias of `to()`.
   *
   * @example
   * socket.in("room-101").emit("foo", "bar");
   */
  public in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().in(room);
  }

  /**
   * Excludes a room when broadcasting.
   *
   * @example
   * socket.except("room-101").emit("foo", "bar");
   */
  public except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().except(room);
  }

  /**
   * Sends a `message` event.
   *
   * @example
   * socket.send("hello");
   * // same as socket.emit("message", "hello");
   */
  public send(...args: EventParams<EmitEvents, "message">): this {
    this.emit("message" as any, ...(args as any));
    return this;
  }

  /**
   * Sends a `message` event. Alias of `send()`.
   *
   * @example
   * socket.write("hello");
   */
  public write(...args: EventParams<EmitEvents, "message">): this {
    return this.send(...args);
  }

  /** Writes a packet for this namespace to the client; `opts` become its write options. */
  private packet(packet: Packet, opts: SocketFlags & WriteOptions = {}): void {
    packet.nsp = this.nsp.name;
    opts.compress = opts.compress !== false;
    this.client._packet(packet, opts);
  }

  /**
   * Joins a room. Returns a promise when the adapter is asynchronous.
   *
   * @example
   * socket.join("room1");
   * socket.join(["room1", "room2"]);
   */
  public join(rooms: Room | Array<Room>): Promise<void> | void {
    debug("join room %s", rooms);
    const result = this.adapter.addAll(this.id, new Set(Array.isArray(rooms) ? rooms : [rooms]));
    const keeper = this.nsp._sessionKeeper;
    if (keeper !== undefined && this.connected) keeper.mark(this);
    return result;
  }

  /**
   * Leaves a room. Returns a promise when the adapter is asynchronous.
   *
   * @example
   * socket.leave("room1");
   */
  public leave(room: Room): Promise<void> | void {
    debug("leave room %s", room);
    const result = this.adapter.del(this.id, room);
    const keeper = this.nsp._sessionKeeper;
    if (keeper !== undefined && this.connected) keeper.mark(this);
    return result;
  }

  private leaveAll(): void {
    this.adapter.delAll(this.id);
  }

  /**
   * Called by the namespace once the middlewares accepted the socket.
   *
   * @internal
   */
  _onconnect(): void {
    debug("socket connected - writing packet");
    this.connected = true;
    this.join(this.id);
    if (isV2Client(this.conn)) {
      this.packet({ type: PacketType.CONNECT, nsp: "" });
    } else {
      this.packet({
        type: PacketType.CONNECT,
        nsp: "",
        data: { sid: this.id, pid: this.pid },
      });
    }
  }

  /**
   * Called by the client with every decoded packet for this namespace.
   *
   * @internal
   */
  _onpacket(packet: Packet): void {
    // guarded on the per-packet path: a call builds its arguments even when disabled
    if (debug.enabled) debug("got packet %j", packet);
    switch (packet.type) {
      case PacketType.EVENT:
      case PacketType.BINARY_EVENT:
        this.nsp.eventsReceivedCount++;
        this.onevent(packet);
        break;
      case PacketType.ACK:
      case PacketType.BINARY_ACK:
        this.onack(packet);
        break;
      case PacketType.DISCONNECT:
        this._onclose("client namespace disconnect");
        break;
    }
  }

  private onevent(packet: Packet): void {
    const args: any[] = packet.data || [];
    if (debug.enabled) debug("emitting event %j", args);
    if (packet.id != null) {
      args.push(this.ack(packet.id));
    }
    if (this._anyListeners && this._anyListeners.length) {
      for (const listener of this._anyListeners.slice()) {
        listener.apply(this, args);
      }
    }
    if (this._fns === undefined) {
      process.nextTick(emitEvent, this, args);
      return;
    }
    runMiddlewares(this._fns, args as Event, (err) => {
      process.nextTick(() => {
        if (err) {
          return this._onerror(err);
        }
        emitEvent(this, args);
      });
    });
  }

  /**
   * Emits a received event to the listeners, unless the socket is gone.
   *
   * @internal
   */
  _dispatchEvent(args: any[]): void {
    if (!this.connected) {
      debug("ignore packet received after disconnection");
    } else if (args[0] === "error" && this.listenerCount("error") === 0) {
      // the application removed every "error" listener, ours included
      debug("ignore 'error' event without listener");
    } else {
      // the emitter's own emit (Socket.emit sends to the client), with the array as it is
      emitToListeners.apply(this, args as [string, ...any[]]);
    }
  }

  /** The acknowledgement function handed to the listener of an event. */
  private ack(id: number): AnyListener {
    let sent = false;
    return (...args: unknown[]) => {
      if (sent) return;
      if (debug.enabled) debug("sending ack %j", args);
      // marked as sent once encoded: data that cannot be encoded throws, and the
      // handler may still answer
      this.packet({ id, type: PacketType.ACK, data: args, nsp: "" });
      sent = true;
    };
  }

  private onack(packet: Packet): void {
    const acks = this._acks;
    const ack = packet.id !== undefined && acks !== undefined ? acks.get(packet.id) : undefined;
    if (typeof ack !== "function") {
      // an answer that arrives after its timeout, or for an id never sent
      debug("bad ack %s", packet.id);
      return;
    }
    if (debug.enabled) debug("calling ack %s with %j", packet.id, packet.data);
    acks!.delete(packet.id!);
    ack.apply(this, packet.data);
  }

  /**
   * Reports an error to the "error" listeners (middleware or parse errors).
   *
   * @internal
   */
  _onerror(err: Error): void {
    if (this.listenerCount("error") > 0) {
      this.emitReserved("error", err);
    } else {
      debug("socket %s error: %s", this.id, err.message);
    }
  }

  /**
   * Called when the client disconnects from this namespace, or the whole
   * connection closes.
   *
   * @internal
   */
  _onclose(reason: DisconnectReason, description?: any): this | undefined {
    if (!this.connected) return this;
    debug("closing socket - reason %s", reason);
    this.emitReserved("disconnecting", reason, description);

    if (this.server._opts.connectionStateRecovery && RECOVERABLE_DISCONNECT_REASONS.has(reason)) {
      debug("connection state recovery is enabled for sid %s", this.id);
      this.adapter.persistSession(this._sessionToPersist());
    } else if (this.nsp._sessionKeeper !== undefined) {
      // the copy stored while connected must not bring back a session that ended for good
      storeSession(this.adapter, { sid: this.id, pid: this.pid!, rooms: [], data: null, closed: true });
    }

    this._cleanup();
    this.client._remove(this);
    this.connected = false;
    this.emitReserved("disconnect", reason, description);
    return;
  }

  /**
   * The session as connection state recovery stores it.
   *
   * @internal
   */
  _sessionToPersist(): SessionToPersist {
    return { sid: this.id, pid: this.pid!, rooms: [...this.rooms], data: this.data };
  }

  /**
   * Leaves every room and the namespace; the socket cannot join again.
   *
   * @internal
   */
  _cleanup(): void {
    this.leaveAll();
    this.nsp._remove(this);
    this.join = noop;
  }

  /**
   * Sends a CONNECT_ERROR packet (a middleware refused the connection).
   *
   * @internal
   */
  _error(err: unknown): void {
    this.packet({ type: PacketType.CONNECT_ERROR, data: err, nsp: "" });
  }

  /**
   * Disconnects this socket; with `close`, the whole underlying connection
   * (every namespace of this client).
   *
   * @example
   * socket.disconnect();
   * socket.disconnect(true);
   */
  public disconnect(close = false): this {
    if (!this.connected) return this;
    if (close) {
      this.client._disconnect();
    } else {
      this._disconnectWith("server namespace disconnect");
    }
    return this;
  }

  /**
   * Disconnects this socket from its namespace as `disconnect()` does (the client gets a
   * DISCONNECT packet), with `reason` given to the "disconnect" listeners.
   *
   * @internal
   */
  _disconnectWith(reason: DisconnectReason): void {
    this.packet({ type: PacketType.DISCONNECT, nsp: "" });
    this._onclose(reason);
  }

  /**
   * Sets the compress flag for the next emit.
   *
   * @example
   * socket.compress(false).emit("hello");
   */
  public compress(compress: boolean): this {
    this.flags.compress = compress;
    return this;
  }

  /**
   * The next event may be lost if the client is not ready to receive it.
   *
   * @example
   * socket.volatile.emit("hello");
   */
  public get volatile(): this {
    this.flags.volatile = true;
    return this;
  }

  /**
   * The next broadcast excludes this socket.
   *
   * @example
   * socket.broadcast.emit("foo", "bar");
   */
  public get broadcast(): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator();
  }

  /**
   * The next broadcast only reaches the clients of this node.
   *
   * @example
   * socket.local.emit("foo", "bar");
   */
  public get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().local;
  }

  /**
   * Sets a timeout for the acknowledgement of the next emit.
   *
   * @example
   * socket.timeout(5000).emit("my-event", (err) => {
   *   if (err) {
   *     // the client did not acknowledge the event in time
   *   }
   * });
   */
  public timeout(
    timeout: number,
  ): Socket<ListenEvents, DecorateAcknowledgements<EmitEvents>, ServerSideEvents, SocketData> {
    this.flags.timeout = timeout;
    return this as any;
  }

  /** Whether the socket is currently disconnected. */
  public get disconnected(): boolean {
    return !this.connected;
  }

  /** The http request of the underlying connection. */
  public get request(): IncomingMessage {
    return this.client.request;
  }

  /**
   * The underlying Engine.IO connection.
   *
   * @example
   * io.on("connection", (socket) => {
   *   console.log(socket.conn.transport.name); // "polling" or "websocket"
   *   socket.conn.once("upgrade", () => {
   *     console.log(socket.conn.transport.name); // "websocket"
   *   });
   * });
   */
  public get conn(): EngineSocket {
    return this.client.conn;
  }

  /**
   * The rooms this socket is in (its own id among them).
   *
   * @example
   * socket.join("room1");
   * console.log(socket.rooms); // Set { <socket.id>, "room1" }
   */
  public get rooms(): Set<Room> {
    return this.adapter.socketRooms(this.id) || new Set();
  }

  /**
   * Registers a middleware that runs for every incoming event.
   *
   * @example
   * socket.use(([event, ...args], next) => {
   *   if (isUnauthorized(event)) return next(new Error("unauthorized event"));
   *   next();
   * });
   */
  public use(fn: SocketMiddleware): this {
    this.fns.push(fn);
    return this;
  }

  /**
   * Adds a listener called for every incoming event, with its name first.
   *
   * @example
   * socket.onAny((event, ...args) => console.log(event, args));
   */
  public onAny(listener: AnyListener): this {
    this._anyListeners = this._anyListeners || [];
    this._anyListeners.push(listener);
    return this;
  }

  /**
   * Like `onAny()`, but the listener runs before the others.
   *
   * @example
   * socket.prependAny((event, ...args) => console.log(event, args));
   */
  public prependAny(listener: AnyListener): this {
    this._anyListeners = this._anyListeners || [];
    this._anyListeners.unshift(listener);
    return this;
  }

  /**
   * Removes a catch-all listener, or all of them without argument.
   *
   * @example
   * socket.offAny(handler);
   * socket.offAny();
   */
  public offAny(listener?: AnyListener): this {
    if (!this._anyListeners) return this;
    if (listener) {
      const index = this._anyListeners.indexOf(listener);
      if (index !== -1) this._anyListeners.splice(index, 1);
    } else {
      this._anyListeners = [];
    }
    return this;
  }

  /**
   * The catch-all listeners.
   *
   * @example
   * const listeners = socket.listenersAny();
   */
  public listenersAny(): AnyListener[] {
    return this._anyListeners || [];
  }

  /**
   * Adds a listener called for every outgoing event, broadcasts included.
   *
   * @example
   * socket.onAnyOutgoing((event, ...args) => console.log(event, args));
   */
  public onAnyOutgoing(listener: AnyListener): this {
    this._anyOutgoingListeners = this._anyOutgoingListeners || [];
    this._anyOutgoingListeners.push(listener);
    return this;
  }

  /**
   * Like `onAnyOutgoing()`, but the listener runs before the others.
   *
   * @example
   * socket.prependAnyOutgoing((event, ...args) => console.log(event, args));
   */
  public prependAnyOutgoing(listener: AnyListener): this {
    this._anyOutgoingListeners = this._anyOutgoingListeners || [];
    this._anyOutgoingListeners.unshift(listener);
    return this;
  }

  /**
   * Removes an outgoing catch-all listener, or all of them without argument.
   *
   * @example
   * socket.offAnyOutgoing(handler);
   */
  public offAnyOutgoing(listener?: AnyListener): this {
    if (!this._anyOutgoingListeners) return this;
    if (listener) {
      const index = this._anyOutgoingListeners.indexOf(listener);
      if (index !== -1) this._anyOutgoingListeners.splice(index, 1);
    } else {
      this._anyOutgoingListeners = [];
    }
    return this;
  }

  /**
   * The outgoing catch-all listeners.
   *
   * @example
   * const listeners = socket.listenersAnyOutgoing();
   */
  public listenersAnyOutgoing(): AnyListener[] {
    return this._anyOutgoingListeners || [];
  }

  /** Runs the outgoing catch-all listeners; the adapter calls it on broadcasts. */
  notifyOutgoingListeners(packet: Packet): void {
    // every event leaving for this socket passes here, whatever the adapter
    this.nsp.eventsSentCount++;
    if (this._anyOutgoingListeners && this._anyOutgoingListeners.length) {
      for (const listener of this._anyOutgoingListeners.slice()) {
        listener.apply(this, packet.data);
      }
    }
  }

  private newBroadcastOperator(): BroadcastOperator<EmitEvents, SocketData> {
    const flags = Object.assign({}, this._flags);
    this._flags = undefined;
    return new BroadcastOperator<EmitEvents, SocketData>(
      this.adapter,
      new Set<Room>(),
      new Set<Room>([this.id]),
      flags,
    );
  }
}

function noop(): void {}
