"use strict";

// The chat demo on several Node.js processes with one command:
//
//   npm run demo:cluster                  # http://localhost:3000, one worker per CPU (at least 2)
//   WORKERS=4 PORT=8080 npm run demo:cluster
//
// The primary process owns the port. @socket.io/sticky hands each connection to a
// worker: a new session to the least busy one, and every later request of a session
// (HTTP long-polling, the upgrade to WebSocket) to the worker that holds it, found from
// the `sid` query parameter. The workers run the chat of demo/index.js, and
// @socket.io/cluster-adapter relays their broadcasts, fetchSockets() and room changes
// through the primary, so users on different workers chat together.
//
// @socket.io/sticky and @socket.io/cluster-adapter are dev dependencies of this
// repository: an app of your own adds them as dependencies.

const cluster = require("cluster");
const http = require("http");
const os = require("os");
const { setupMaster, setupWorker } = require("@socket.io/sticky");
const { createAdapter, setupPrimary } = require("@socket.io/cluster-adapter");

if (cluster.isPrimary) {
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  const cpus = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  const workers = Number(process.env.WORKERS) || Math.max(2, cpus);

  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: "least-connection" });
  setupPrimary();
  // Buffers in broadcasts cross the IPC channel as Buffers, not as JSON
  cluster.setupPrimary({ serialization: "advanced" });

  httpServer.once("error", (err) => {
    console.error(`Cannot start the chat demo: ${err.message}`);
    process.exit(1);
  });
  // A connection handed to a worker that has not set up @socket.io/sticky yet would be
  // lost: the port opens once every worker says it is ready.
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on("message", (msg) => {
      if (msg !== "demo:ready" || ++ready !== workers) return;
      httpServer.listen(port, () => {
        console.log(
          `Chat demo listening on http://localhost:${httpServer.address().port} with ${workers} workers`,
        );
      });
    });
  }
  cluster.on("exit", (worker, code, signal) => {
    console.error(
      `Worker ${worker.process.pid} stopped (${signal || code}); its users reconnect to the others`,
    );
  });
} else {
  const { createDemo } = require(".");
  // DEMO_SOCKET_IO names another socket.io implementation for the workers: the
  // tests run this demo against socket.io 4.8 itself too.
  const { Server } = require(process.env.DEMO_SOCKET_IO || "..");
  const { io } = createDemo({ Server, serverOptions: { adapter: createAdapter() } });
  // the primary passes each connection to this worker's HTTP server
  setupWorker(io);
  process.send("demo:ready");
}
