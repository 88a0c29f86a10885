"use strict";

// One node of the forwarding bench (bench/forwarding.js), alone in its process so that
// process.cpuUsage() counts this node and nothing else: this package's Socket.IO server
// with the `sessionForwarding` option, acknowledging "echo" with its payload.

const http = require("http");
const path = require("path");
const { serve } = require("./ipc");

const { Server } = require(path.join(__dirname, "..", "..", "dist"));

let io;
let cpuStart = process.cpuUsage();

serve({
  async start({ secret }) {
    const httpServer = http.createServer();
    io = new Server(httpServer, { serveClient: false, sessionForwarding: { secret } });
    io.on("connection", (socket) => {
      socket.on("echo", (payload, ack) => ack(payload));
    });
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    return { port: httpServer.address().port };
  },
  /** Starts counting CPU time from here; the counters now. */
  mark() {
    cpuStart = process.cpuUsage();
    return stats();
  },
  stats,
});

/** CPU time (user + system, microseconds) since the last mark, and the engine's counters. */
function stats() {
  const { user, system } = process.cpuUsage(cpuStart);
  const e = io.engine;
  return {
    cpu: user + system,
    sessions: e.clientsCount,
    forwardedRequests: e.forwardedRequestsCount,
    forwardedUpgrades: e.forwardedUpgradesCount,
    forwardingFailures: e.forwardingFailuresCount,
  };
}
