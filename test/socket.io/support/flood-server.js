"use strict";

// A socket.io server alone in a child process (run with --expose-gc), for the memory a
// flooding client costs it. Driven by the parent over IPC: { cmd, ... } answered by
// { reply: cmd, ... }.
//   start { options }   listens on a free port, counts the calls of the "flood" handler;
//                       replies { port }
//   sample { ms }       from now on, every `ms` a full gc then heapUsed + external,
//                       keeping the largest; replies {}
//   stats               { handled, dropped, disconnects, base, peak, clients } (bytes)
const http = require("http");
const impl = require("../../support/impl");

const { Server } = impl.sio();

let io;
let handled = 0;
let base = 0;
let peak = 0;

function retained() {
  global.gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

const handlers = {
  async start({ options }) {
    const httpServer = http.createServer();
    io = new Server(httpServer, { serveClient: false, ...options });
    io.on("connection", (socket) => socket.on("flood", () => handled++));
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    return { port: httpServer.address().port };
  },
  sample({ ms }) {
    base = retained();
    peak = base;
    setInterval(() => {
      peak = Math.max(peak, retained());
    }, ms).unref();
    return {};
  },
  stats() {
    const nsp = io.of("/");
    return {
      handled,
      dropped: nsp.rateLimitDroppedCount,
      disconnects: nsp.rateLimitDisconnectsCount,
      clients: io.engine.clientsCount,
      base,
      peak: Math.max(peak, retained()),
    };
  },
};

process.on("message", async (msg) => {
  const result = await handlers[msg.cmd](msg);
  process.send({ reply: msg.cmd, ...result });
});
process.on("disconnect", () => process.exit(0));
