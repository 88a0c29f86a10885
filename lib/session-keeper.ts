import debugModule from "debug";
import type { SessionToPersist } from "./adapter/in-memory-adapter";

const debug = debugModule("socket.io:session-keeper");

/** How many sessions one refresh stores before yielding to the event loop. */
const REFRESH_BATCH = 500;

/** What the keeper needs of a socket (a structural view, so that no import cycle forms). */
export interface KeptSocket {
  readonly connected: boolean;
  _sessionToPersist(): SessionToPersist;
}

/** What the keeper needs of its namespace. */
export interface KeptNamespace {
  readonly name: string;
  readonly sockets: Map<string, KeptSocket>;
  readonly adapter: { persistSession(session: SessionToPersist): void };
}

/**
 * Stores the sessions of a namespace's connected sockets through the adapter's
 * `persistSession()` (the `connectionStateRecovery.persistWhileConnected` option), so that a
 * node that dies without a disconnect (SIGKILL, out of memory, power loss) leaves its sessions
 * behind for the other nodes to restore. Stores are coalesced: a socket marked several times
 * in one tick is stored once, by one `setImmediate` for the whole namespace; one interval per
 * namespace stores every socket again at half of `maxDisconnectionDuration`, before the
 * adapter lets the stored copy expire.
 *
 * @example
 * const keeper = new SessionKeeper(nsp, 120000);
 * keeper.mark(socket); // after it connected, joined or left a room
 */
export class SessionKeeper {
  private readonly nsp: KeptNamespace;
  private readonly refreshInterval: number;
  private dirty = new Set<KeptSocket>();
  private flushScheduled = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Iterator<KeptSocket> | undefined;

  constructor(nsp: KeptNamespace, maxDisconnectionDuration: number) {
    this.nsp = nsp;
    this.refreshInterval = Math.max(1, Math.floor(maxDisconnectionDuration / 2));
  }

  /**
   * Schedules a store of the socket's session at the end of this tick (once, however many
   * times it is marked).
   *
   * @example
   * keeper.mark(socket);
   */
  public mark(socket: KeptSocket): void {
    this.dirty.add(socket);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(flush, this);
    }
    if (this.refreshTimer === undefined) {
      this.refreshTimer = setInterval(refresh, this.refreshInterval, this);
      // the sessions are kept for a running server: the timer must not keep a process alive
      this.refreshTimer.unref();
    }
  }

  /**
   * Stops the refresh and forgets the pending stores (the server is closing).
   *
   * @example
   * keeper.stop();
   */
  public stop(): void {
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    this.refreshing = undefined;
    this.dirty.clear();
  }

  /** @internal */
  _flush(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = new Set();
    for (const socket of dirty) this.store(socket);
  }

  /** @internal */
  _refresh(): void {
    if (this.nsp.sockets.size === 0) {
      // started again by the next connection
      this.stop();
      return;
    }
    // a refresh still walking the sockets (a huge namespace on a busy loop) carries on
    if (this.refreshing !== undefined) return;
    // a Map iterator survives deletions and sees insertions, so the walk needs no copy
    this.refreshing = this.nsp.sockets.values();
    this._refreshBatch();
  }

  /** @internal */
  _refreshBatch(): void {
    const iterator = this.refreshing;
    if (iterator === undefined) return;
    for (let i = 0; i < REFRESH_BATCH; i++) {
      const next = iterator.next();
      if (next.done) {
        this.refreshing = undefined;
        return;
      }
      this.store(next.value);
    }
    setImmediate(refreshBatch, this);
  }

  private store(socket: KeptSocket): void {
    // a socket gone since it was marked was persisted (or tombstoned) by its disconnect
    if (!socket.connected) return;
    storeSession(this.nsp.adapter, socket._sessionToPersist());
  }
}

/**
 * Stores a session through the adapter on the keeper's behalf: a store that fails, at once
 * or as a rejected promise (an adapter whose backend is down), is only logged, never an
 * uncaught exception or an unhandled rejection; the session then lives as long as its node.
 *
 * @example
 * storeSession(nsp.adapter, socket._sessionToPersist());
 */
export function storeSession(
  adapter: { persistSession(session: SessionToPersist): unknown },
  session: SessionToPersist,
): void {
  const onError = (err: unknown): void => debug("could not store the session of %s: %s", session.sid, err);
  try {
    const result = adapter.persistSession(session) as PromiseLike<unknown> | undefined;
    if (result !== undefined && result !== null && typeof result.then === "function") {
      result.then(undefined, onError);
    }
  } catch (err) {
    onError(err);
  }
}

function flush(keeper: SessionKeeper): void {
  keeper._flush();
}

function refresh(keeper: SessionKeeper): void {
  keeper._refresh();
}

function refreshBatch(keeper: SessionKeeper): void {
  keeper._refreshBatch();
}
