import { EventEmitter } from "events";
import type { EncodedPacket, Packet, PacketEncoder } from "../codec";
import { wsMessageFrame } from "../engine/ws-frame";
import type { WsPreEncodedFrame } from "../engine/ws-frame";

/** The id of a Socket.IO socket (also the name of its own room). */
export type SocketId = string;

/** The private id of a session, only ever shared with its own client (connection state recovery). */
export type PrivateSessionId = string;

/** A room name. Sockets join their own id as a room on connect. */
export type Room = string;

export interface BroadcastFlags {
  volatile?: boolean;
  compress?: boolean;
  local?: boolean;
  broadcast?: boolean;
  binary?: boolean;
  timeout?: number;
}

export interface BroadcastOptions {
  /** Target rooms (union); an empty set targets every socket of the namespace. */
  rooms: Set<Room>;
  /** Sockets in any of these rooms are skipped. */
  except?: Set<Room>;
  flags?: BroadcastFlags;
}

/** What the server hands to `persistSession()` when a socket disconnects unexpectedly. */
export interface SessionToPersist {
  sid: SocketId;
  pid: PrivateSessionId;
  rooms: Room[];
  data: unknown;
  /**
   * Set on the marker stored when a socket ends for good under
   * `connectionStateRecovery.persistWhileConnected`: such a session is never restored.
   */
  closed?: true;
}

/** A restored session: the persisted state plus the `data` arrays of the packets it missed. */
export type Session = SessionToPersist & { missedPackets: unknown[][] };

/** The options given to `socket.client.writeToEngine()` for an already encoded broadcast. */
export interface EncodedWriteOptions {
  preEncoded: true;
  volatile?: boolean;
  compress?: boolean;
  /** A complete WebSocket text frame ("4" + the single encoded chunk), built once per broadcast. */
  wsPreEncodedFrame?: WsPreEncodedFrame;
}

/** The members of a server-side socket the adapter relies on (see the adapter contract). */
export interface LocalSocket {
  id: SocketId;
  client: { writeToEngine(encodedPackets: EncodedPacket, opts: EncodedWriteOptions): void };
  acks: Map<number, (...args: any[]) => void>;
  notifyOutgoingListeners?: (packet: Packet) => void;
  readonly handshake: unknown;
  readonly rooms: Set<Room>;
  data: unknown;
  join(rooms: Room | Room[]): unknown;
  leave(room: Room): unknown;
  disconnect(close?: boolean): unknown;
}

/**
 * A socket as `fetchSockets()` resolves it: a local socket, or the details of a socket
 * of another node, as its adapter sent them.
 */
export interface FetchedSocket {
  id: SocketId;
  handshake: unknown;
  rooms: Iterable<Room>;
  data: unknown;
}

/** The members of a namespace the adapter relies on (see the adapter contract). */
export interface AdapterNamespace {
  readonly name: string;
  /** the connected local sockets, by id */
  readonly sockets: Map<SocketId, LocalSocket>;
  /** the namespace-wide ack id counter, shared with the sockets' own emits */
  _ids: number;
  readonly server: {
    /** the server's packet encoder: every broadcast is encoded once, with it */
    readonly encoder: PacketEncoder;
    readonly opts: { connectionStateRecovery?: { maxDisconnectionDuration?: number } };
  };
}

/**
 * What `io.adapter()` takes: an adapter class, or a function building the adapter of a
 * namespace (called with `new`, as the official adapters' `createAdapter()` expect).
 */
export type AdapterConstructor =
  (new (nsp: AdapterNamespace) => NamespaceAdapter) | ((nsp: AdapterNamespace) => NamespaceAdapter);

// Shared by every broadcast without `except` rooms; never mutated.
const NO_SIDS: ReadonlySet<SocketId> = new Set<SocketId>();

/** Per-broadcast state handed to the target visitor, so no closure is created per packet. */
interface Delivery {
  packet: Packet;
  encoded: EncodedPacket;
  writeOpts: EncodedWriteOptions;
  ack?: (...args: any[]) => void;
  count: number;
}

function deliver(socket: LocalSocket, d: Delivery): void {
  d.count++;
  if (d.ack !== undefined) {
    socket.acks.set(d.packet.id as number, d.ack);
  }
  // Sockets of older servers have no outgoing listeners hook.
  if (typeof socket.notifyOutgoingListeners === "function") {
    socket.notifyOutgoingListeners(d.packet);
  }
  socket.client.writeToEngine(d.encoded, d.writeOpts);
}

function invoke(socket: LocalSocket, callback: (socket: LocalSocket) => void): void {
  callback(socket);
}

/**
 * An adapter as the server sees it (see the adapter contract): the type of `namespace.adapter`.
 * Being an interface, it is met by the adapters built on socket.io-adapter's classes (Redis,
 * Postgres, cluster...), so that a cast to such an adapter compiles, as with the reference.
 *
 * @example
 * import type { RedisAdapter } from "@socket.io/redis-adapter";
 *
 * const adapter = io.of("/").adapter as RedisAdapter;
 * const rooms = await adapter.allRooms();
 */
export interface NamespaceAdapter extends EventEmitter {
  /** The members of each room. */
  rooms: Map<Room, Set<SocketId>>;
  /** The rooms of each socket. */
  sids: Map<SocketId, Set<Room>>;
  /** The namespace served. */
  nsp: AdapterNamespace;
  init(): Promise<void> | void;
  close(): Promise<void> | void;
  serverCount(): Promise<number>;
  addAll(id: SocketId, rooms: Set<Room>): Promise<void> | void;
  del(id: SocketId, room: Room): Promise<void> | void;
  delAll(id: SocketId): void;
  broadcast(packet: Packet, opts: BroadcastOptions): void;
  broadcastWithAck(
    packet: Packet,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: any[]) => void,
  ): void;
  sockets(rooms: Set<Room>): Promise<Set<SocketId>>;
  socketRooms(id: SocketId): Set<Room> | undefined;
  fetchSockets(opts: BroadcastOptions): Promise<FetchedSocket[]>;
  addSockets(opts: BroadcastOptions, rooms: Room[]): void;
  delSockets(opts: BroadcastOptions, rooms: Room[]): void;
  disconnectSockets(opts: BroadcastOptions, close: boolean): void;
  serverSideEmit(packet: unknown[]): void;
  persistSession(session: SessionToPersist): void;
  restoreSession(pid: PrivateSessionId, offset: string): Promise<Session | null>;
}

/**
 * The default, single-node adapter: it keeps the room memberships of the local sockets of one
 * namespace and delivers broadcasts to them. Multi-node adapters subclass it.
 *
 * Emits `create-room` (room), `delete-room` (room), `join-room` (room, id), `leave-room` (room, id).
 *
 * @example
 * const adapter = new Adapter(nsp);
 * adapter.on("join-room", (room, id) => console.log(`${id} joined ${room}`));
 * adapter.addAll(socket.id, new Set([socket.id, "news"]));
 */
export class Adapter extends EventEmitter implements NamespaceAdapter {
  public rooms: Map<Room, Set<SocketId>> = new Map();
  public sids: Map<SocketId, Set<Room>> = new Map();
  public nsp: AdapterNamespace;
  protected readonly encoder: PacketEncoder;

  /**
   * @param nsp the namespace this adapter serves (reads `name`, `sockets`, `_ids`, `server.encoder`)
   */
  constructor(nsp: AdapterNamespace) {
    super();
    this.nsp = nsp;
    this.encoder = nsp.server?.encoder;
  }

  /**
   * Called by the server right after construction; subclasses connect to their backend here.
   *
   * @example
   * await adapter.init();
   */
  public init(): Promise<void> | void {}

  /**
   * Called when the namespace or the server is closed.
   *
   * @example
   * await adapter.close();
   */
  public close(): Promise<void> | void {}

  /**
   * The number of nodes in the cluster: always 1 in memory.
   *
   * @example
   * const count = await adapter.serverCount(); // 1
   */
  public serverCount(): Promise<number> {
    return Promise.resolve(1);
  }

  /**
   * Adds a socket to a set of rooms.
   *
   * @example
   * adapter.addAll("sid1", new Set(["sid1", "room1"]));
   */
  public addAll(id: SocketId, rooms: Set<Room>): Promise<void> | void {
    // The socket's rooms and the members of its own room are two Sets, even while both
    // hold only its id: users hold and mutate either (`socket.rooms`, `adapter.rooms.get(id)`).
    let socketRooms = this.sids.get(id);
    if (socketRooms === undefined) {
      socketRooms = new Set();
      this.sids.set(id, socketRooms);
    }
    for (const room of rooms) {
      socketRooms.add(room);
      let members = this.rooms.get(room);
      if (members === undefined) {
        members = new Set();
        this.rooms.set(room, members);
        this.emit("create-room", room);
      }
      if (!members.has(id)) {
        members.add(id);
        this.emit("join-room", room, id);
      }
    }
  }

  /**
   * Removes a socket from a room.
   *
   * @example
   * adapter.del("sid1", "room1");
   */
  public del(id: SocketId, room: Room): Promise<void> | void {
    this.sids.get(id)?.delete(room);
    this._del(room, id);
  }

  protected _del(room: Room, id: SocketId): void {
    const members = this.rooms.get(room);
    if (members === undefined) return;
    if (members.delete(id)) {
      this.emit("leave-room", room, id);
    }
    if (members.size === 0 && this.rooms.delete(room)) {
      this.emit("delete-room", room);
    }
  }

  /**
   * Removes a socket from all its rooms (on disconnection).
   *
   * @example
   * adapter.delAll("sid1");
   */
  public delAll(id: SocketId): void {
    const socketRooms = this.sids.get(id);
    if (socketRooms === undefined) return;
    for (const room of socketRooms) {
      this._del(room, id);
    }
    this.sids.delete(id);
  }

  /**
   * Encodes a packet once and writes it to every matching local socket.
   *
   * @example
   * adapter.broadcast({ type: 2, data: ["news", 1] }, { rooms: new Set(["room1"]), except: new Set() });
   */
  public broadcast(packet: Packet, opts: BroadcastOptions): void {
    packet.nsp = this.nsp.name;
    const delivery = this.prepareDelivery(packet, opts);
    this.forEachTarget(opts, deliver, delivery);
  }

  /**
   * Broadcasts a packet expecting an acknowledgement from each target: `ack` is registered on
   * every target socket under a fresh namespace-wide packet id, then `clientCountCallback` gets
   * the number of targets so the caller knows how many acks to wait for.
   *
   * @example
   * adapter.broadcastWithAck(packet, opts, (n) => expected = n, (err, res) => responses.push(res));
   */
  public broadcastWithAck(
    packet: Packet,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: any[]) => void,
  ): void {
    packet.nsp = this.nsp.name;
    packet.id = this.nsp._ids++;
    const delivery = this.prepareDelivery(packet, opts);
    delivery.ack = ack;
    this.forEachTarget(opts, deliver, delivery);
    clientCountCallback(delivery.count);
  }

  private prepareDelivery(packet: Packet, opts: BroadcastOptions): Delivery {
    const flags = opts.flags || {};
    const writeOpts: EncodedWriteOptions = {
      preEncoded: true,
      volatile: flags.volatile,
      compress: flags.compress !== false,
    };
    const encoded = this._encode(packet, writeOpts);
    return { packet, encoded, writeOpts, count: 0 };
  }

  /**
   * Encodes the packet with the server's encoder and, for a single text chunk, attaches the
   * ready-made WebSocket frame so WebSocket targets skip per-socket framing.
   */
  protected _encode(packet: Packet, writeOpts: EncodedWriteOptions): EncodedPacket {
    const encoded = this.encoder.encode(packet);
    if (encoded.length === 1 && typeof encoded[0] === "string") {
      writeOpts.wsPreEncodedFrame = wsMessageFrame(encoded[0]);
    }
    return encoded;
  }

  /**
   * The ids of the local sockets in any of the given rooms (all local sockets for an empty set).
   *
   * @example
   * const ids = await adapter.sockets(new Set(["room1"]));
   */
  public sockets(rooms: Set<Room>): Promise<Set<SocketId>> {
    const ids = new Set<SocketId>();
    this.apply({ rooms }, (socket) => ids.add(socket.id));
    return Promise.resolve(ids);
  }

  /**
   * The rooms a socket is in, or undefined for an unknown socket.
   *
   * @example
   * adapter.socketRooms("sid1"); // Set { "sid1", "room1" }
   */
  public socketRooms(id: SocketId): Set<Room> | undefined {
    return this.sids.get(id);
  }

  /**
   * The local socket instances matching the options.
   *
   * @example
   * const sockets = await adapter.fetchSockets({ rooms: new Set(["room1"]) });
   */
  public fetchSockets(opts: BroadcastOptions): Promise<FetchedSocket[]> {
    const sockets: FetchedSocket[] = [];
    this.apply(opts, (socket) => sockets.push(socket));
    return Promise.resolve(sockets);
  }

  /**
   * Makes the matching sockets join the given rooms.
   *
   * @example
   * adapter.addSockets({ rooms: new Set(["room1"]) }, ["room2"]);
   */
  public addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    this.apply(opts, (socket) => socket.join(rooms));
  }

  /**
   * Makes the matching sockets leave the given rooms.
   *
   * @example
   * adapter.delSockets({ rooms: new Set() }, ["room1"]);
   */
  public delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    this.apply(opts, (socket) => {
      for (const room of rooms) socket.leave(room);
    });
  }

  /**
   * Disconnects the matching sockets; `close` also closes their underlying connection.
   *
   * @example
   * adapter.disconnectSockets({ rooms: new Set(["room1"]) }, true);
   */
  public disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    this.apply(opts, (socket) => socket.disconnect(close));
  }

  /**
   * Calls `callback` once for every local socket matching the options.
   */
  protected apply(opts: BroadcastOptions, callback: (socket: LocalSocket) => void): void {
    this.forEachTarget(opts, invoke, callback);
  }

  private forEachTarget<C>(
    opts: BroadcastOptions,
    visit: (socket: LocalSocket, ctx: C) => void,
    ctx: C,
  ): void {
    const rooms = opts.rooms;
    const except = this.computeExceptSids(opts.except);
    const sockets = this.nsp.sockets;

    if (rooms.size === 0) {
      for (const id of this.sids.keys()) {
        if (except.has(id)) continue;
        const socket = sockets.get(id);
        if (socket !== undefined) visit(socket, ctx);
      }
      return;
    }

    // A socket in several target rooms must get the packet once.
    const seen = rooms.size > 1 ? new Set<SocketId>() : undefined;
    for (const room of rooms) {
      const members = this.rooms.get(room);
      if (members === undefined) continue;
      for (const id of members) {
        if (except.has(id) || seen?.has(id)) continue;
        const socket = sockets.get(id);
        if (socket !== undefined) {
          seen?.add(id);
          visit(socket, ctx);
        }
      }
    }
  }

  /**
   * The ids of the sockets in any of the excluded rooms.
   */
  protected computeExceptSids(exceptRooms?: Set<Room>): ReadonlySet<SocketId> {
    if (exceptRooms === undefined || exceptRooms.size === 0) return NO_SIDS;
    const sids = new Set<SocketId>();
    for (const room of exceptRooms) {
      const members = this.rooms.get(room);
      if (members === undefined) continue;
      for (const id of members) sids.add(id);
    }
    return sids;
  }

  /**
   * Sends an event to the other nodes of the cluster. A single node has none, so this only warns,
   * like the reference in-memory adapter.
   *
   * @example
   * adapter.serverSideEmit(["hello", "world"]);
   */
  public serverSideEmit(_packet: unknown[]): void {
    console.warn("this adapter does not support the serverSideEmit() functionality");
  }

  /**
   * Stores the state of a socket that disconnected unexpectedly. No-op in memory: see
   * SessionAwareAdapter.
   *
   * @example
   * adapter.persistSession({ sid, pid, rooms: [...socket.rooms], data: socket.data });
   */
  public persistSession(_session: SessionToPersist): void {}

  /**
   * Restores a session and the packets it missed after `offset`. Resolves null in memory: see
   * SessionAwareAdapter.
   *
   * @example
   * const session = await adapter.restoreSession(pid, offset);
   */
  public restoreSession(_pid: PrivateSessionId, _offset: string): Promise<Session | null> {
    return Promise.resolve(null);
  }
}
