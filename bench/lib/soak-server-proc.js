"use strict";

// The server side of the soak, alone in its process (run with --expose-gc) and driven
// by the parent over IPC. Default options: the default heartbeat runs for every session.

const http = require("http");
const { monitorEventLoopDelay } = require("perf_hooks");
const { serve } = require("./ipc");
const { TARGETS } = require("./targets");

let io = null;
let trickle = null;
let sent = 0;
let disconnects = 0;
const reasons = {};
let cpuMark = null;
let timeMark = 0;
// one window of event-loop delay per sample: the forced gc of a sample is left out
const delay = monitorEventLoopDelay({ resolution: 10 });

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

serve({
  async start({ target }) {
    const Server = TARGETS[target].load();
    const httpServer = http.createServer();
    io = new Server(httpServer, { serveClient: false });
    io.on("connection", (socket) =>
      socket.on("disconnect", (reason) => {
        disconnects++;
        reasons[reason] = (reasons[reason] || 0) + 1;
      }),
    );
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    return { port: httpServer.address().port };
  },

  count: () => io.engine.clientsCount,

  /** Starts the trickle of broadcasts and the event-loop delay measure. */
  startTrickle({ intervalMs, size }) {
    const payload = "x".repeat(size);
    trickle = setInterval(() => io.emit("tick", sent++, payload), intervalMs);
    delay.reset();
    delay.enable();
    cpuMark = process.cpuUsage();
    timeMark = Date.now();
    return null;
  },

  /** Since the last sample: event-loop delay (ms) and CPU use (%); then the heap after a full gc. */
  async sample() {
    delay.disable();
    const cpu = process.cpuUsage(cpuMark || undefined);
    const window = {
      p50: delay.percentile(50) / 1e6,
      p99: delay.percentile(99) / 1e6,
      max: delay.max / 1e6,
      cpu: cpuMark ? ((cpu.user + cpu.system) / 1000 / (Date.now() - timeMark)) * 100 : 0,
    };
    global.gc();
    await nextTurn();
    global.gc();
    const { heapUsed, rss, external } = process.memoryUsage();
    delay.reset();
    delay.enable();
    cpuMark = process.cpuUsage();
    timeMark = Date.now();
    return { ...window, heapUsed, rss, external, clients: io.engine.clientsCount, disconnects, reasons };
  },

  stopTrickle() {
    clearInterval(trickle);
    delay.disable();
    return { sent, disconnects, reasons };
  },
});
