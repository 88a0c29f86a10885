/**
 * The `addressLimits` option: per remote address, a cap on the sessions open at once and
 * a token bucket on the handshakes (new sessions). Refusals are answered with 429.
 *
 * One table entry per address that has a session or handshook lately, and no timer: an
 * entry goes when its address has no session left and its bucket has refilled, found on
 * the session's close or by a sweep that handshakes trigger at most once per refill time.
 */
import type { IncomingMessage } from "http";
import type { ErrorContext } from "./handshake-errors";

/**
 * The `addressLimits` option of the engine.
 *
 * @example
 * const io = new Server(httpServer, {
 *   addressLimits: { maxSessions: 20, handshakesPerSecond: 5, handshakeBurst: 20 },
 * });
 */
export interface AddressLimitsOptions {
  /** sessions one address may have open at once; default: no cap */
  maxSessions?: number;
  /** new sessions per second an address may open, on average; default: no cap */
  handshakesPerSecond?: number;
  /** new sessions an address may open at once; default `handshakesPerSecond` (at least 1) */
  handshakeBurst?: number;
}

interface AddressEntry {
  sessions: number;
  tokens: number;
  /** ms of the last refill */
  stamp: number;
}

function positive(value: unknown, what: string, min: number): number {
  if (typeof value !== "number" || !(value >= min) || value === Infinity) {
    throw new TypeError(`addressLimits.${what} must be a number, ${min} or more`);
  }
  return value;
}

/**
 * The address of the client of a request: the socket's, or with `header` (the
 * `addressHeader` option) the last address in that header, the one the proxy in front
 * added (what comes before it the client may have written).
 *
 * @internal
 */
export function addressOf(req: IncomingMessage, header: string | undefined): string {
  if (header !== undefined) {
    const value = req.headers[header];
    const text = Array.isArray(value) ? value.join(",") : value;
    if (text) {
      const last = text.slice(text.lastIndexOf(",") + 1).trim();
      if (last) {
        return last;
      }
    }
  }
  return (req.socket && req.socket.remoteAddress) || "";
}

/**
 * The per-address counts of an engine.
 *
 * @internal
 */
export class AddressTable {
  private readonly entries = new Map<string, AddressEntry>();
  private readonly maxSessions: number;
  private readonly perMs: number;
  private readonly burst: number;
  /**
   * ms between two sweeps: the time for an empty bucket to be full again (an entry left
   * alone that long may go), at least a second so that a sweep over the addresses with a
   * session is rare
   */
  private readonly sweepMs: number;
  private lastSweep = 0;

  constructor(options: AddressLimitsOptions) {
    this.maxSessions =
      options.maxSessions === undefined ? Infinity : positive(options.maxSessions, "maxSessions", 1);
    if (options.handshakesPerSecond === undefined) {
      this.perMs = 0;
      this.burst = Infinity;
      this.sweepMs = 0;
    } else {
      const perSecond = positive(options.handshakesPerSecond, "handshakesPerSecond", Number.MIN_VALUE);
      this.perMs = perSecond / 1000;
      this.burst =
        options.handshakeBurst === undefined
          ? Math.max(1, perSecond)
          : positive(options.handshakeBurst, "handshakeBurst", 1);
      this.sweepMs = Math.max(1000, this.burst / this.perMs);
    }
  }

  /** Addresses in the table. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Takes a handshake token for `address`; the refusal's context when it has none.
   * Checked before `allowRequest`, so that a flood of handshakes does not reach it.
   */
  takeHandshake(address: string, now: number): ErrorContext | undefined {
    if (this.perMs === 0) {
      return undefined;
    }
    if (now - this.lastSweep >= this.sweepMs) {
      this.sweep(now);
    }
    let entry = this.entries.get(address);
    if (entry === undefined) {
      entry = { sessions: 0, tokens: this.burst, stamp: now };
      this.entries.set(address, entry);
    } else {
      this.refill(entry, now);
    }
    if (entry.tokens < 1) {
      return {
        name: "HANDSHAKE_RATE_EXCEEDED",
        address,
        retryAfter: Math.max(1, Math.ceil((1 - entry.tokens) / this.perMs / 1000)),
      };
    }
    entry.tokens -= 1;
    return undefined;
  }

  /** The refusal's context when `address` already has `maxSessions` sessions. */
  checkSessions(address: string): ErrorContext | undefined {
    const entry = this.entries.get(address);
    if (entry !== undefined && entry.sessions >= this.maxSessions) {
      return { name: "TOO_MANY_SESSIONS", address, maxSessions: this.maxSessions };
    }
    return undefined;
  }

  /** A session of `address` opened. */
  opened(address: string, now: number): void {
    const entry = this.entries.get(address);
    if (entry === undefined) {
      this.entries.set(address, { sessions: 1, tokens: this.burst, stamp: now });
    } else {
      entry.sessions++;
    }
  }

  /** A session of `address` closed. */
  closed(address: string, now: number): void {
    const entry = this.entries.get(address);
    if (entry === undefined) {
      return;
    }
    entry.sessions--;
    if (entry.sessions <= 0 && this.isFull(entry, now)) {
      this.entries.delete(address);
    }
  }

  private refill(entry: AddressEntry, now: number): void {
    const elapsed = now - entry.stamp;
    if (elapsed > 0) {
      entry.tokens = Math.min(this.burst, entry.tokens + elapsed * this.perMs);
    }
    entry.stamp = now;
  }

  private isFull(entry: AddressEntry, now: number): boolean {
    return this.perMs === 0 || entry.tokens + (now - entry.stamp) * this.perMs >= this.burst;
  }

  /** Forgets the addresses with no session whose bucket has refilled. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [address, entry] of this.entries) {
      if (entry.sessions <= 0 && this.isFull(entry, now)) {
        this.entries.delete(address);
      }
    }
  }
}
