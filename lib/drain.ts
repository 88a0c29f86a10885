/**
 * Taking a node out of service without losing its clients' packets: see `Server.drain()`.
 */
import debugModule from "debug";
import type { Server as Engine } from "./engine/server";
import type { NamespaceAdapter } from "./adapter";

const debug = debugModule("socket.io:drain");

export interface DrainOptions {
  /**
   * The most reconnections a second the drain sends to the other nodes (default 200). The
   * sessions are closed a little slower than that (`drainPace()`: 84 a second for 100),
   * leaving room for the clients' random reconnection delays.
   */
  rate?: number;
  /** The most sessions closed together (default: a 20th of the pace, at least 1). */
  batchSize?: number;
  /**
   * Milliseconds bounding the whole drain (default 25000, under the 30 s a Kubernetes pod
   * gets after SIGTERM): at the deadline the sessions left are closed at once, and the drain
   * resolves without waiting for the adapter further.
   */
  deadline?: number;
  /** Closes the http server too, once the engine is closed (default false). */
  closeHttpServer?: boolean;
}

export interface DrainResult {
  /** Engine.IO sessions closed by the drain. */
  closed: number;
  /** Sessions the adapter stored asynchronously (redis-streams, postgres) and confirmed. */
  persisted: number;
  /** Stores that failed, or that were still pending at the deadline. */
  notPersisted: number;
  /** Whether the deadline cut the drain short. */
  timedOut: boolean;
  /** Milliseconds the drain took. */
  duration: number;
}

/** What the drain needs of the Socket.IO server (kept narrow: drain.ts is imported by server.ts). */
export interface Drainable {
  engine: Engine | undefined;
  httpServer: { close(fn?: (err?: Error) => void): unknown } | undefined;
  adapters(): NamespaceAdapter[];
}

type PersistSession = NamespaceAdapter["persistSession"];

const DEFAULT_RATE = 200;
const DEFAULT_DEADLINE = 25_000;

/**
 * The sessions a drain closes per second for a `rate` of reconnections: the pace `p` with
 * `p + √(3p) = rate`.
 *
 * A client reconnects after a random delay (socket.io-client: `reconnectionDelay` ±50 %,
 * 1 s ± 0.5 s by default), so sessions closed at an even pace reach the other nodes as
 * random arrivals, whose count in a second fluctuates around the pace by about
 * `√(pace × w / 3)` for a delay spread over `w` seconds. Closing exactly `rate` a second,
 * the busiest second of a long drain sees 10 to 20 % more (and no pacing of the closes
 * changes that: the spread is the clients'). Three such deviations, for a 1 s spread, are
 * `√(3p)`: so paced, the busiest second stays around `rate`, within +10 % of it. Below a
 * rate of 6 that estimate is too coarse, and the pace is half the rate (closes 2 s apart
 * for a rate of 1 cannot reach a node in the same second with a 1 s spread).
 *
 * @example
 * drainPace(100); // 84.1
 * drainPace(200); // 177
 */
export function drainPace(rate: number): number {
  const root = (Math.sqrt(3 + 4 * rate) - Math.sqrt(3)) / 2;
  return Math.max(rate / 2, root * root);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * Runs a drain; `Server.drain()` documents it.
 *
 * @example
 * const result = await drain(io, { rate: 100, deadline: 20000 });
 */
export async function drain(server: Drainable, options: DrainOptions = {}): Promise<DrainResult> {
  const started = Date.now();
  const rate = options.rate !== undefined && options.rate > 0 ? options.rate : DEFAULT_RATE;
  const pace = drainPace(rate);
  const batchSize =
    options.batchSize !== undefined && options.batchSize >= 1
      ? Math.floor(options.batchSize)
      : Math.max(1, Math.round(pace / 20));
  const deadline =
    options.deadline !== undefined && options.deadline >= 0 ? options.deadline : DEFAULT_DEADLINE;
  const engine = server.engine;
  const result: DrainResult = { closed: 0, persisted: 0, notPersisted: 0, timedOut: false, duration: 0 };

  if (engine) engine._draining = true;

  // Adapters that store sessions elsewhere (redis-streams, postgres) return a promise from
  // persistSession, which the socket does not await: the drain does, or a process exiting
  // right after it would lose the sessions it was writing.
  const pending = new Set<PromiseLike<unknown>>();
  // what settles after the drain resolved is not counted in its result
  let finished = false;
  const restore: (() => void)[] = [];
  for (const adapter of server.adapters()) {
    const own = Object.prototype.hasOwnProperty.call(adapter, "persistSession");
    const original = adapter.persistSession;
    const tracked: PersistSession = function (this: NamespaceAdapter, session) {
      const stored: unknown = original.call(this, session);
      if (isThenable(stored)) {
        const settled = Promise.resolve(stored).then(
          () => {
            if (!finished) result.persisted++;
          },
          (err: unknown) => {
            if (!finished) result.notPersisted++;
            debug("session %s not persisted: %s", session.sid, err);
          },
        );
        pending.add(settled);
        void settled.then(() => pending.delete(settled));
      }
      return stored as void;
    };
    adapter.persistSession = tracked;
    restore.push(() => {
      if (own) adapter.persistSession = original;
      else delete (adapter as Partial<NamespaceAdapter>).persistSession;
    });
  }

  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadlineReached = new Promise<void>((resolve) => {
    deadlineTimer = setTimeout(() => {
      result.timedOut = true;
      resolve();
    }, deadline);
  });
  const sleep = (ms: number): Promise<void> =>
    Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms)), deadlineReached]);

  try {
    if (engine) {
      // the Engine.IO connection is closed, not the Socket.IO socket: the client sees
      // "transport close" and reconnects, the server sees "forced close" and keeps the session
      const closing = new Set<string>();
      const closed: Promise<void>[] = [];
      // the sessions open now, oldest first (popped from the end), then the few whose
      // handshake was under way when the drain began
      let queue = Object.keys(engine.clients).reverse();
      // A token bucket of `batchSize` tokens gaining `pace` a second: the time spent closing
      // counts toward the next batch (the pace holds under load), and a late timer never
      // brings more than one batch at once.
      let tokens = batchSize;
      let filled = Date.now();
      while (queue.length > 0 && !result.timedOut) {
        const now = Date.now();
        tokens = Math.min(batchSize, tokens + ((now - filled) * pace) / 1000);
        filled = now;
        // a timer's millisecond (ours and Date.now() may differ by one) does not split a
        // batch: a batch may start a 20th of a token early, the next waits for it
        const allowed = Math.floor(tokens + 0.05);
        let batch = 0;
        while (batch < allowed && queue.length > 0) {
          const id = queue.pop() as string;
          const session = engine.clients[id];
          if (session === undefined || closing.has(id)) continue;
          closing.add(id);
          result.closed++;
          batch++;
          closed.push(new Promise((resolve) => session.once("close", () => resolve())));
          session.close();
        }
        tokens -= batch;
        if (queue.length === 0)
          queue = Object.keys(engine.clients)
            .filter((id) => !closing.has(id))
            .reverse();
        if (queue.length > 0) await sleep(Math.max(1, ((batchSize - tokens) * 1000) / pace));
      }
      if (result.timedOut) {
        for (const id of Object.keys(engine.clients)) {
          if (!closing.has(id)) result.closed++;
          engine.clients[id].close(true);
        }
      }
      // a session closes once its buffered packets are written
      await Promise.race([Promise.all(closed), deadlineReached]);
    }
    while (pending.size > 0 && !result.timedOut) {
      await Promise.race([Promise.all([...pending]), deadlineReached]);
    }
    result.notPersisted += pending.size;
    finished = true;
    for (const adapter of server.adapters()) {
      try {
        await Promise.race([adapter.close(), deadlineReached]);
      } catch (err) {
        debug("adapter failed to close: %s", err);
      }
    }
    if (engine) engine.close();
    if (options.closeHttpServer && server.httpServer) {
      const httpServer = server.httpServer;
      await Promise.race([
        new Promise<void>((resolve) => httpServer.close(() => resolve())),
        deadlineReached,
      ]);
    }
  } finally {
    clearTimeout(deadlineTimer);
    for (const undo of restore) undo();
  }
  result.duration = Date.now() - started;
  debug("drained: %j", result);
  return result;
}
