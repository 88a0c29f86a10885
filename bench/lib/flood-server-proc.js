"use strict";

// The server of the flood bench (bench/flood.js), alone in its process (run with
// --expose-gc): a Socket.IO server of one of the targets (ours, or another build of it,
// with the `rateLimit` option; socket.io 4.8, which has none), or the raw ws baseline.
// "echo" is acknowledged with its payload (ws: the message is sent back); "flood" is only
// counted, per millisecond of arrival.

const http = require("http");
const { monitorEventLoopDelay } = require("perf_hooks");
const { serve } = require("./ipc");
const { TARGETS } = require("./targets");

const FLOOD = '42["flood"]';

let server;
let perMs = new Map();
let disconnectedAt = null;
let base = 0;
let peak = 0;
let sampler = null;
let dropped0 = 0;
let cpu0 = process.cpuUsage();
let time0 = Date.now();
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

function retained() {
  global.gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

// What the server read of a WebSocket in one turn of the event loop, when 1 KB or more
// (the flooder's: an ordinary client's frames are a few dozen bytes), and how long it took
// over it: for each read, from the first "data" listener of the TCP stream to the last,
// ws's own in between, which decodes the whole read and hands every message on
// synchronously. How long the flooder holds the event loop at a time.
let turns = [];
let turn = null;

function endTurn() {
  if (turn.bytes >= 1024) turns.push(turn);
  turn = null;
}

function timeReads(stream) {
  if (!stream) return;
  let start = 0n;
  stream.prependListener("data", () => {
    start = process.hrtime.bigint();
  });
  stream.on("data", (chunk) => {
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (turn === null) {
      turn = { bytes: 0, ms: 0 };
      setImmediate(endTurn);
    }
    turn.bytes += chunk.length;
    turn.ms += ms;
  });
}

function turnStats() {
  const ms = turns.map((r) => r.ms).sort((a, b) => a - b);
  const bytes = turns.map((r) => r.bytes).sort((a, b) => a - b);
  const at = (sorted, p) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
  return { count: ms.length, medianBytes: at(bytes, 0.5), medianMs: at(ms, 0.5), maxMs: at(ms, 1) };
}

function countFlood() {
  const ms = Date.now();
  perMs.set(ms, (perMs.get(ms) || 0) + 1);
}

/** The most flood events handled in any window [t, t + 1000 ms). */
function maxInAnySecond() {
  const times = [...perMs.keys()].sort((a, b) => a - b);
  let max = 0;
  let sum = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    sum += perMs.get(times[end]);
    while (times[end] - times[start] >= 1000) sum -= perMs.get(times[start++]);
    max = Math.max(max, sum);
  }
  return max;
}

/** The most flood events handled in one full calendar second (the first and last are partial). */
function maxInFullSecond() {
  const seconds = new Map();
  for (const [ms, n] of perMs) {
    const s = Math.floor(ms / 1000);
    seconds.set(s, (seconds.get(s) || 0) + n);
  }
  const full = [...seconds.keys()].sort((a, b) => a - b).slice(1, -1);
  return full.length ? Math.max(...full.map((s) => seconds.get(s))) : 0;
}

async function startSio(Server, options) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { serveClient: false, ...options });
  io.on("connection", (socket) => {
    socket.on("echo", (payload, ack) => ack(payload));
    socket.on("flood", countFlood);
    socket.on("disconnect", (reason) => {
      if (reason === "rate limit exceeded") disconnectedAt = Date.now();
    });
  });
  io.engine.on("connection", (conn) => {
    if (conn.transport.name === "websocket") timeReads(conn.transport.socket._socket);
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const nsp = io.of("/");
  return {
    port: httpServer.address().port,
    clients: () => io.engine.clientsCount,
    dropped: () => nsp.rateLimitDroppedCount || 0,
  };
}

async function startWs(WebSocketServer) {
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer });
  wss.on("connection", (ws) => {
    timeReads(ws._socket);
    ws.on("message", (data, isBinary) => {
      if (!isBinary && data.length === FLOOD.length && data.toString() === FLOOD) countFlood();
      else ws.send(data, { binary: isBinary });
    });
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return { port: httpServer.address().port, clients: () => wss.clients.size, dropped: () => 0 };
}

serve({
  clients() {
    return server.clients();
  },
  async start({ target, options }) {
    const { kind, load } = TARGETS[target];
    server = kind === "ws" ? await startWs(load()) : await startSio(load(), options);
    return { port: server.port };
  },
  /**
   * Starts counting afresh; with `ms`, also samples the retained memory every `ms` from
   * now on (each sample is a full gc: not while latencies are measured).
   */
  mark({ ms }) {
    perMs = new Map();
    turns = [];
    disconnectedAt = null;
    loopDelay.reset();
    dropped0 = server.dropped();
    cpu0 = process.cpuUsage();
    time0 = Date.now();
    if (sampler) clearInterval(sampler);
    sampler = null;
    base = peak = 0;
    if (ms) {
      base = retained();
      peak = base;
      sampler = setInterval(() => {
        peak = Math.max(peak, retained());
      }, ms);
    }
    return {};
  },
  stats() {
    // before the last sample's gc
    const cpu = process.cpuUsage(cpu0);
    const elapsed = Date.now() - time0;
    if (sampler) {
      clearInterval(sampler);
      peak = Math.max(peak, retained());
    }
    sampler = null;
    return {
      handled: [...perMs.values()].reduce((a, b) => a + b, 0),
      // from the first flood event handled to the last (the backlog is read after the flooder stopped)
      handledSpanMs: perMs.size ? Math.max(...perMs.keys()) - Math.min(...perMs.keys()) + 1 : 0,
      maxPerSecond: maxInFullSecond(),
      maxInAnySecond: maxInAnySecond(),
      dropped: server.dropped() - dropped0,
      disconnectedAt,
      clients: server.clients(),
      growth: peak - base,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
      // the server's CPU time (user and system), ms per second since the mark
      cpuMsPerSec: ((cpu.user + cpu.system) / 1000 / elapsed) * 1000,
      reads: turnStats(),
    };
  },
});
