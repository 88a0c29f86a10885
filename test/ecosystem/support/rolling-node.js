"use strict";

// One Socket.IO node of the rolling-restart test, in its own process, with connection
// state recovery, on @socket.io/redis-streams-adapter (a redis:// URL) or
// @socket.io/postgres-adapter (a postgres:// URL), wired for SIGTERM as the README shows
// ("Deploying without losing messages"):
//   node rolling-node.js <name> <port> <redis or postgres url> <drain rate> <drain deadline ms>
// ROLLING_MODE=close makes SIGTERM call io.close() instead (the baseline).
// It listens only once its adapter hears the others (a client landing earlier could miss
// a live broadcast), then prints "ready". Every connection is logged ("conn <ms>
// <recovered>") for the test to measure the handshake rate it took, and every disconnection
// ("gone <ms>") for the pace at which the node let its clients go.
const http = require("http");
const { Server } = require("../../support/impl").sio();
const { streamHeard } = require("./stream-probe");

const [name, port, backendUrl, rate, deadline] = process.argv.slice(2);

// the adapter, and what closes its connections once the node is drained
async function backend() {
  if (backendUrl.startsWith("postgres")) {
    const { Pool } = require("pg");
    const { createAdapter } = require("@socket.io/postgres-adapter");
    const pool = new Pool({ connectionString: backendUrl });
    pool.on("error", (err) => console.error("postgres error: " + err.message));
    return { adapter: createAdapter(pool, { heartbeatInterval: 500 }), end: () => pool.end() };
  }
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const redisClient = createClient({ url: backendUrl });
  redisClient.on("error", (err) => console.error("redis error: " + err.message));
  await redisClient.connect();
  return {
    adapter: createAdapter(redisClient, { blockTimeInMs: 200, heartbeatInterval: 500 }),
    // the adapter sends its session writes without returning them: quit() waits for them
    end: () => redisClient.quit(),
  };
}

// resolves once the adapter delivers what the other nodes publish
async function heard(io) {
  const adapter = io.of("/").adapter;
  if (backendUrl.startsWith("postgres")) {
    // the heartbeats of the test's broadcaster: its LISTEN works
    while ((await adapter.serverCount()) < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    return;
  }
  await streamHeard(io, "probe:" + name);
}

async function main() {
  const { adapter, end } = await backend();
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter,
    connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
  });
  io.on("connection", (socket) => {
    console.log("conn %d %s", Date.now(), socket.recovered);
    if (!socket.recovered) socket.join(String(socket.handshake.query.room));
    socket.on("disconnect", () => console.log("gone %d", Date.now()));
  });

  process.once("SIGTERM", async () => {
    if (process.env.ROLLING_MODE === "close") {
      // the baseline: every session ends at once, and the sessions are written while exiting
      await io.close();
      await end();
      console.log("drained %s null", name);
      process.exit(0);
    }
    const result = await io.drain({ rate: Number(rate), deadline: Number(deadline), closeHttpServer: true });
    await end();
    console.log("drained %s %j", name, result);
    process.exit(result.timedOut ? 1 : 0);
  });

  await heard(io);
  httpServer.listen(Number(port), "127.0.0.1", () => console.log("ready"));
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
