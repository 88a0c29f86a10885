/**
 * One Engine.IO session: a client identified by its session id, reachable
 * through one transport at a time (upgradable from polling to WebSocket).
 */
import { EventEmitter } from "events";
import type { OutgoingHttpHeaders } from "http";
import debugModule from "debug";
import { codedError } from "../errors";
import type { Packet, PacketType, RawData } from "./codec/packet";
import { codecFor } from "./codec";
import type { ProtocolRevision } from "./codec";
import { compactTransportTable } from "./transport";
import type { Transport, TransportOwner, EngineRequest, TransportError } from "./transport";
import type { HeartbeatEntry, HeartbeatQueue } from "./heartbeat";
import type { Server } from "./server";
import { listenerTables } from "./listener-table";
import type { WsPreEncodedFrame } from "./ws-frame";

const debug = debugModule("engine:socket");

// the listener tables of sessions (see listener-table.ts)
const compactTable = listenerTables();

/** The close reason of a client over `maxBufferedAmount`. */
const WRITE_BUFFER_FULL = "write buffer full";

// What holding one queued packet costs the server besides its data, measured with heap
// snapshots (bench/README.md, "Slow clients"): the packet object (48 B), its options (32 to
// 56 B: one per emit, one per broadcast), its slot in the write buffer (8 to 12 B), the
// header of its data string (16 to 24 B); rounded up.
const PACKET_OVERHEAD = 160;

// What a broadcast's pre-encoded frame costs besides its bytes: its Buffer object (96 B),
// the array holding it (56 B), the property array the frame adds to the options (40 B), its
// pool's objects (about 16 B a frame), and the header of the data string held next to it
// (16 to 24 B, 32 more where the encoder's concatenation left a cons string); rounded up.
const FRAME_OVERHEAD = 240;

// What a Buffer (or any view) costs besides its bytes: its object (96 B); rounded up.
const VIEW_OVERHEAD = 100;

// What a buffer too large for Node's pool costs besides its bytes: its own ArrayBuffer's
// object (88 B) and the native record of its memory; rounded up.
const ARRAY_BUFFER_OVERHEAD = 120;

// What a packet handed to the WebSocket transport costs while the TCP stream has not taken
// it, besides the bytes that ws counts: its frame's Buffer object (96 B), the stream's entry
// for the write (48 B), their slots, its share of its pool's slack; rounded up.
const IN_FLIGHT_OVERHEAD = 200;

/**
 * What a queued packet costs the server's memory, near enough: its data (a string counts its
 * UTF-8 bytes, the bytes of its frame), plus the objects that hold it. A packet with a
 * pre-encoded frame holds both the frame and its data (for polling clients and for the
 * "packetCreate" / "flush" listeners): both count, the data string by its length (most JSON
 * is ASCII, one byte a character), and the frame's objects. The frame and the data of a
 * broadcast are shared by all its targets, yet every target counts them in full: a client
 * stuck on them, while the others have sent theirs, is what keeps them in memory.
 */
function packetCost(data: RawData | undefined, options: SendOptions | undefined): number {
  const frame = options !== undefined ? options.wsPreEncodedFrame : undefined;
  if (frame !== undefined) {
    const held = typeof data === "string" ? data.length : dataCost(data);
    return frameCost(frame) + FRAME_OVERHEAD + PACKET_OVERHEAD + held;
  }
  return 1 + PACKET_OVERHEAD + dataCost(data);
}

// Node's Buffer pool hands out the allocations under half its size (4 KiB of 8) one after the
// other, 8-byte aligned, and a pooled buffer keeps its whole slab in memory. A broadcast's
// frame is packed with the frames of the broadcasts made after it, which a stuck client holds
// as well: it counts its share of its slab, the slack at the slab's end included (up to half,
// for a frame of just over 2 KiB). A frame that small is taken to be pooled (Buffer.allocUnsafe
// builds ours and ws's): reading each buffer's ArrayBuffer would cost more than the rest. A
// larger one has an ArrayBuffer of its own.
function frameCost(frame: WsPreEncodedFrame): number {
  const pool = Buffer.poolSize;
  let cost = 0;
  for (let i = 0; i < frame.length; i++) {
    const length = frame[i].length;
    if (length < pool >>> 1) {
      // in whole bytes: the running totals stay small integers, which V8 stores unboxed
      const shares = (pool / ((length + 7) & ~7)) | 0;
      cost += shares > 0 ? ((pool + shares - 1) / shares) | 0 : 0;
    } else {
      cost += length + ARRAY_BUFFER_OVERHEAD;
    }
  }
  return cost;
}

/**
 * Bytes of a packet's data: a string's UTF-8 bytes (what the wire carries), a view's bytes and
 * its object, and none for a falsy one (`send(null)`, `send(0)`: the packet leaves without
 * data). Other data goes as its string form.
 */
function dataCost(data: RawData | undefined): number {
  if (typeof data === "string") {
    return Buffer.byteLength(data);
  }
  if (!data) {
    return 0;
  }
  const length = (data as { byteLength?: unknown }).byteLength;
  return typeof length === "number" ? length + VIEW_OVERHEAD : Buffer.byteLength(String(data));
}

// Writes made in one synchronous run of code form one burst. The run is told apart by a
// counter that advances on the next tick: one process.nextTick per run, shared by all sockets.
let runId = 0;
let runEndPending = false;

function endRun(): void {
  runId++;
  runEndPending = false;
}

function currentRun(): number {
  if (!runEndPending) {
    runEndPending = true;
    process.nextTick(endRun);
  }
  return runId;
}

// the close of a slow client runs on the next tick, outside of the write that
// found it over the bound (that write may be one step of a broadcast loop)
function closeSlowClient(socket: Socket): void {
  socket._closeSlowClient();
}

function dropWriteBuffer(socket: Socket): void {
  socket._dropWriteBuffer();
}

export type SocketReadyState = "opening" | "open" | "closing" | "closed";

/** Options of `socket.write()` / `socket.send()`. */
export interface SendOptions {
  /** compress the data (HTTP compression / permessage-deflate); default true */
  compress?: boolean;
  /** drop the message rather than queue it when the client is over `maxBufferedAmount` */
  volatile?: boolean;
  /** a complete ws frame sent as it is when the transport is the ws WebSocket */
  wsPreEncodedFrame?: WsPreEncodedFrame;
}

/** Called with the transport once the packet has been written to it. */
export type SendCallback = (transport: Transport) => void;

// An idle session holds no packet nor callback: internally, its buffers are this one shared
// empty array (frozen, so that nothing can fill it for every session) until something is
// queued. It is never handed out: reading `writeBuffer` or `packetsFn` makes the session a
// real array of its own.
const NOTHING_QUEUED: never[] = Object.freeze([]) as never[];

/**
 * Every packet carries options of its own with a boolean `compress`, true unless false
 * was asked for, as with the reference ("packetCreate" listeners see them, and may write to
 * them). Options without it are completed in place, as the reference does: a broadcast's
 * options, shared by all its targets, are completed once.
 */
function withCompress(options: SendOptions | undefined): SendOptions {
  if (options === undefined) {
    return { compress: true };
  }
  if (options.compress === true || options.compress === false) {
    return options;
  }
  if (Object.isExtensible(options) && !Object.isFrozen(options)) {
    options.compress = true;
    return options;
  }
  return { ...options, compress: true };
}

// The listeners a session puts on its transport, as the reference's session does: the same
// functions for every session (EventEmitter calls them with the transport as `this`), which
// find the session through the transport, rather than functions bound per session.
function ownerOf(transport: Transport): TransportOwner {
  return transport._owner as TransportOwner;
}

function onTransportError(this: Transport, err: TransportError): void {
  ownerOf(this)._onTransportError(err);
}

function onTransportReady(this: Transport): void {
  ownerOf(this)._onTransportReady();
}

function onTransportPacket(this: Transport, packet: Packet): void {
  ownerOf(this)._onTransportPacket(packet);
}

function onTransportDrain(this: Transport): void {
  ownerOf(this)._onTransportDrain();
}

function onTransportClose(this: Transport): void {
  ownerOf(this)._onTransportClose();
}

// a transport the session let go of may still report an error: silenced, never thrown
function onReleasedTransportError(): void {
  debug("error triggered by discarded transport");
}

export class Socket extends EventEmitter {
  /** session id */
  readonly id: string;
  readonly server: Server;
  /** the HTTP request of the handshake */
  readonly request: EngineRequest;
  /** Engine.IO protocol revision of the client (3 or 4) */
  readonly protocol: ProtocolRevision;
  /** IP address of the client */
  readonly remoteAddress: string;
  readyState: SocketReadyState = "opening";
  transport!: Transport;
  /** whether an upgrade is in progress */
  upgrading = false;
  /** whether the session has been upgraded (to WebSocket) */
  upgraded = false;

  private _writeBuffer: Packet[] = NOTHING_QUEUED;
  // running totals, so that the bound costs no scan of the buffer: the cost of the packets
  // in writeBuffer (see packetCost), the cost of all those ever queued, where the last
  // burst began and ended among them, and the synchronous run that burst belongs to
  private writeBufferCost = 0;
  private queuedTotal = 0;
  private burstStart = 0;
  private burstEnd = 0;
  private burstRun = -1;
  // callbacks of the packets in writeBuffer; then, once some flush carried callbacks (or
  // `sentCallbackFn` was read), one entry per flush in flight (null without callbacks)
  private _packetsFn: SendCallback[] = NOTHING_QUEUED;
  private _sentCallbackFn: (SendCallback[] | null)[] | null = null;
  // flushes handed to the transport and not drained yet, and what their packets cost besides
  // the bytes the transport counts (see IN_FLIGHT_OVERHEAD)
  private flushesInFlight = 0;
  private inFlightOverhead = 0;

  // The heartbeat: the server's queues hold the deadlines (see heartbeat.ts); these fields
  // link the session into the one it is waiting in.
  /** @internal */
  hbQueue: HeartbeatQueue | null = null;
  /** @internal */
  hbPrev: HeartbeatEntry | null = null;
  /** @internal */
  hbNext: HeartbeatEntry | null = null;
  /** @internal */
  hbDue = 0;
  // whether the pong's deadline was started again since the last ping (see _onTransportPacket)
  private hbRefreshed = false;

  /**
   * Whoever handles this session's events for the layer above (the Socket.IO client): its
   * listeners, one function shared by every session, find it here from the session they are
   * called on, instead of each session holding bound copies.
   *
   * @internal
   */
  _handler: unknown = null;

  constructor(
    id: string,
    server: Server,
    transport: Transport,
    req: EngineRequest,
    protocol: ProtocolRevision,
  ) {
    super();
    compactTable(this);
    this.id = id;
    this.server = server;
    this.request = req;
    this.protocol = protocol;
    this.remoteAddress = server._addressOf(req);
    this.setTransport(transport);
    this.onOpen();
  }

  /**
   * The packets waiting for the transport to be writable: a packet pushed here leaves
   * with the next flush.
   *
   * @internal
   */
  get writeBuffer(): Packet[] {
    if (this._writeBuffer === NOTHING_QUEUED) {
      this._writeBuffer = [];
    }
    return this._writeBuffer;
  }

  set writeBuffer(buffer: Packet[]) {
    this._writeBuffer = buffer;
  }

  /**
   * The send callbacks of the packets in `writeBuffer`.
   *
   * @internal
   */
  get packetsFn(): SendCallback[] {
    if (this._packetsFn === NOTHING_QUEUED) {
      this._packetsFn = [];
    }
    return this._packetsFn;
  }

  set packetsFn(callbacks: SendCallback[]) {
    this._packetsFn = callbacks;
  }

  /**
   * One entry per flush handed to the transport and not drained yet: its send callbacks,
   * or null. Made on first use; from then on kept up to date.
   *
   * @internal
   */
  get sentCallbackFn(): (SendCallback[] | null)[] {
    let queue = this._sentCallbackFn;
    if (queue === null) {
      queue = [];
      for (let i = 0; i < this.flushesInFlight; i++) {
        queue.push(null);
      }
      this._sentCallbackFn = queue;
    }
    return queue;
  }

  set sentCallbackFn(queue: (SendCallback[] | null)[]) {
    this._sentCallbackFn = queue;
  }

  // the heartbeat direction of the session's revision (v3 clients ping, v4 servers do), read
  // from its codec rather than held by every session
  private get clientPings(): boolean {
    return codecFor(this.protocol).clientPings;
  }

  private onOpen(): void {
    this.readyState = "open";
    this.transport.sid = this.id;
    const opts = this.server.opts;
    this.sendPacket(
      "open",
      JSON.stringify({
        sid: this.id,
        upgrades: this.getAvailableUpgrades(),
        pingInterval: opts.pingInterval,
        pingTimeout: opts.pingTimeout,
        maxPayload: opts.maxHttpBufferSize,
      }),
    );
    if (opts.initialPacket) {
      this.sendPacket("message", opts.initialPacket);
    }
    this.emit("open");
    const heartbeat = this.server._heartbeat;
    // v3: the client pings, so only the deadline for its next ping runs
    (this.clientPings ? heartbeat.clientPingDeadline : heartbeat.pingDue).push(this);
  }

  /**
   * The ping is due (v4): sends it, and the deadline for the pong starts.
   *
   * @internal
   */
  _onPingDue(): void {
    if (this.readyState !== "open" && this.readyState !== "closing") {
      return;
    }
    if (debug.enabled) {
      debug("writing ping packet - expecting pong within %sms", this.server.opts.pingTimeout);
    }
    this.hbRefreshed = false;
    this.sendPacket("ping");
    // a failed write may have closed the session already
    if ((this.readyState as SocketReadyState) !== "closed") {
      this.server._heartbeat.pongDeadline.push(this);
    }
  }

  /**
   * No pong (v4) or no ping (v3) came in time.
   *
   * @internal
   */
  _onHeartbeatTimeout(): void {
    if (this.readyState !== "closed") {
      this.server.heartbeatTimeoutsCount++;
      this.onClose("ping timeout");
    }
  }

  /** @internal */
  _onTransportPacket(packet: Packet): void {
    if (this.readyState !== "open") {
      debug("packet received with closed socket");
      return;
    }
    if (debug.enabled) {
      debug("received packet %s", packet.type);
    }
    this.emit("packet", packet);
    // anything from a v4 client awaiting its pong is a sign of life: the pong's deadline
    // starts again, once per ping (a client busy sending may answer late)
    if (
      !this.hbRefreshed &&
      packet.type !== "pong" &&
      this.hbQueue !== null &&
      this.hbQueue === this.server._heartbeat.pongDeadline
    ) {
      this.hbRefreshed = true;
      this.hbQueue.push(this);
    }
    switch (packet.type) {
      case "ping":
        if (!this.clientPings) {
          this.onError(codedError("EIO_ERR_HEARTBEAT_DIRECTION"));
          return;
        }
        debug("got ping");
        this.server._heartbeat.clientPingDeadline.push(this);
        this.sendPacket("pong");
        this.emit("heartbeat");
        break;
      case "pong":
        if (this.clientPings) {
          this.onError(codedError("EIO_ERR_HEARTBEAT_DIRECTION"));
          return;
        }
        debug("got pong");
        // the next ping is due pingInterval after this pong
        this.server._heartbeat.pingDue.push(this);
        this.emit("heartbeat");
        break;
      case "error":
        this.onClose("parse error");
        break;
      case "message":
        this.emit("data", packet.data);
        this.emit("message", packet.data);
        break;
    }
  }

  /** @internal */
  _onTransportError(err: TransportError): void {
    this.onError(err);
  }

  /** @internal */
  _onTransportReady(): void {
    this.flush();
  }

  /** @internal */
  _onTransportClose(): void {
    this.onClose("transport close");
  }

  /** @internal */
  _onTransportHeaders(headers: OutgoingHttpHeaders, req: EngineRequest): void {
    this.server._onSessionHeaders(this, headers, req);
  }

  private onError(err: Error): void {
    debug("transport error");
    this.onClose("transport error", err);
  }

  private setTransport(transport: Transport): void {
    this.transport = transport;
    transport._owner = this;
    // an upgrade's transport whose own listeners are gone gets a compact table again
    compactTransportTable(transport);
    transport.on("error", onTransportError);
    transport.on("ready", onTransportReady);
    transport.on("packet", onTransportPacket);
    transport.on("drain", onTransportDrain);
    transport.on("close", onTransportClose);
  }

  /** Detaches from the current transport and closes it (at once, dropping what it buffers, with `abort`). */
  private clearTransport(abort = false): void {
    const transport = this.transport;
    transport.removeListener("error", onTransportError);
    transport.removeListener("ready", onTransportReady);
    transport.removeListener("packet", onTransportPacket);
    transport.removeListener("drain", onTransportDrain);
    transport.removeListener("close", onTransportClose);
    transport.on("error", onReleasedTransportError);
    if (abort) {
      transport.abort();
    } else {
      transport.close();
    }
  }

  /** @internal */
  _onTransportDrain(): void {
    if (this.flushesInFlight > 0 && --this.flushesInFlight === 0) {
      this.inFlightOverhead = 0;
    }
    const queue = this._sentCallbackFn;
    if (queue === null) {
      return;
    }
    const callbacks = queue.shift();
    if (callbacks) {
      debug("executing batch send callback");
      for (let i = 0; i < callbacks.length; i++) {
        callbacks[i](this.transport);
      }
    }
  }

  /**
   * Switches the session to `transport` once the client completes the upgrade
   * (probe ping, then upgrade packet) within `upgradeTimeout`.
   *
   * @internal
   */
  _maybeUpgrade(transport: Transport): void {
    debug('might upgrade socket transport from "%s" to "%s"', this.transport.name, transport.name);
    this.upgrading = true;
    let checkIntervalTimer: NodeJS.Timeout | undefined;

    // a pending GET would hold the client's paused polling: release it with a noop
    const check = (): void => {
      if (this.transport.name === "polling" && this.transport.writable) {
        debug("writing a noop packet to polling for fast upgrade");
        this.transport.send([{ type: "noop" }]);
      }
    };
    const cleanup = (): void => {
      this.upgrading = false;
      clearInterval(checkIntervalTimer);
      clearTimeout(upgradeTimeoutTimer);
      transport.removeListener("packet", onPacket);
      transport.removeListener("close", onTransportClose);
      transport.removeListener("error", onError);
      this.removeListener("close", onClose);
    };
    const onError = (err: unknown): void => {
      debug("client did not complete upgrade - %s", err);
      cleanup();
      transport.close();
    };
    const onTransportClose = (): void => onError("transport closed");
    const onClose = (): void => onError("socket closed");
    const onPacket = (packet: Packet): void => {
      if (packet.type === "ping" && packet.data === "probe") {
        debug("got probe ping packet, sending pong");
        transport.send([{ type: "pong", data: "probe" }]);
        this.emit("upgrading", transport);
        // the pending GET is released by the first check, 100 ms on: until then what the
        // session sends still leaves on it, as with engine.io
        clearInterval(checkIntervalTimer);
        checkIntervalTimer = setInterval(check, 100);
      } else if (packet.type === "upgrade" && this.readyState !== "closed") {
        debug("got upgrade packet - upgrading");
        cleanup();
        const previous = this.transport;
        // Discarding completes a close the old transport was waiting to deliver: a closing
        // session upgrades first and closes over the new transport, as the reference does,
        // and its old transport is let go of once the session is closed.
        const closing = this.readyState === "closing";
        if (!closing) {
          previous.discard();
        }
        this.upgraded = true;
        this.server.upgradesCount++;
        this.clearTransport();
        this.setTransport(transport);
        this.emit("upgrade", transport);
        this.flush();
        if (closing) {
          transport.close(() => this.onClose("forced close"));
          previous.discard();
        }
      } else {
        cleanup();
        transport.close();
      }
    };
    const upgradeTimeoutTimer = setTimeout(() => {
      debug("client did not complete upgrade - closing transport");
      cleanup();
      if (transport.readyState === "open") {
        transport.close();
      }
    }, this.server.opts.upgradeTimeout);

    transport.on("packet", onPacket);
    transport.once("close", onTransportClose);
    transport.once("error", onError);
    this.once("close", onClose);
  }

  private onClose(reason: string, description?: unknown): void {
    if (this.readyState === "closed") {
      return;
    }
    this.readyState = "closed";
    if (this.hbQueue !== null) {
      this.hbQueue.remove(this);
    }
    // the callbacks of packets that will never be written are dropped
    this._packetsFn = NOTHING_QUEUED;
    this._sentCallbackFn = null;
    this.flushesInFlight = 0;
    this.inFlightOverhead = 0;
    this.clearTransport(reason === WRITE_BUFFER_FULL);
    this.emit("close", reason, description);
    // what was left unsent stays readable for a tick, to the "close" listeners and after them
    process.nextTick(dropWriteBuffer, this);
  }

  /** @internal */
  _dropWriteBuffer(): void {
    this._writeBuffer = NOTHING_QUEUED;
    this.writeBufferCost = 0;
  }

  /**
   * Bytes of memory the server holds for what is queued for this client: the packets waiting
   * in the write buffer (each its data plus the objects that hold it, see packetCost) and
   * what the transport has not flushed to the network yet (for WebSocket, the bytes `ws` and
   * the TCP stream hold plus their objects).
   *
   * @example
   * if (socket.bufferedAmount > 1e6) console.log(`${socket.id} is reading slowly`);
   */
  get bufferedAmount(): number {
    return this.writeBufferCost + this.transport.bufferedAmount + this.inFlightOverhead;
  }

  /**
   * Whether a packet that costs `cost` (see packetCost) keeps the client within `max`.
   *
   * The bound is about a backlog that does not drain, not about what is written in
   * one go: the writes of one synchronous run to a client that keeps up (at most half
   * the bound queued) form a burst that is not counted, e.g. one big message, the
   * state sent on connection, or the missed packets replayed on recovery. What is
   * queued before the last burst and after it counts, for as long as it is not flushed:
   * a client that stops reading holds at most the bound and its last burst.
   */
  private withinBound(cost: number, max: number): boolean {
    const run = currentRun();
    if (this.burstRun !== run) {
      const buffered = this.bufferedAmount;
      if (buffered > max / 2) {
        // the queue drains in order: what is queued beyond the burst and what came after it
        // is left of what came before it
        const before = buffered - (this.queuedTotal - this.burstStart);
        const backlog = this.queuedTotal - this.burstEnd + (before > 0 ? before : 0);
        return (backlog < buffered ? backlog : buffered) + cost <= max;
      }
      this.burstRun = run;
      this.burstStart = this.queuedTotal;
    }
    this.burstEnd = this.queuedTotal + cost;
    return true;
  }

  private onOverBound(options: SendOptions | undefined): void {
    if (options !== undefined && options.volatile) {
      debug("client over maxBufferedAmount - dropping volatile packet");
      this.server.droppedPacketsCount++;
      return;
    }
    debug("client over maxBufferedAmount (%d bytes held) - closing", this.bufferedAmount);
    // nothing more is queued from here on; the close itself follows on the next tick
    this.readyState = "closing";
    this.server.slowClientsClosedCount++;
    process.nextTick(closeSlowClient, this);
  }

  /**
   * Drops what is queued for a client over the bound and closes it.
   *
   * @internal
   */
  _closeSlowClient(): void {
    this.onClose(WRITE_BUFFER_FULL);
  }

  /**
   * Sends a message.
   *
   * @example
   * socket.send("hello");
   * socket.send(Buffer.from([1, 2, 3]), { compress: false }, () => console.log("flushed"));
   */
  send(data: RawData, options?: SendOptions | SendCallback, callback?: SendCallback): this {
    this.sendPacket("message", data, options, callback);
    return this;
  }

  /**
   * Same as `send()`.
   *
   * @example
   * socket.write("hello");
   */
  write(data: RawData, options?: SendOptions | SendCallback, callback?: SendCallback): this {
    this.sendPacket("message", data, options, callback);
    return this;
  }

  private sendPacket(
    type: PacketType,
    data?: RawData,
    options?: SendOptions | SendCallback,
    callback?: SendCallback,
  ): void {
    if (typeof options === "function") {
      callback = options;
      options = undefined;
    }
    if (this.readyState === "closing" || this.readyState === "closed") {
      return;
    }
    const cost = packetCost(data, options);
    const max = this.server.opts.maxBufferedAmount;
    if (max > 0 && max < Infinity && !this.withinBound(cost, max)) {
      this.onOverBound(options);
      return;
    }
    if (debug.enabled) {
      debug('sending packet "%s" (%s)', type, data);
    }
    // as with the reference, falsy data (null, 0, "", false) leaves no data on the packet; the
    // data is in the literal, not added after: that would cost the packet a property array
    const packet: Packet = data
      ? { type, options: withCompress(options), data }
      : { type, options: withCompress(options) };
    this.emit("packetCreate", packet);
    if (this._writeBuffer === NOTHING_QUEUED) {
      // an array of the exact size: push() on an empty one reserves 17 slots
      this._writeBuffer = [packet];
    } else {
      this._writeBuffer.push(packet);
    }
    this.writeBufferCost += cost;
    this.queuedTotal += cost;
    if (typeof callback === "function") {
      if (this._packetsFn === NOTHING_QUEUED) {
        this._packetsFn = [callback];
      } else {
        this._packetsFn.push(callback);
      }
    }
    this.flush();
  }

  private flush(): void {
    if (this.readyState === "closed" || !this.transport.writable || this._writeBuffer.length === 0) {
      return;
    }
    debug("flushing buffer to transport");
    const buffer = this._writeBuffer;
    this.emit("flush", buffer);
    this.server.emit("flush", this, buffer);
    this._writeBuffer = NOTHING_QUEUED;
    this.writeBufferCost = 0;
    this.inFlightOverhead += buffer.length * IN_FLIGHT_OVERHEAD;
    if (this._packetsFn.length) {
      // the getter makes the queue, with a null for each flush in flight without callbacks
      this.sentCallbackFn.push(this._packetsFn);
      this._packetsFn = NOTHING_QUEUED;
    } else if (this._sentCallbackFn !== null) {
      this._sentCallbackFn.push(null);
    }
    this.flushesInFlight++;
    this.transport.send(buffer);
    this.emit("drain");
    this.server.emit("drain", this);
  }

  /** The transports this session may upgrade to, among the allowed ones. */
  private getAvailableUpgrades(): string[] {
    const allowed = this.server.opts.transports;
    return this.server.upgrades(this.transport.name).filter((name) => allowed.indexOf(name) !== -1);
  }

  /**
   * Closes the session; buffered packets are flushed first.
   *
   * @example
   * socket.close();
   */
  close(discard = false): void {
    if (discard && (this.readyState === "open" || this.readyState === "closing")) {
      this.closeTransport(true);
      return;
    }
    if (this.readyState !== "open") {
      return;
    }
    this.readyState = "closing";
    if (this._writeBuffer.length) {
      debug("%d packets still buffered, closing on 'drain'", this._writeBuffer.length);
      this.once("drain", () => this.closeTransport(discard));
      return;
    }
    this.closeTransport(discard);
  }

  private closeTransport(discard: boolean): void {
    if (discard) {
      this.transport.discard();
    }
    this.transport.close(() => this.onClose("forced close"));
  }
}
