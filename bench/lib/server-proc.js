"use strict";

// The server side of a bench, alone in its process so that process.cpuUsage() and
// process.memoryUsage() count the server and nothing else. Driven by the parent over IPC.

const v8 = require("v8");
const { serve } = require("./ipc");
const { startServer } = require("./targets");
const { stampedPayload } = require("./timing");

let server = null;
let cpuStart = null;
let trickle = null;
let trickleSent = 0;
const slowCloses = [];

const nextTick = () => new Promise((resolve) => setImmediate(resolve));

async function collectGarbage() {
  if (typeof global.gc !== "function") throw new Error("run the server with --expose-gc");
  // Twice, with a turn of the loop between: the first pass frees what finalizers release.
  global.gc();
  await nextTick();
  global.gc();
}

serve({
  async start({ target, options }) {
    server = await startServer(target, options);
    return { port: server.port };
  },

  count: () => server.count(),

  /** Starts counting CPU time from here. */
  mark() {
    cpuStart = process.cpuUsage();
    return null;
  },

  /** CPU time (user + system, microseconds) since the last mark. */
  cpu() {
    const { user, system } = process.cpuUsage(cpuStart);
    return { user, system, total: user + system };
  },

  /**
   * Broadcasts `messages` copies of a `size`-character payload, `batch` per turn of the
   * event loop, as an application producing messages over time would rather than in one burst.
   * With `stamp`, each payload starts with its number and send time (see timing.js).
   */
  async broadcast({ messages, size, batch, stamp }) {
    const payload = "x".repeat(size);
    for (let sent = 0; sent < messages;) {
      const end = Math.min(messages, sent + batch);
      for (; sent < end; sent++) server.broadcast(stamp ? stampedPayload(sent, size) : payload);
      await nextTick();
    }
    return null;
  },

  /** One stamped broadcast every `intervalMs`, numbered from 0, until stopTrickle. */
  startTrickle({ intervalMs, size }) {
    trickleSent = 0;
    trickle = setInterval(() => server.broadcast(stampedPayload(trickleSent++, size)), intervalMs);
    return null;
  },

  /** Stops the trickle; returns how many broadcasts it sent. */
  stopTrickle() {
    clearInterval(trickle);
    return { sent: trickleSent };
  },

  /** Writes a heap snapshot to `file` after a full gc. */
  async snapshot({ file }) {
    await collectGarbage();
    return { file: v8.writeHeapSnapshot(file) };
  },

  /**
   * From now on, every client the engine closes as too slow ("write buffer full") is
   * recorded with the server's memory at that moment, after a full gc: what was queued for
   * it is still held then (released on the next tick). Read them with slowCloses.
   */
  probeSlowCloses() {
    server.engine.on("connection", (socket) =>
      socket.on("close", (reason) => {
        if (reason !== "write buffer full") return;
        // twice: the second gc waits for the first one's sweep, which updates the external
        // memory of the Buffers it freed
        global.gc();
        global.gc();
        const { heapUsed, external } = process.memoryUsage();
        slowCloses.push({ at: Date.now(), heapUsed, external });
      }),
    );
    return null;
  },

  slowCloses: () => slowCloses,

  async memory() {
    await collectGarbage();
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    return { rss, heapUsed, external, arrayBuffers };
  },

  async close() {
    await server.close();
    return null;
  },
});
