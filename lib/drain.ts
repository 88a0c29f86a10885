/**
 * Taking a node out of service without losing its clients' packets: see `Server.drain()`.
 */
import debugModule from "debug";
import type { Server as Engine } from "./engine/server";
import type { NamespaceAdapter } from "./adapter";

const debug = debugModule("socket.io:drain");

export interface DrainOptions {
  /** Sessions closed per second (default 200): the reconnections the other nodes take. */
  rate?: number;
  /** Sessions closed together, every `batchSize / rate` seconds (default: a 20th of `rate`). */
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
  const batchSize =
    options.batchSize !== undefined && options.batchSize >= 1
      ? Math.floor(options.batchSize)
      : Math.max(1, Math.round(rate / 20));
  const interval = (1000 * batchSize) / rate;
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
      while (queue.length > 0 && !result.timedOut) {
        let batch = 0;
        while (batch < batchSize && queue.length > 0) {
          const id = queue.pop() as string;
          const session = engine.clients[id];
          if (session === undefined || closing.has(id)) continue;
          closing.add(id);
          result.closed++;
          batch++;
          closed.push(new Promise((resolve) => session.once("close", () => resolve())));
          session.close();
        }
        if (queue.length === 0)
          queue = Object.keys(engine.clients)
            .filter((id) => !closing.has(id))
            .reverse();
        if (queue.length > 0) await sleep(interval);
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
