import type { IncomingMessage } from "http";
import { parse as parseUrl } from "url";
import debugModule from "debug";
import type { Server } from "./server";
import { Packet, PacketType } from "./codec";
import type { PacketDecoder, PacketEncoder } from "./codec";
import { DEFAULT_MAX_ATTACHMENTS, Decoder, decodeText, isBinaryHeader } from "./codec/decoder";
import type { RawData } from "./engine/codec/packet";
import type { SendOptions, Socket as EngineSocket } from "./engine/socket";
import type { DisconnectReason, Socket } from "./socket";
import { isV2Client } from "./v2-clients";
import { emptyObject } from "./lean-objects";
import { admitEvent, overallEmpty, stopReadingClosed } from "./rate-limit";
import type { EventsMap, DefaultEventsMap } from "./typed-events";

const debug = debugModule("socket.io:client");

/** What `writeToEngine()` accepts: the adapter's pre-encoded broadcasts included. */
export interface WriteOptions extends SendOptions {
  /** the packet is already encoded (`_packet` writes it as it is) */
  preEncoded?: boolean;
}

type EncodedPacket = RawData;

/** The sockets of a client by socket id and by namespace name (`client.sockets`, `client.nsps`). */
interface SocketMaps<S> {
  byId: Map<string, S>;
  byNamespace: Map<string, S>;
}

function deliver(socket: Socket<any, any, any, any>, packet: Packet): void {
  socket._onpacket(packet);
}

/**
 * One Engine.IO connection, multiplexed over namespaces: it decodes the
 * incoming packets, routes them to the Socket of their namespace, and writes
 * the encoded outgoing ones.
 */
export class Client<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> {
  /** The underlying Engine.IO socket. */
  public readonly conn: EngineSocket;
  /** The id of the Engine.IO connection. */
  public readonly id: string;

  private readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  /**
   * A custom parser's decoder, made with the client. The default parser's is made on the
   * first binary packet (or a read of `decoder`) only: text packets, which hold no state
   * between them, are decoded by `decodeText` directly, which saves nearly every client a
   * decoder and its listener.
   */
  private _decoder: PacketDecoder | undefined;
  // an encoder assigned to this client alone (`client.encoder = ...`), else the server's
  private _encoder: PacketEncoder | undefined;
  private ondecodedBound: ((packet: Packet) => void) | undefined;
  // The sockets of this connection, one per namespace. Nearly every client joins a single
  // namespace: its socket is held in `socket`, and the maps (by socket id, and by namespace
  // name, in the order they joined) are only made for a second one, or when read.
  private socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | undefined;
  // one field for both: a client without them pays for one
  private maps: SocketMaps<Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> | undefined;
  private connectTimeout: NodeJS.Timeout | undefined;
  // Set once a socket of this client found its overall bucket empty (the `rateLimit`
  // option, "drop"), until one of its event packets finds tokens: its event packets are
  // checked before they are decoded meanwhile. Never set (no such property) otherwise.
  private rateOver?: boolean;

  constructor(server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, conn: EngineSocket) {
    this.server = server;
    this.conn = conn;
    this.id = conn.id;
    this._decoder = undefined;
    this.ondecodedBound = undefined;
    this.socket = undefined;
    this.maps = undefined;
    this.connectTimeout = undefined;
    if (server._parser.Decoder !== Decoder) {
      this.createDecoder();
    }
    this.setup();
  }

  // The listeners on the Engine.IO socket are the same three functions for every client
  // (EventEmitter calls them with the socket as `this`, and the socket holds its client):
  // no bound copies per client, while `conn.listeners("data")` still lists one listener.
  private static onConnData(this: EngineSocket, data: unknown): void {
    (this._handler as Client).ondata(data);
  }

  private static onConnError(this: EngineSocket, err: Error): void {
    (this._handler as Client).onerror(err);
  }

  private static onConnClose(this: EngineSocket, reason: string, description?: unknown): void {
    (this._handler as Client).onclose(reason, description);
  }

  private createDecoder(): PacketDecoder {
    const decoder: PacketDecoder = new this.server._parser.Decoder();
    this.ondecodedBound = this.ondecoded.bind(this);
    decoder.on("decoded", this.ondecodedBound);
    this._decoder = decoder;
    return decoder;
  }

  /**
   * The decoder of the incoming packets: once read, every packet goes through it.
   *
   * @internal
   */
  get decoder(): PacketDecoder {
    return this._decoder || this.createDecoder();
  }

  /**
   * The packet encoder of this connection: the server's, unless one is assigned here.
   *
   * @internal
   */
  get encoder(): PacketEncoder {
    return this._encoder || this.server.encoder;
  }

  set encoder(encoder: PacketEncoder) {
    this._encoder = encoder;
  }

  /**
   * The sockets of this connection by socket id, kept up to date from the first read on.
   *
   * @internal
   */
  get sockets(): Map<string, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
    return this.socketMaps().byId;
  }

  /**
   * The sockets of this connection by namespace name, kept up to date from the first read on.
   *
   * @internal
   */
  get nsps(): Map<string, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
    return this.socketMaps().byNamespace;
  }

  /** Moves the sockets from `socket` to the two maps, made on first need. */
  private socketMaps(): SocketMaps<Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
    let maps = this.maps;
    if (maps === undefined) {
      maps = { byId: new Map(), byNamespace: new Map() };
      this.maps = maps;
      const first = this.socket;
      if (first !== undefined) {
        this.socket = undefined;
        maps.byId.set(first.id, first);
        maps.byNamespace.set(first.nsp.name, first);
      }
    }
    return maps;
  }

  /** The http request of the handshake. */
  public get request(): IncomingMessage {
    return this.conn.request;
  }

  private setup(): void {
    const conn = this.conn;
    conn._handler = this;
    conn.on("data", Client.onConnData);
    conn.on("error", Client.onConnError);
    conn.on("close", Client.onConnClose);

    this.connectTimeout = setTimeout(() => {
      if (this.socket === undefined && (this.maps === undefined || this.maps.byNamespace.size === 0)) {
        debug("no namespace joined yet, close the client");
        this.close();
      } else {
        debug("the client has already joined a namespace, nothing to do");
      }
    }, this.server._connectTimeout);
  }

  /**
   * Connects the client to a namespace, creating it first when a dynamic
   * namespace (regex or function) accepts the name.
   *
   * @internal
   */
  connect(name: string, auth: Record<string, unknown> = emptyObject()): void {
    if (this.server._nsps.has(name)) {
      debug("connecting to namespace %s", name);
      return this.doConnect(name, auth);
    }
    this.server._checkNamespace(name, auth, (dynamicNspName) => {
      if (dynamicNspName) {
        this.doConnect(name, auth);
      } else {
        debug("creation of namespace %s was denied", name);
        this._packet({
          type: PacketType.CONNECT_ERROR,
          nsp: name,
          data: { message: "Invalid namespace" },
        });
      }
    });
  }

  private doConnect(name: string, auth: Record<string, unknown>): void {
    const nsp = this.server.of(name);
    nsp._add(this, auth, (socket) => {
      this.addSocket(socket);
      if (this.connectTimeout) {
        clearTimeout(this.connectTimeout);
        this.connectTimeout = undefined;
      }
    });
  }

  /**
   * Disconnects every socket of this client and closes the connection.
   *
   * @internal
   */
  _disconnect(): void {
    for (const socket of this.allSockets()) socket.disconnect();
    this.clearSockets();
    this.close();
  }

  private addSocket(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    if (this.maps === undefined && this.socket === undefined) {
      this.socket = socket;
      return;
    }
    const maps = this.socketMaps();
    maps.byId.set(socket.id, socket);
    maps.byNamespace.set(socket.nsp.name, socket);
  }

  private socketOf(
    namespace: string,
  ): Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | undefined {
    if (this.maps !== undefined) return this.maps.byNamespace.get(namespace);
    const socket = this.socket;
    return socket !== undefined && socket.nsp.name === namespace ? socket : undefined;
  }

  /** The sockets of this connection, as a list of their own (leaving changes the map). */
  private allSockets(): Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[] {
    if (this.maps !== undefined) return [...this.maps.byId.values()];
    return this.socket !== undefined ? [this.socket] : [];
  }

  // as with the reference, the map by namespace empties as each socket is removed
  private clearSockets(): void {
    this.socket = undefined;
    if (this.maps !== undefined) this.maps.byId.clear();
  }

  /**
   * Forgets a socket that left its namespace.
   *
   * @internal
   */
  _remove(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    const maps = this.maps;
    const known = maps !== undefined ? maps.byId.get(socket.id) : undefined;
    if (maps !== undefined && known !== undefined) {
      maps.byId.delete(socket.id);
      maps.byNamespace.delete(known.nsp.name);
    } else if (this.socket === socket) {
      this.socket = undefined;
    } else {
      debug("ignoring remove for %s", socket.id);
    }
  }

  private close(): void {
    if (this.conn.readyState === "open") {
      debug("forcing transport close");
      this.conn.close();
      this.onclose("forced server close");
    }
  }

  /**
   * Encodes and writes a packet.
   *
   * @internal
   */
  _packet(packet: Packet | EncodedPacket[], opts: WriteOptions = {}): void {
    if (this.conn.readyState !== "open") {
      debug("ignoring packet write %j", packet);
      return;
    }
    const encoded = opts.preEncoded ? (packet as EncodedPacket[]) : this.encoder.encode(packet as Packet);
    this.writeToEngine(encoded, opts);
  }

  /**
   * Writes already encoded chunks. Adapters call it with the chunks of a
   * broadcast, encoded once for every recipient.
   */
  writeToEngine(encodedPackets: EncodedPacket | EncodedPacket[], opts: WriteOptions): void {
    if (opts.volatile && !this.conn.transport.writable) {
      debug("volatile packet is discarded since the transport is not currently writable");
      const engine = this.conn.server;
      if (engine !== undefined && typeof engine.droppedPacketsCount === "number") {
        engine.droppedPacketsCount++;
      }
      return;
    }
    if (Array.isArray(encodedPackets)) {
      if (encodedPackets.length === 1) {
        this.conn.write(encodedPackets[0], opts);
        return;
      }
      // the attachments of a binary packet go with its first chunk: never dropped on their own
      const rest = opts.volatile ? { compress: opts.compress !== false } : opts;
      for (let i = 0; i < encodedPackets.length; i++) {
        this.conn.write(encodedPackets[i], i === 0 ? opts : rest);
      }
    } else {
      this.conn.write(encodedPackets, opts);
    }
  }

  private ondata(data: unknown): void {
    // a malformed packet must not reach any listener: the client is closed. Whatever the
    // decoder throws (or what runs synchronously on "decoded": connecting to a namespace)
    // is caught here; events reach the application's handlers on a later tick, where a
    // throwing handler ends the process as with the reference.
    try {
      const decoder = this._decoder;
      if (decoder === undefined && typeof data === "string" && !isBinaryHeader(data)) {
        if (this.rateOver === true && this.dropUndecoded(data)) {
          return;
        }
        this.ondecoded(decodeText(data, undefined, DEFAULT_MAX_ATTACHMENTS));
      } else {
        (decoder || this.createDecoder()).add(data);
      }
    } catch (e) {
      debug("invalid packet format");
      this.onerror(e as Error, "parse error");
    }
  }

  private ondecoded(packet: Packet): void {
    let namespace: string;
    let authPayload: Record<string, unknown>;
    if (isV2Client(this.conn)) {
      // socket.io v2 clients put the query of a namespace in its name
      const parsed = parseUrl(packet.nsp, true);
      namespace = parsed.pathname!;
      authPayload = parsed.query;
    } else {
      namespace = packet.nsp;
      authPayload = packet.data;
    }
    const socket = this.socketOf(namespace);

    if (!socket && packet.type === PacketType.CONNECT) {
      this.connect(namespace, authPayload);
    } else if (socket && packet.type !== PacketType.CONNECT && packet.type !== PacketType.CONNECT_ERROR) {
      const limits = this.server._rateLimit;
      if (
        limits !== undefined &&
        (packet.type === PacketType.EVENT || packet.type === PacketType.BINARY_EVENT) &&
        !admitEvent(socket, packet, limits)
      ) {
        // dropped here, before it is queued: a flood costs its decoding and no more (and
        // not even that while the bucket stays empty: see dropUndecoded)
        socket.nsp._onRateLimited(socket, String(packet.data[0]), limits.disconnect);
        if (!limits.disconnect && socket._rateState![0] < 1) {
          // the next ones are dropped undecoded while the bucket is empty
          this.rateOver = true;
        }
        if (limits.disconnect) {
          // the socket got its DISCONNECT: the whole connection goes, unread
          const transport = this.conn.transport;
          this.close();
          stopReadingClosed(transport);
        }
        return;
      }
      process.nextTick(deliver, socket, packet);
    } else {
      debug("invalid state (packet type: %s)", packet.type);
      this.close();
    }
  }

  /**
   * Drops an event packet, before its arguments are parsed, when its socket's overall bucket
   * is empty: the rest of a read (or of a POST) that brought a client over its limit is
   * mostly more of the same, dropped for the cost of finding its namespace and name. Only
   * the plain form is recognised (`2[/nsp,][id]["name"…`, a name without escapes); any
   * other packet, or a socket with tokens again, goes through the decoder (`false`). The
   * arguments of a dropped event are never parsed: a malformed one is dropped as well,
   * where the decoder would have closed the connection.
   */
  private dropUndecoded(data: string): boolean {
    // "2": EVENT
    if (data.charCodeAt(0) !== 50) {
      return false;
    }
    let namespace = "/";
    let i = 1;
    // "/"
    if (data.charCodeAt(1) === 47) {
      const comma = data.indexOf(",", 1);
      if (comma === -1) {
        return false;
      }
      namespace = data.slice(1, comma);
      i = comma + 1;
    }
    let code = data.charCodeAt(i);
    // the acknowledgement id's digits
    while (code >= 48 && code <= 57) {
      code = data.charCodeAt(++i);
    }
    // '["'
    if (code !== 91 || data.charCodeAt(i + 1) !== 34) {
      return false;
    }
    const end = data.indexOf('"', i + 2);
    if (end === -1 || data.lastIndexOf("\\", end) > i) {
      return false;
    }
    const socket = this.socketOf(namespace);
    if (socket === undefined || !overallEmpty(socket, this.server._rateLimit!, this.conn.transport)) {
      this.rateOver = false;
      return false;
    }
    socket.nsp._onRateLimited(socket, data.slice(i + 2, end), false);
    return true;
  }

  private onerror(err: Error, reason?: DisconnectReason): void {
    for (const socket of this.allSockets()) socket._onerror(err);
    if (reason && this.conn.readyState === "open") {
      this.onclose(reason);
    }
    this.conn.close();
  }

  private onclose(reason: DisconnectReason | string, description?: any): void {
    debug("client close with reason %s", reason);
    this.destroy();
    for (const socket of this.allSockets()) socket._onclose(reason as DisconnectReason, description);
    this.clearSockets();
  }

  private destroy(): void {
    const conn = this.conn;
    conn.removeListener("data", Client.onConnData);
    conn.removeListener("error", Client.onConnError);
    conn.removeListener("close", Client.onConnClose);
    if (this.connectTimeout) {
      clearTimeout(this.connectTimeout);
      this.connectTimeout = undefined;
    }
    const decoder = this._decoder;
    if (decoder !== undefined) {
      decoder.removeListener("decoded", this.ondecodedBound!);
      decoder.destroy();
    }
  }
}
