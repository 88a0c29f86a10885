"use strict";

// One node of bench/restore-race.js, in its own process: ours or (REFERENCE=1) socket.io
// 4.8 on @socket.io/redis-streams-adapter with connection state recovery, closing the
// Engine.IO connection of one of its sessions, picked at random, `churn` times a second
// for `duration` ms ("forced close": the client reconnects, the server keeps the session).
//   node restore-race-node.js <port> <redis url> <churn> <duration ms>
// Prints "ready" once its adapter reads the stream, and on SIGTERM "stats <json>": the
// connections, the sessions recovered and not (a client that presented one), why the
// adapter could not restore one, the connections it closed.
const http = require("http");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { Server } = require("../../test/support/impl").sio();
const { streamHeard } = require("../../test/ecosystem/support/stream-probe");

const [port, redisUrl, churn, duration] = process.argv.slice(2).map((a, i) => (i === 1 ? a : Number(a)));

async function main() {
  const redisClient = createClient({ url: redisUrl });
  redisClient.on("error", (err) => console.error("redis error: " + err.message));
  await redisClient.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(redisClient, { blockTimeInMs: 200, heartbeatInterval: 500 }),
    connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
  });
  const stats = { connections: 0, recovered: 0, notRecovered: 0, restoreErrors: {}, closed: 0 };
  io.on("connection", (socket) => {
    stats.connections++;
    if (socket.recovered) {
      stats.recovered++;
    } else {
      if (socket.handshake.auth && socket.handshake.auth.pid) stats.notRecovered++;
      socket.join(String(socket.handshake.query.room));
    }
  });

  await streamHeard(io, "probe");
  const adapter = io.of("/").adapter;
  // why the sessions that were not restored were not
  const restoreSession = adapter.restoreSession;
  adapter.restoreSession = function (...args) {
    return restoreSession.apply(this, args).catch((err) => {
      stats.restoreErrors[String(err)] = (stats.restoreErrors[String(err)] || 0) + 1;
      throw err;
    });
  };
  await new Promise((resolve) => httpServer.listen(port, "127.0.0.1", resolve));

  process.once("SIGUSR2", () => {
    const timer = setInterval(() => {
      const ids = Object.keys(io.engine.clients);
      if (ids.length === 0) return;
      io.engine.clients[ids[Math.floor(Math.random() * ids.length)]].close();
      stats.closed++;
    }, 1000 / churn);
    setTimeout(() => clearInterval(timer), duration);
  });
  process.once("SIGTERM", () => {
    process.stdout.write("stats " + JSON.stringify(stats) + "\n", () => process.exit(0));
  });
  console.log("ready");
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
