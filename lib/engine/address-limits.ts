/**
 * The `addressLimits` option: per remote address (an IPv6 one with the others of its /64),
 * a cap on the sessions open at once and a token bucket on the handshakes (new sessions).
 * Refusals are answered with 429.
 *
 * One table entry per address that has a session or handshook lately, and no timer: an
 * entry goes when its address has no session left and its bucket has refilled, found on
 * the session's close or by a sweep that handshakes trigger at most once per refill time.
 */
import type { IncomingMessage } from "http";
import { isIPv4, isIPv6 } from "net";
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
 * The 8 groups of 16 bits of an IPv6 address (a zone index, `%eth0`, ignored); undefined
 * for anything else.
 */
function ipv6Groups(address: string): number[] | undefined {
  const zone = address.indexOf("%");
  const text = zone === -1 ? address : address.slice(0, zone);
  if (!isIPv6(text)) {
    return undefined;
  }
  const parse = (part: string): number[] => {
    if (part === "") return [];
    const groups: number[] = [];
    for (const piece of part.split(":")) {
      if (piece.indexOf(".") === -1) {
        groups.push(parseInt(piece, 16));
      } else {
        // the dotted IPv4 form of the last 32 bits
        const [a, b, c, d] = piece.split(".").map(Number);
        groups.push((a << 8) | b, (c << 8) | d);
      }
    }
    return groups;
  };
  const gap = text.indexOf("::");
  if (gap === -1) {
    return parse(text);
  }
  const head = parse(text.slice(0, gap));
  const tail = parse(text.slice(gap + 2));
  return head.concat(new Array<number>(8 - head.length - tail.length).fill(0), tail);
}

/**
 * The group an address is counted in: an IPv4 address on its own, an IPv6 address with
 * every other of its /64 prefix (`2001:db8:0:1::/64`: an ISP gives a subscriber at least
 * a /64, and a host picks addresses in it at will, so that counting each would let one
 * client through the caps with as many addresses as it likes). An IPv4-mapped IPv6
 * address (`::ffff:192.0.2.1`, how a server listening on "::" sees an IPv4 client) is
 * counted as its IPv4 address. Anything else (an address header's odd value) on its own.
 *
 * @internal
 */
export function addressGroup(address: string): string {
  if (address.indexOf(":") === -1) {
    return address;
  }
  // the common case of a server listening on "::", parsed in full below otherwise
  if (address.startsWith("::ffff:") && isIPv4(address.slice(7))) {
    return address.slice(7);
  }
  const groups = ipv6Groups(address);
  if (groups === undefined) {
    return address;
  }
  const mapped = groups[5] === 0xffff && groups[0] + groups[1] + groups[2] + groups[3] + groups[4] === 0;
  if (mapped) {
    return `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
  }
  return `${groups[0].toString(16)}:${groups[1].toString(16)}:${groups[2].toString(16)}:${groups[3].toString(16)}::/64`;
}

/**
 * The per-address counts of an engine, by address group (see `addressGroup`).
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

  /** Whether the sessions of an address are capped (`maxSessions`). */
  get capsSessions(): boolean {
    return this.maxSessions !== Infinity;
  }

  /** Address groups in the table. */
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
    const group = addressGroup(address);
    let entry = this.entries.get(group);
    if (entry === undefined) {
      entry = { sessions: 0, tokens: this.burst, stamp: now };
      this.entries.set(group, entry);
    } else {
      this.refill(entry, now);
    }
    if (entry.tokens < 1) {
      return {
        name: "HANDSHAKE_RATE_EXCEEDED",
        address,
        group,
        retryAfter: Math.max(1, Math.ceil((1 - entry.tokens) / this.perMs / 1000)),
      };
    }
    entry.tokens -= 1;
    return undefined;
  }

  /** The refusal's context when `address` already has `maxSessions` sessions. */
  checkSessions(address: string): ErrorContext | undefined {
    const group = addressGroup(address);
    const entry = this.entries.get(group);
    if (entry !== undefined && entry.sessions >= this.maxSessions) {
      return { name: "TOO_MANY_SESSIONS", address, group, maxSessions: this.maxSessions };
    }
    return undefined;
  }

  /** A session of `address` opened (or a handshake holds its place). */
  opened(address: string, now: number): void {
    const group = addressGroup(address);
    const entry = this.entries.get(group);
    if (entry === undefined) {
      this.entries.set(group, { sessions: 1, tokens: this.burst, stamp: now });
    } else {
      entry.sessions++;
    }
  }

  /** A session of `address` closed (or a handshake let go of its place). */
  closed(address: string, now: number): void {
    const group = addressGroup(address);
    const entry = this.entries.get(group);
    if (entry === undefined) {
      return;
    }
    entry.sessions--;
    if (entry.sessions <= 0 && this.isFull(entry, now)) {
      this.entries.delete(group);
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
