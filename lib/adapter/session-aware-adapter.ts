import { randomBytes } from "crypto";
import debugModule from "debug";
import { PacketType } from "../codec";
import type { Packet } from "../codec";
import {
  Adapter,
  AdapterNamespace,
  BroadcastOptions,
  PrivateSessionId,
  Room,
  Session,
  SessionToPersist,
} from "./in-memory-adapter";

const debug = debugModule("socket.io-adapter");

// How often expired sessions and packets are dropped: one timer per adapter, never per packet.
const SWEEP_INTERVAL = 60 * 1000;

// The server's default, used when the adapter is built without recovery options.
const DEFAULT_MAX_DISCONNECTION_DURATION = 2 * 60 * 1000;

interface PersistedSession extends SessionToPersist {
  disconnectedAt: number;
}

interface PersistedPacket {
  id: string;
  opts: BroadcastOptions;
  data: unknown[];
  emittedAt: number;
}

// Offsets are "<process prefix>-<counter>": unique within the process thanks to the counter, and
// across restarts and nodes thanks to the time and random prefix.
const OFFSET_PREFIX = Date.now().toString(36) + randomBytes(3).toString("hex") + "-";
let offsetCounter = 0;

function nextOffset(): string {
  return OFFSET_PREFIX + (offsetCounter++).toString(36);
}

function isMissedBy(sessionRooms: Room[], opts: BroadcastOptions): boolean {
  const included = opts.rooms.size === 0 || sessionRooms.some((room) => opts.rooms.has(room));
  if (!included) return false;
  const except = opts.except;
  return except === undefined || sessionRooms.every((room) => !except.has(room));
}

/**
 * The in-memory adapter with connection state recovery: it keeps the sessions of the sockets
 * that disconnected unexpectedly and the broadcast EVENT packets, each tagged with an offset
 * appended as its last argument, for `maxDisconnectionDuration` milliseconds.
 *
 * @example
 * const adapter = new SessionAwareAdapter(nsp); // nsp.server.opts.connectionStateRecovery is set
 * adapter.persistSession({ sid, pid, rooms: [sid, "room1"], data: {} });
 * const session = await adapter.restoreSession(pid, lastOffsetSeenByTheClient);
 */
export class SessionAwareAdapter extends Adapter {
  private readonly maxDisconnectionDuration: number;
  private readonly sessions: Map<PrivateSessionId, PersistedSession> = new Map();
  private readonly packets: PersistedPacket[] = [];
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(nsp: AdapterNamespace) {
    super(nsp);
    const duration = nsp.server?.opts?.connectionStateRecovery?.maxDisconnectionDuration;
    this.maxDisconnectionDuration =
      typeof duration === "number" ? duration : DEFAULT_MAX_DISCONNECTION_DURATION;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL);
    // The timer must not keep the process alive on its own.
    this.sweepTimer.unref();
  }

  private sweep(): void {
    const threshold = Date.now() - this.maxDisconnectionDuration;
    for (const [pid, session] of this.sessions) {
      if (session.disconnectedAt < threshold) this.sessions.delete(pid);
    }
    // Packets are stored in emission order, so the expired ones form a prefix.
    let expired = 0;
    while (expired < this.packets.length && this.packets[expired].emittedAt < threshold) expired++;
    if (expired > 0) {
      this.packets.splice(0, expired);
      debug("dropped %d expired packet(s) of namespace %s", expired, this.nsp.name);
    }
  }

  /**
   * Stops the expiry timer.
   *
   * @example
   * adapter.close();
   */
  public override close(): Promise<void> | void {
    clearInterval(this.sweepTimer);
    return super.close();
  }

  /**
   * Keeps the session until it is restored or `maxDisconnectionDuration` has elapsed.
   *
   * @example
   * adapter.persistSession({ sid: socket.id, pid, rooms: [...socket.rooms], data: socket.data });
   */
  public override persistSession(session: SessionToPersist): void {
    this.sessions.set(session.pid, { ...session, disconnectedAt: Date.now() });
  }

  /**
   * Resolves the session with the stored packets emitted after `offset` that its rooms would have
   * received, or null when the session is unknown or expired, or the offset is unknown.
   *
   * @example
   * const session = await adapter.restoreSession(pid, offset);
   * if (session) session.missedPackets.forEach((data) => socket.emit(...data));
   */
  public override restoreSession(pid: PrivateSessionId, offset: string): Promise<Session | null> {
    const session = this.sessions.get(pid);
    if (session === undefined) return Promise.resolve(null);
    if (session.disconnectedAt + this.maxDisconnectionDuration < Date.now()) {
      this.sessions.delete(pid);
      return Promise.resolve(null);
    }
    // A client usually reconnects shortly after its last packet: search from the newest.
    let index = this.packets.length - 1;
    while (index >= 0 && this.packets[index].id !== offset) index--;
    if (index === -1) return Promise.resolve(null);

    const missedPackets: unknown[][] = [];
    for (let i = index + 1; i < this.packets.length; i++) {
      const packet = this.packets[i];
      if (isMissedBy(session.rooms, packet.opts)) missedPackets.push(packet.data);
    }
    return Promise.resolve({ ...session, missedPackets });
  }

  /**
   * Tags recoverable packets (EVENT, no ack, not volatile) with a new offset as their last
   * argument and stores them, then broadcasts.
   *
   * @example
   * adapter.broadcast({ type: 2, data: ["news", 1] }, { rooms: new Set() }); // data: ["news", 1, "<offset>"]
   */
  public override broadcast(packet: Packet, opts: BroadcastOptions): void {
    const recoverable =
      packet.type === PacketType.EVENT && packet.id === undefined && opts.flags?.volatile === undefined;
    if (!recoverable) {
      super.broadcast(packet, opts);
      return;
    }
    const id = nextOffset();
    packet.data.push(id);
    // stored once encoded: data that cannot be encoded throws to the emitter and must not
    // be replayed (and throw again) when a client recovers its session
    super.broadcast(packet, opts);
    this.packets.push({ id, opts, data: packet.data, emittedAt: Date.now() });
  }
}
