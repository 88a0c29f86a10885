"use strict";

// The chat demo on several Node.js processes with one command:
//
//   npm run demo:cluster                  # http://localhost:3000, one worker per CPU (at least 2)
//   WORKERS=4 PORT=8080 npm run demo:cluster
//   FORWARDING=1 npm run demo:cluster     # no sticky sessions: any worker serves any request
//
// By default the primary process owns the port and @socket.io/sticky hands each
// connection to a worker: a new session to the least busy one, and every later request
// of a session (HTTP long-polling, the upgrade to WebSocket) to the worker that holds it,
// found from the `sid` query parameter.
//
// With FORWARDING=1 there is no @socket.io/sticky: the workers listen on the port
// themselves and Node's cluster module hands each connection to the next worker,
// round-robin, whatever session it belongs to. The `sessionForwarding` option makes that
// work: a worker that gets a request of a session another worker holds forwards it there
// (README, "Scaling to several nodes"). The workers share a secret, from
// SIO_FORWARDING_SECRET or drawn by the primary.
//
// Either way the workers run the chat of demo/index.js, and @socket.io/cluster-adapter
// relays their broadcasts, fetchSockets() and room changes through the primary, so users
// on different workers chat together.
//
// @socket.io/sticky and @socket.io/cluster-adapter are dev dependencies of this
// repository: an app of your own adds them as dependencies.

const cluster = require("cluster");
const crypto = require("crypto");
const http = require("http");
const os = require("os");
const { createAdapter, setupPrimary } = require("@socket.io/cluster-adapter");

const FORWARDING = process.env.FORWARDING === "1";

if (cluster.isPrimary) {
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  const cpus = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  const workers = Number(process.env.WORKERS) || Math.max(2, cpus);

  setupPrimary();
  // Buffers in broadcasts cross the IPC channel as Buffers, not as JSON
  cluster.setupPrimary({ serialization: "advanced" });
  const env = { DEMO_PORT: String(port) };
  if (FORWARDING)
    env.SIO_FORWARDING_SECRET = process.env.SIO_FORWARDING_SECRET || crypto.randomBytes(24).toString("hex");

  let httpServer;
  const listening = (actualPort) =>
    console.log(
      `Chat demo listening on http://localhost:${actualPort} with ${workers} workers` +
        (FORWARDING ? " (session forwarding, no sticky sessions)" : ""),
    );
  if (!FORWARDING) {
    const { setupMaster } = require("@socket.io/sticky");
    httpServer = http.createServer();
    setupMaster(httpServer, { loadBalancingMethod: "least-connection" });
    httpServer.once("error", (err) => {
      console.error(`Cannot start the chat demo: ${err.message}`);
      process.exit(1);
    });
  }
  // With @socket.io/sticky, a connection handed to a worker that has not set it up yet
  // would be lost: the port opens once every worker says it is ready. With forwarding, a
  // worker is ready once it listens (the cluster module then gives it connections).
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork(env).on("message", (msg) => {
      if (!msg || msg.type !== "demo:ready" || ++ready !== workers) return;
      if (FORWARDING) listening(msg.port);
      else httpServer.listen(port, () => listening(httpServer.address().port));
    });
  }
  cluster.on("exit", (worker, code, signal) => {
    // a worker that cannot listen (the port is taken) said so and stops the demo
    if (code === 2) process.exit(1);
    console.error(
      `Worker ${worker.process.pid} stopped (${signal || code}); its users reconnect to the others`,
    );
  });
} else {
  const { createDemo } = require(".");
  // DEMO_SOCKET_IO names another socket.io implementation for the workers: the
  // tests run this demo against socket.io 4.8 itself too.
  const { Server } = require(process.env.DEMO_SOCKET_IO || "..");
  const serverOptions = { adapter: createAdapter() };
  if (FORWARDING) serverOptions.sessionForwarding = { secret: process.env.SIO_FORWARDING_SECRET };
  const { io, httpServer } = createDemo({ Server, serverOptions });
  if (FORWARDING) {
    // listen(0) gives every worker of a cluster the same port
    httpServer.once("error", (err) => {
      console.error(`Cannot start the chat demo: ${err.message}`);
      process.exit(2);
    });
    httpServer.listen(Number(process.env.DEMO_PORT), () =>
      process.send({ type: "demo:ready", port: httpServer.address().port }),
    );
  } else {
    // the primary passes each connection to this worker's HTTP server
    require("@socket.io/sticky").setupWorker(io);
    process.send({ type: "demo:ready" });
  }
}
