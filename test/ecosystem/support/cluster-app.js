"use strict";

// The deployment of the @socket.io/cluster-adapter and @socket.io/sticky READMEs:
// a primary process owns the port and hands each connection to a worker (by the
// `sid` of the request, or least-connection for a handshake), and the workers
// (Socket.IO servers: ours, or the reference with REFERENCE=1) share their
// broadcasts through the primary.
//   node cluster-app.js <number of workers>
// The primary prints "listening <port>" once every worker's adapter counts them all.
const cluster = require("cluster");
const http = require("http");
const { setupMaster, setupWorker } = require("@socket.io/sticky");
const { createAdapter, setupPrimary } = require("@socket.io/cluster-adapter");

const WORKERS = Number(process.argv[2]) || 3;

if (cluster.isPrimary) {
  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: "least-connection" });
  setupPrimary();
  cluster.setupPrimary({ serialization: "advanced" }); // Buffers survive IPC
  let ready = 0;
  for (let i = 1; i <= WORKERS; i++) {
    const worker = cluster.fork({ WORKER_NAME: "w" + i });
    worker.on("message", (msg) => {
      if (msg === "ready" && ++ready === WORKERS) {
        httpServer.listen(0, "127.0.0.1", () => console.log("listening " + httpServer.address().port));
      }
    });
  }
  // stopping the primary is enough: a worker exits when it loses its primary
} else {
  const { Server } = require("../../support/impl").sio();
  const name = process.env.WORKER_NAME;
  const io = new Server(http.createServer());
  io.adapter(createAdapter());
  setupWorker(io);

  io.on("ping-workers", (cb) => cb(name));
  io.on("connection", (socket) => {
    socket.data = { worker: name, client: socket.handshake.auth.name };
    socket.on("whoami", (cb) =>
      cb({ worker: name, transport: socket.conn.transport.name, sid: socket.conn.id }),
    );
    socket.on("broadcast", (...args) => io.emit("news", ...args));
    // a failed request is answered with its error, for the test to report
    socket.on("fetch", (room, cb) => {
      (room ? io.in(room) : io).fetchSockets().then(
        (sockets) =>
          cb(sockets.map((s) => ({ id: s.id, data: s.data, local: s.constructor.name !== "RemoteSocket" }))),
        (err) => cb({ error: String(err) }),
      );
    });
    socket.on("ping-workers", (cb) => {
      io.serverSideEmitWithAck("ping-workers").then(cb, (err) => cb({ error: String(err) }));
    });
    socket.on("join-all", (room, cb) => {
      io.socketsJoin(room);
      cb();
    });
    socket.on("to-room", (room, msg) => io.to(room).emit("room-news", msg));
  });

  (async () => {
    while ((await io.of("/").adapter.serverCount()) < WORKERS) await new Promise((r) => setTimeout(r, 20));
    process.send("ready");
  })();
}
