"use strict";

// One Socket.IO node of the rolling-restart test, in its own process, on the
// @socket.io/redis-streams-adapter with connection state recovery, wired for SIGTERM
// as the README shows ("Deploying without losing messages"):
//   node rolling-node.js <name> <port> <redis url> <drain rate> <drain deadline ms>
// ROLLING_MODE=close makes SIGTERM call io.close() instead (the baseline).
// It listens only once its adapter reads the stream (a client landing earlier could miss
// a live broadcast), then prints "ready". Every connection is
// logged ("conn <ms> <recovered>") for the test to measure the handshake rate it took.
const http = require("http");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { Server } = require("../../support/impl").sio();

const [name, port, redisUrl, rate, deadline] = process.argv.slice(2);

async function main() {
  const redisClient = createClient({ url: redisUrl });
  redisClient.on("error", (err) => console.error("redis error: " + err.message));
  await redisClient.connect();

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(redisClient, { blockTimeInMs: 200, heartbeatInterval: 500 }),
    connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
  });
  io.on("connection", (socket) => {
    console.log("conn %d %s", Date.now(), socket.recovered);
    if (!socket.recovered) socket.join(String(socket.handshake.query.room));
  });

  process.once("SIGTERM", async () => {
    if (process.env.ROLLING_MODE === "close") {
      // the baseline: every session ends at once, and the sessions are written while exiting
      await io.close();
      await redisClient.quit();
      console.log("drained %s null", name);
      process.exit(0);
    }
    const result = await io.drain({ rate: Number(rate), deadline: Number(deadline), closeHttpServer: true });
    // the adapter sends its session writes without returning them: quit() waits for them
    await redisClient.quit();
    console.log("drained %s %j", name, result);
    process.exit(result.timedOut ? 1 : 0);
  });

  // the adapter reads the stream once its own probe, sent to a room nobody is in, comes back
  const adapter = io.of("/").adapter;
  let heard = false;
  const onRawMessage = adapter.onRawMessage;
  adapter.onRawMessage = function (...args) {
    heard = true;
    return onRawMessage.apply(this, args);
  };
  while (!heard) {
    io.to("probe:" + name).emit("probe");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  adapter.onRawMessage = onRawMessage;
  httpServer.listen(Number(port), "127.0.0.1", () => console.log("ready"));
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
