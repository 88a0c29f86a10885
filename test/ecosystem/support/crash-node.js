"use strict";

// One Socket.IO node in its own process, on @socket.io/redis-streams-adapter with connection
// state recovery, for a test to kill with SIGKILL:
//   node crash-node.js <name> <redis url> <persistWhileConnected: 0 or 1>
// Every socket joins "welcome" in its connection listener; "join" joins a room later;
// "whoami" answers the node that created the session (socket.data). Prints "ready <port>"
// once its adapter reads the stream (a client landing earlier could miss a live broadcast).
const http = require("http");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { Server } = require("../../support/impl").sio();
const { streamHeard } = require("./stream-probe");

const [name, redisUrl, persist] = process.argv.slice(2);

async function main() {
  const redisClient = createClient({ url: redisUrl });
  redisClient.on("error", (err) => console.error("redis error: " + err.message));
  await redisClient.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(redisClient, { blockTimeInMs: 200, heartbeatInterval: 500 }),
    connectionStateRecovery: { maxDisconnectionDuration: 60000, persistWhileConnected: persist === "1" },
  });
  io.use((socket, next) => {
    socket.data = { name: socket.handshake.auth.name, node: name };
    next();
  });
  io.on("connection", (socket) => {
    if (!socket.recovered) socket.join("welcome");
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb();
    });
    socket.on("whoami", (cb) => cb(socket.data.node));
  });

  await streamHeard(io, "probe:" + name);
  httpServer.listen(0, "127.0.0.1", () => console.log("ready " + httpServer.address().port));
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
