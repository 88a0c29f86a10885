"use strict";

// One fuzzing run: the server (./server.js) and the bystanders (./bystanders.js) in child
// processes, `peers` raw peers (./peer.js) sending the sessions of ./sessions.js, and the
// invariants checked while it runs and after:
//   - the server process stays alive, with no uncaught error and no unhandled rejection;
//   - it writes nothing to stderr (a client must not be able to flood the logs);
//   - it sends the raw peers nothing their WebSocket library cannot read;
//   - every bystander keeps answering its round trip within `rtt` ms and stays connected;
//   - once the peers are gone, the server's sessions go too, and after a full GC its heap is
//     back within `heapMargin` MB of the baseline taken after a warm-up.
// A violation is kept with the ops sent just before it (a reproducer file for --replay).

const fs = require("fs");
const path = require("path");
const { spawn } = require("../bench/lib/ipc");
const { generateSession } = require("./sessions");
const { Session, closeIdle } = require("./peer");

const MB = 1024 * 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const DEFAULTS = {
  seed: 1,
  peers: 64,
  frames: 50000,
  duration: Infinity, // seconds
  target: "ours",
  skip: [],
  rtt: 3000, // ms
  // the servers' heartbeat: an abandoned polling session ends after interval + timeout,
  // which a bystander must also survive when the machine is busy
  pingInterval: 2500, // ms
  pingTimeout: 5000, // ms
  heapMargin: 4, // MB
  heapLimit: 1024, // MB, the server's --max-old-space-size
  settle: 70, // seconds: sessions kept for recovery are swept every minute
  warmup: 2000, // frames before the heap baseline
  history: 2000, // ops kept for a reproducer
  heapSnapshots: false, // write the server's heap at the baseline and after the run to `out`
  maxViolations: 20,
  out: path.join(process.cwd(), "fuzz-results"),
  progress: null, // function(line) for progress lines
};

/** The last `size` items pushed. */
class Ring {
  constructor(size) {
    this.items = new Array(size);
    this.next = 0;
  }
  push(item) {
    this.items[this.next++ % this.items.length] = item;
  }
  snapshot() {
    const size = this.items.length;
    const start = Math.max(0, this.next - size);
    const out = [];
    for (let i = start; i < this.next; i++) out.push(this.items[i % size]);
    return out;
  }
}

/** The server and bystander processes, restartable on the same ports. */
class Processes {
  constructor(o, onViolation) {
    this.o = o;
    this.onViolation = onViolation;
    this.ports = [0, 0];
    this.stderr = "";
  }

  async start() {
    this.alive = true;
    this.expectedExit = false;
    this.dying = false;
    const execArgv = ["--expose-gc", `--max-old-space-size=${this.o.heapLimit}`];
    // a process being replaced may still have messages on their way: they are not the new one's
    const server = spawn(path.join(__dirname, "server.js"), execArgv, {
      stderr: "pipe",
      onEvent: (msg) => {
        if (this.server !== server) return;
        this.dying = true;
        this.onViolation({ kind: msg.kind, message: msg.message });
      },
    });
    this.server = server;
    server.child.stderr.setEncoding("utf8");
    server.child.stderr.on("data", (text) => this.server === server && this.onStderr(text));
    server.child.on("exit", (code, signal) => this.server === server && this.onExit(code, signal));
    const { target, pingInterval, pingTimeout } = this.o;
    ({ ports: this.ports } = await this.server.request("start", {
      target,
      ports: this.ports,
      pingInterval,
      pingTimeout,
    }));
    const bystanders = spawn(path.join(__dirname, "bystanders.js"), [], {
      onEvent: (msg) =>
        this.bystanders === bystanders &&
        !this.dying &&
        this.onViolation({ kind: msg.kind, message: msg.message }),
    });
    this.bystanders = bystanders;
    ({ counts: this.bystanderCounts } = await this.bystanders.request("start", {
      ports: this.ports,
      interval: 250,
      bound: this.o.rtt,
    }));
  }

  onStderr(text) {
    this.stderr = (this.stderr + text).slice(-4096);
    if (!this.o.checkStderr) return;
    // what arrives together (a message and its stack) is one violation
    this.pending = (this.pending || "") + text;
    clearTimeout(this.flush);
    this.flush = setTimeout(() => {
      if (!this.dying) this.onViolation({ kind: "stderr", message: this.pending.slice(0, 2000) });
      this.pending = "";
    }, 50);
  }

  onExit(code, signal) {
    if (this.expectedExit) return;
    this.alive = false;
    if (!this.dying)
      this.onViolation({
        kind: "exit",
        message: `server exited (${signal || code})\n${this.stderr.slice(-2000)}`,
      });
    this.dying = true;
    if (this.onDeath) this.onDeath();
  }

  async stop() {
    this.expectedExit = true;
    if (this.bystanders) this.bystanders.kill();
    if (this.server) this.server.kill();
  }
}

/**
 * Fuzzes a server and resolves with the report: frames, sessions, duration, heap, round
 * trips, what the input reached, and the violations (each with its reproducer file).
 *
 * @example
 * const report = await run({ seed: 7, frames: 20000, peers: 32, target: "ours" });
 * if (report.violations.length) console.log(report.violations);
 */
async function run(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const skip = new Set(o.skip);
  o.checkStderr = !skip.has("stderr") && !process.env.DEBUG;
  const report = {
    target: o.target,
    seed: o.seed,
    peers: o.peers,
    skip: [...skip],
    frames: 0,
    byOp: {},
    sessions: 0,
    durationMs: 0,
    heap: { baseline: null, peak: 0, after: null, margin: o.heapMargin * MB },
    maxRtt: 0,
    rttRounds: 0,
    reached: null,
    restarts: 0,
    violations: [],
  };
  const ring = new Ring(o.history);
  const classes = new Map();
  let started = Date.now();
  let stopping = false;
  let gate = null; // a promise the peers wait on while the server restarts
  const sessionNumbers = new Array(o.peers).fill(0);
  const active = new Set();

  function onViolation(v) {
    const seen = classes.get(signature(v));
    if (seen) {
      seen.count++;
      return;
    }
    const entry = {
      kind: v.kind,
      message: v.message,
      count: 1,
      frame: report.frames,
      atMs: Date.now() - started,
    };
    classes.set(signature(v), entry);
    report.violations.push(entry);
    if (report.violations.length > o.maxViolations) return;
    fs.mkdirSync(o.out, { recursive: true });
    entry.reproducer = path.join(
      o.out,
      `violation-${o.target}-seed${o.seed}-${report.violations.length}.json`,
    );
    const ops = ring.snapshot();
    fs.writeFileSync(
      entry.reproducer,
      JSON.stringify({ target: o.target, seed: o.seed, skip: [...skip], violation: v, ops }),
    );
    if (o.progress) o.progress(`violation ${v.kind}: ${v.message.split("\n").slice(0, 3).join(" | ")}`);
  }

  const procs = new Processes(o, onViolation);
  const onInvalidFrame = (message) => onViolation({ kind: "invalid-frame", message });
  procs.onDeath = () => {
    if (stopping || gate) return;
    let release;
    gate = new Promise((resolve) => (release = resolve));
    (async () => {
      for (const session of active) session.end();
      await procs.stop();
      if (report.violations.length >= o.maxViolations) {
        stopping = true;
      } else {
        report.restarts++;
        await procs.start();
      }
      gate = null;
      release();
    })().catch((err) => {
      onViolation({ kind: "restart-failed", message: err.stack });
      stopping = true;
      gate = null;
      release();
    });
  };

  let budget = o.warmup;
  async function peer(p) {
    while (!stopping && report.frames < budget) {
      const number = sessionNumbers[p]++;
      const { ops } = generateSession(o.seed, p, number, skip);
      const session = new Session(procs.ports, onInvalidFrame);
      active.add(session);
      report.sessions++;
      for (const op of ops) {
        if (gate) await gate;
        if (stopping || report.frames >= budget || session.closed) break;
        ring.push({ peer: p, session: number, ...op });
        if (await session.exec(op)) {
          report.frames++;
          report.byOp[op.op] = (report.byOp[op.op] || 0) + 1;
        }
      }
      session.end();
      active.delete(session);
    }
  }

  const runPeers = () => Promise.all(Array.from({ length: o.peers }, (_, p) => peer(p)));

  /** Waits for the server to hold nothing but the bystanders' sessions, then measures its heap. */
  async function settledHeap(limitMs, targetHeap) {
    closeIdle();
    const deadline = Date.now() + limitMs;
    let stats;
    for (;;) {
      stats = await procs.server.request("stats");
      if (stats.clients.every((n, i) => n <= procs.bystanderCounts[i])) break;
      if (Date.now() > deadline) {
        onViolation({
          kind: "session-leak",
          message: `sessions left after the peers: ${stats.clients} (bystanders: ${procs.bystanderCounts})`,
        });
        break;
      }
      await sleep(250);
    }
    let heap = await procs.server.request("heap");
    while (targetHeap !== undefined && heap > targetHeap && Date.now() < deadline) {
      await sleep(1000);
      heap = await procs.server.request("heap");
    }
    return heap;
  }

  const progress = setInterval(async () => {
    if (!procs.alive || gate) return;
    try {
      const stats = await procs.server.request("stats", {}, 5000);
      report.heap.peak = Math.max(report.heap.peak, stats.peakHeap);
      if (o.progress) {
        const s = (Date.now() - started) / 1000;
        o.progress(
          `${report.frames} frames, ${report.sessions} sessions, ${s.toFixed(0)} s, heap ${(stats.heapUsed / MB).toFixed(1)} MB, sessions open ${stats.clients}`,
        );
      }
    } catch {
      // the server is restarting or gone: its exit is reported on its own
    }
  }, 5000);

  try {
    await procs.start();
    // warm-up: code paths run for the first time allocate for good; they are not a leak
    await runPeers();
    if (!stopping) report.heap.baseline = await settledHeap(20000);
    const snapshot = async (name) => {
      if (!o.heapSnapshots) return;
      fs.mkdirSync(o.out, { recursive: true });
      await procs.server.request(
        "snapshot",
        { file: path.join(o.out, `${o.target}-seed${o.seed}-${name}.heapsnapshot`) },
        120000,
      );
    };
    await snapshot("baseline");
    const baselineRestarts = report.restarts;

    started = Date.now();
    budget = o.frames + report.frames;
    const warmupFrames = report.frames;
    const timer = o.duration !== Infinity ? setTimeout(() => (stopping = true), o.duration * 1000) : null;
    await runPeers();
    clearTimeout(timer);
    report.durationMs = Date.now() - started;
    report.warmupFrames = warmupFrames;
    report.frames -= warmupFrames;
    stopping = true;
    if (gate) await gate;

    if (procs.alive && report.restarts === baselineRestarts && report.heap.baseline !== null) {
      const limit = report.heap.baseline + report.heap.margin;
      report.heap.after = await settledHeap(o.settle * 1000, limit);
      await snapshot("after");
      if (report.heap.after > limit) {
        onViolation({
          kind: "heap-growth",
          message: `heap ${(report.heap.after / MB).toFixed(1)} MB after the run, baseline ${(report.heap.baseline / MB).toFixed(1)} MB (margin ${o.heapMargin} MB)`,
        });
      }
    }
    if (procs.alive) {
      const stats = await procs.server.request("stats");
      report.heap.peak = Math.max(report.heap.peak, stats.peakHeap);
      report.reached = stats.reached;
      const rtt = await procs.bystanders.request("stats");
      report.maxRtt = rtt.maxRtt;
      report.rttRounds = rtt.rounds;
    }
  } finally {
    clearInterval(progress);
    stopping = true;
    for (const session of active) session.end();
    closeIdle();
    await procs.stop();
  }
  return report;
}

/** Violations that differ only in numbers are one class. */
const signature = (v) => `${v.kind}: ${v.message.split("\n")[0].replace(/\d+/g, "N")}`;

module.exports = { run, DEFAULTS, Processes, signature };
