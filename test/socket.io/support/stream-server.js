"use strict";

// A socket.io server alone in a child process (run with --expose-gc), so that its
// memory is measured without the test's clients and mocha in the same heap. Driven
// by the parent over IPC: { cmd, ... } answered by { reply: cmd, ... }.
//   start { options }          listens on a free port; replies { port }
//   stream { count, size, perTick, intervalMs, untilClosed }
//                              io.emit("m", seq, payload) count times, perTick every
//                              intervalMs; replies when the last one is emitted, or once
//                              `untilClosed` clients in all were closed as too slow, with
//                              { startedAt, sent }
//   memory                     after a full gc: { heapUsed, external } in bytes
//   stats                      disconnect reasons seen and the engine's counters; `closes`:
//                              for each client closed with "write buffer full", the time
//                              and the memory (after a full gc) at its close, when what
//                              was queued for it is still held (released on the next tick)
const http = require("http");
const impl = require("../../support/impl");

const { Server } = impl.sio();

let io;
const reasons = [];
const closes = [];

async function memory() {
  global.gc();
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
  const { heapUsed, external } = process.memoryUsage();
  return { heapUsed, external };
}

function stream({ count, size, perTick, intervalMs, untilClosed = Infinity }) {
  const payload = "x".repeat(size);
  const startedAt = Date.now();
  let seq = 0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      for (let i = 0; i < perTick && seq < count; i++) io.emit("m", seq++, payload);
      if (seq === count || closes.length >= untilClosed) {
        clearInterval(timer);
        resolve({ startedAt, sent: seq });
      }
    }, intervalMs);
  });
}

const handlers = {
  async start({ options }) {
    const httpServer = http.createServer();
    io = new Server(httpServer, { serveClient: false, ...options });
    io.on("connection", (socket) => socket.on("disconnect", (reason) => reasons.push(reason)));
    io.engine.on("connection", (conn) =>
      conn.on("close", (reason) => {
        if (reason !== "write buffer full") return;
        // twice: the second gc waits for the first one's sweep, which updates the external
        // memory of the Buffers it freed
        global.gc();
        global.gc();
        const { heapUsed, external } = process.memoryUsage();
        closes.push({ at: Date.now(), heapUsed, external });
      }),
    );
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    return { port: httpServer.address().port };
  },
  stream,
  memory,
  stats() {
    const engine = io.engine;
    return {
      reasons,
      closes,
      clientsCount: engine.clientsCount,
      droppedPacketsCount: engine.droppedPacketsCount,
      slowClientsClosedCount: engine.slowClientsClosedCount,
    };
  },
};

process.on("message", async (msg) => {
  const result = await handlers[msg.cmd](msg);
  process.send({ reply: msg.cmd, ...result });
});
process.on("disconnect", () => process.exit(0));
