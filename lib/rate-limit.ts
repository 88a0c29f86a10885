/**
 * The `rateLimit` option: token buckets on the events each socket receives from its
 * client. A bucket holds up to `burst` tokens and gains `perSecond` of them every
 * second; an event takes one token from the socket's bucket (and one from the bucket
 * of its name, when that name has a limit of its own), or is over the limit.
 *
 * Nothing runs unless the option is set. When it is, a socket gets its buckets with its
 * first event (one array of numbers), and they refill from a timestamp as events arrive:
 * no timer per socket. A connection whose overall bucket is empty is not read until the
 * bucket is full again (see `pauseReading`), which one timer per server ends; it is then
 * read a slice at a time, a slice a turn of the event loop (see `drain`), and its events
 * are dropped before they are decoded while the bucket stays empty (`overallEmpty`).
 */
import type { Packet } from "./codec";
import { READ_SLICE } from "./engine/read-slices";
import type { Socket } from "./socket";

/** The rate of one bucket. */
export interface EventRate {
  /** tokens gained per second: the sustained rate of events */
  perSecond: number;
  /** the most tokens held: the events that may arrive at once; default `perSecond` */
  burst?: number;
}

/**
 * The `rateLimit` option of the Server.
 *
 * @example
 * const io = new Server(httpServer, {
 *   rateLimit: {
 *     perSecond: 100, // every event of a socket, together
 *     burst: 200,
 *     events: { "chat message": { perSecond: 2, burst: 5 } },
 *     onLimit: "drop",
 *   },
 * });
 * io.on("rate_limited", (socket, event) => console.log(`${socket.id} sent "${event}" too fast`));
 */
export interface RateLimitOptions {
  /** events per second a socket may send, all names together; default: no overall limit */
  perSecond?: number;
  /** events a socket may send at once; default `perSecond` */
  burst?: number;
  /** limits of their own for some event names, checked on top of the overall one */
  events?: Record<string, EventRate>;
  /**
   * what happens to an event over the limit: `"drop"` (the default) skips it;
   * `"disconnect"` skips it and disconnects the socket with the reason
   * `"rate limit exceeded"`
   */
  onLimit?: "drop" | "disconnect";
}

/**
 * The option, checked and ready for the packet path. Bucket `i` of a socket is kept at
 * `2i` (tokens) and `2i + 1` (time of the last refill, in ms) of its state array:
 * bucket 0 is the overall one, the others follow `eventIndex`.
 *
 * @internal
 */
export interface RateLimit {
  /** per bucket: tokens gained per ms (0 for an overall bucket that does not limit) */
  readonly perMs: number[];
  /** per bucket: the most tokens held */
  readonly burst: number[];
  /** the bucket of each event name that has one */
  readonly eventIndex: Map<string, number>;
  readonly disconnect: boolean;
  /** the transports not read from, with the time they are read again */
  readonly paused: Map<Readable, number>;
  /** the transports read a slice a turn (see `drain`) */
  readonly draining: Set<Readable>;
  /** bytes read past the limit per refill of an overall bucket: its share of a second's */
  readonly drainBudget: number;
  /** the one timer that reads them again, when some are paused */
  timer: NodeJS.Timeout | undefined;
}

/** What stops and starts reading in the engine's transports. */
interface Readable {
  readonly name: string;
  readonly readyState: string;
  /** websocket: the `ws` socket */
  readonly socket?: {
    readonly readyState: number;
    pause(): void;
    resume(): void;
    /** the TCP (or TLS) stream, ws's own */
    readonly _socket?: { readonly readableLength: number; read(size: number): unknown; end(): void } | null;
  };
  /** polling */
  _pauseData?(): void;
  _drainData?(maxBytes: number): boolean;
  _resumeData?(): void;
  _refuseData?(): void;
}

function stopReading(transport: Readable): boolean {
  if (transport.name === "websocket" && transport.socket !== undefined) {
    transport.socket.pause();
    return true;
  }
  if (transport.name === "polling" && transport._pauseData !== undefined) {
    transport._pauseData();
    return true;
  }
  return false;
}

/**
 * Stops reading a connection closed for going over its limit. A WebSocket is not read any
 * more, and its TCP stream ends once what was written goes out (the client's DISCONNECT
 * packet, the close frame): a flooder that ignores the close would otherwise be read at full
 * speed until ws gives up on its closing handshake (30 s); ws still destroys the socket
 * then. Over polling, the session waits for the client's next GET to deliver the close
 * (or for closeTimeout, 30 s), and the POSTs that come meanwhile are refused unread: a
 * flooder that never polls would otherwise have every one decoded.
 *
 * @internal
 */
export function stopReadingClosed(transport: unknown): void {
  const readable = transport as Readable;
  if (readable.name === "polling" && readable._refuseData !== undefined) {
    readable._refuseData();
    return;
  }
  const ws = readable.name === "websocket" ? readable.socket : undefined;
  if (ws === undefined) {
    return;
  }
  ws.pause();
  const stream = ws._socket;
  if (stream) {
    stream.end();
  }
}

// A connection paused for going over its limit is read again a slice a turn of the event
// loop: what ws (or the polling transport) decodes at once, and drops past the bucket's
// worth, is some 60 of a flooder's smallest packets, not a whole read of 64 KB (some
// 4,000) or a POST body of up to maxHttpBufferSize; a larger packet is read in several
// slices (ws joins them). The same slice as the first read of a WebSocket (read-slices.ts).
const SLICE = READ_SLICE;

// While the bucket stays empty, what is read (and dropped) of a connection a second, in
// shares of a refill of its bucket (`drainBudget`): what a client a little over its limit
// sends in a second, so that its backlog does not grow (its heartbeat stays behind no more
// than a second of it); what a flooder sends past it waits, in the network or in its POST
// body.
const DRAIN_PER_SECOND = 64 * 1024;

/** Reads a connection again: its bucket is full again (or a POST body was left to decode). */
function startReading(transport: Readable, limits: RateLimit): void {
  // a drain running goes on: it sees the connection is not paused any more
  if (!limits.draining.has(transport)) {
    limits.draining.add(transport);
    drain(transport, limits, limits.drainBudget);
  }
}

function isOpen(transport: Readable): boolean {
  return transport.name === "websocket"
    ? transport.socket!.readyState === 1
    : transport.readyState === "open";
}

/** Reads one slice of what waits; whether some is left. */
function readSlice(transport: Readable): boolean {
  if (transport.name !== "websocket") {
    return transport._drainData!(SLICE);
  }
  const stream = transport.socket!._socket;
  if (!stream || stream.readableLength === 0) {
    return false;
  }
  stream.read(Math.min(SLICE, stream.readableLength));
  return stream.readableLength > 0;
}

/**
 * Reads what waits of a connection a slice a turn: on while it is within its limit, up to
 * `budget` bytes (a slice each) while its bucket is empty. Once nothing waits, a connection
 * within its limit is read as usual again (a WebSocket flows; the POST is answered); one
 * still paused waits for its bucket, and the timer.
 */
function drain(transport: Readable, limits: RateLimit, budget: number): void {
  if (!isOpen(transport)) {
    limits.draining.delete(transport);
    return;
  }
  const more = readSlice(transport);
  const paused = limits.paused.has(transport);
  if (paused) {
    budget -= SLICE;
  }
  if (more && (!paused || budget > 0)) {
    setImmediate(drain, transport, limits, budget);
    return;
  }
  limits.draining.delete(transport);
  if (paused || !isOpen(transport)) {
    return;
  }
  if (transport.name === "websocket") {
    transport.socket!.resume();
  } else {
    transport._resumeData!();
  }
}

// The longest a connection over the overall limit is not read from: far below any
// pingTimeout, so that a client a little over the limit keeps its session.
const MAX_PAUSE_MS = 1000;

function checkRate(perSecond: unknown, burst: unknown, what: string): number {
  if (typeof perSecond !== "number" || !(perSecond > 0) || perSecond === Infinity) {
    throw new TypeError(`${what}.perSecond must be a positive number`);
  }
  if (burst === undefined) {
    return Math.max(1, perSecond);
  }
  if (typeof burst !== "number" || !(burst >= 1) || burst === Infinity) {
    throw new TypeError(`${what}.burst must be a number, 1 or more`);
  }
  return burst;
}

/**
 * Checks the option; undefined when it is not set.
 *
 * @internal
 */
export function resolveRateLimit(options: RateLimitOptions | undefined): RateLimit | undefined {
  if (options === undefined || options === null) {
    return undefined;
  }
  const perMs = [0];
  const burst = [Infinity];
  if (options.perSecond !== undefined) {
    burst[0] = checkRate(options.perSecond, options.burst, "rateLimit");
    perMs[0] = options.perSecond / 1000;
  }
  const eventIndex = new Map<string, number>();
  const events = options.events || {};
  for (const name of Object.keys(events)) {
    const rate = events[name];
    burst.push(checkRate(rate && rate.perSecond, rate && rate.burst, `rateLimit.events["${name}"]`));
    perMs.push(rate.perSecond / 1000);
    eventIndex.set(name, perMs.length - 1);
  }
  const onLimit = options.onLimit === undefined ? "drop" : options.onLimit;
  if (onLimit !== "drop" && onLimit !== "disconnect") {
    throw new TypeError('rateLimit.onLimit must be "drop" or "disconnect"');
  }
  // a paused connection is read again once its bucket is full: burst / perSecond seconds
  const refillMs = perMs[0] > 0 ? Math.min(MAX_PAUSE_MS, burst[0] / perMs[0]) : MAX_PAUSE_MS;
  return {
    perMs,
    burst,
    eventIndex,
    disconnect: onLimit === "disconnect",
    paused: new Map(),
    draining: new Set(),
    drainBudget: Math.max(SLICE, Math.round((DRAIN_PER_SECOND * refillMs) / 1000)),
    timer: undefined,
  };
}

/** Refills bucket `i` up to `now` and tells whether it holds a token. */
function hasToken(state: number[], limits: RateLimit, i: number, now: number): boolean {
  const elapsed = now - state[2 * i + 1];
  // a clock set back gives nothing, and the bucket waits from the new time
  if (elapsed > 0) {
    state[2 * i] = Math.min(limits.burst[i], state[2 * i] + elapsed * limits.perMs[i]);
  }
  state[2 * i + 1] = now;
  return state[2 * i] >= 1;
}

function freshState(limits: RateLimit, now: number): number[] {
  const state: number[] = [];
  for (let i = 0; i < limits.burst.length; i++) {
    state.push(limits.burst[i], now);
  }
  return state;
}

/**
 * Takes the tokens of an event packet from the socket's buckets; false when the packet
 * is over the limit (no token taken then).
 *
 * @internal
 */
export function admitEvent(socket: Socket<any, any, any, any>, packet: Packet, limits: RateLimit): boolean {
  const now = Date.now();
  let state = socket._rateState;
  if (state === undefined) {
    state = socket._rateState = freshState(limits, now);
  }
  // the decoder lets only an array with a name (a string or a number) through
  const own = limits.eventIndex.size > 0 ? limits.eventIndex.get(String(packet.data[0])) : undefined;
  const overall = limits.perMs[0] > 0;
  if (overall && !hasToken(state, limits, 0, now)) {
    if (!limits.disconnect) {
      pauseReading(socket.conn.transport as unknown as Readable, limits, now, refillMs(state, limits));
    }
    return false;
  }
  if (own !== undefined && !hasToken(state, limits, own, now)) {
    return false;
  }
  if (overall) state[0] -= 1;
  if (own !== undefined) state[2 * own] -= 1;
  return true;
}

/**
 * Whether the overall bucket of `socket` is empty, in `"drop"` mode: its next event is over
 * the limit whatever its name (and its connection is then not read, as with `admitEvent`).
 * Lets the client drop such an event before it decodes it.
 *
 * @internal
 */
export function overallEmpty(
  socket: Socket<any, any, any, any>,
  limits: RateLimit,
  transport: unknown,
): boolean {
  const state = socket._rateState;
  if (state === undefined || limits.perMs[0] === 0 || limits.disconnect) {
    return false;
  }
  const now = Date.now();
  if (hasToken(state, limits, 0, now)) {
    return false;
  }
  pauseReading(transport as Readable, limits, now, refillMs(state, limits));
  return true;
}

/** ms until the overall bucket is full again. */
function refillMs(state: number[], limits: RateLimit): number {
  return (limits.burst[0] - state[0]) / limits.perMs[0];
}

/**
 * Stops reading the connection of a socket whose overall bucket is empty, until it is full
 * again (at most a second): what the client sends meanwhile waits in the network (over
 * WebSocket, TCP holds it; over polling, the client waits for the answer to its POST
 * before it sends the next), which slows the client down, rather than being read and
 * dropped at the server's expense.
 */
function pauseReading(transport: Readable, limits: RateLimit, now: number, refill: number): void {
  if (limits.paused.has(transport) || !stopReading(transport)) {
    return;
  }
  const due = now + Math.min(MAX_PAUSE_MS, Math.max(1, refill));
  limits.paused.set(transport, due);
  if (transport.name === "polling") {
    // the rest of the POST body, left undecoded: read on (and dropped) from the next turn,
    // within the budget
    setImmediate(startReading, transport, limits);
  }
  if (limits.timer === undefined) {
    limits.timer = setTimeout(resumeDue, due - now, limits);
    // the paused connections do not keep the process alive
    limits.timer.unref();
  }
}

function resumeDue(limits: RateLimit): void {
  limits.timer = undefined;
  const now = Date.now();
  let next = Infinity;
  for (const [transport, due] of limits.paused) {
    if (due <= now) {
      limits.paused.delete(transport);
      startReading(transport, limits);
    } else if (due < next) {
      next = due;
    }
  }
  if (next !== Infinity) {
    limits.timer = setTimeout(resumeDue, next - now, limits);
    limits.timer.unref();
  }
}
