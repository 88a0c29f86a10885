"use strict";

// One Socket.IO server node in its own process (ours, or the reference with
// REFERENCE=1), on the @socket.io/redis-adapter, as a user runs several of them
// behind a load balancer:
//   node node-process.js <name> <port> <redis url> <number of nodes>
// It prints "ready" once its adapter counts every node, so that no broadcast of
// the test can be missed by a node still subscribing.
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Server } = require("../../support/impl").sio();

const [name, port, redisUrl, nodeCount] = process.argv.slice(2);

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) client.on("error", (err) => console.error("redis error: " + err.message));
  await Promise.all([pub.connect(), sub.connect()]);

  const io = new Server(Number(port), { adapter: createAdapter(pub, sub, { requestsTimeout: 2000 }) });
  io.on("connection", (socket) => {
    // where the client landed, and on which transport the server has it now
    socket.on("whoami", (cb) => cb({ node: name, transport: socket.conn.transport.name }));
    socket.on("broadcast", (msg) => io.emit("news", msg));
  });

  for (;;) {
    if ((await io.of("/").adapter.serverCount()) >= Number(nodeCount)) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log("ready");

  process.on("SIGTERM", () => {
    io.close(() => Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0)));
  });
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
