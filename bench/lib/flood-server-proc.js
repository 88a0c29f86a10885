"use strict";

// The server of the flood bench (bench/flood.js), alone in its process (run with
// --expose-gc): this package's Socket.IO server with the `rateLimit` option. "echo" is
// acknowledged with its payload; "flood" is only counted, per second of arrival.

const http = require("http");
const path = require("path");
const { monitorEventLoopDelay } = require("perf_hooks");
const { serve } = require("./ipc");

const { Server } = require(path.join(__dirname, "..", "..", "dist"));

let io;
let perSecond = new Map();
let disconnectedAt = null;
let base = 0;
let peak = 0;
let sampler = null;
let dropped0 = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

function retained() {
  global.gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

serve({
  clients() {
    return io.engine.clientsCount;
  },
  async start({ options }) {
    const httpServer = http.createServer();
    io = new Server(httpServer, { serveClient: false, ...options });
    io.on("connection", (socket) => {
      socket.on("echo", (payload, ack) => ack(payload));
      socket.on("flood", () => {
        const second = Math.floor(Date.now() / 1000);
        perSecond.set(second, (perSecond.get(second) || 0) + 1);
      });
      socket.on("disconnect", (reason) => {
        if (reason === "rate limit exceeded") disconnectedAt = Date.now();
      });
    });
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    return { port: httpServer.address().port };
  },
  /**
   * Starts counting afresh; with `ms`, also samples the retained memory every `ms` from
   * now on (each sample is a full gc: not while latencies are measured).
   */
  mark({ ms }) {
    perSecond = new Map();
    disconnectedAt = null;
    loopDelay.reset();
    dropped0 = io.of("/").rateLimitDroppedCount;
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
    if (sampler) {
      clearInterval(sampler);
      peak = Math.max(peak, retained());
    }
    sampler = null;
    const seconds = [...perSecond.keys()].sort();
    // the first and last seconds are partial
    const full = seconds.slice(1, -1).map((s) => perSecond.get(s));
    const nsp = io.of("/");
    return {
      handled: [...perSecond.values()].reduce((a, b) => a + b, 0),
      maxPerSecond: full.length ? Math.max(...full) : 0,
      dropped: nsp.rateLimitDroppedCount - dropped0,
      disconnects: nsp.rateLimitDisconnectsCount,
      disconnectedAt,
      clients: io.engine.clientsCount,
      growth: peak - base,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
    };
  },
});
