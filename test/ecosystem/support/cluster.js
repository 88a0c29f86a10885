"use strict";

// Two (or more) of our Socket.IO servers sharing one Redis through the published
// @socket.io/redis-adapter, each on its own HTTP server, as a user deploys them.
const { createServer } = require("http");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const { io: ioc } = require("socket.io-client");
const { waitFor } = require("./peers");

const { Server } = require("../../support/impl").sio();

/**
 * Starts one server node wired to Redis. `viaMethod` plugs the adapter with
 * `io.adapter(...)` after construction instead of the `adapter` option.
 * @example const a = await startNode("A", redis.url, { namespaces: ["/", "/custom"] });
 */
async function startNode(name, redisUrl, { namespaces = ["/"], viaMethod = false, setup } = {}) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  const redisErrors = [];
  pub.on("error", (err) => redisErrors.push(err));
  sub.on("error", (err) => redisErrors.push(err));
  await Promise.all([pub.connect(), sub.connect()]);

  const adapter = createAdapter(pub, sub, { requestsTimeout: 2000 });
  const httpServer = createServer();
  const io = viaMethod ? new Server(httpServer) : new Server(httpServer, { adapter });
  if (viaMethod) io.adapter(adapter);

  for (const nspName of namespaces) {
    const nsp = io.of(nspName);
    nsp.use((socket, next) => {
      socket.data = { name: socket.handshake.auth.name, node: name };
      next();
    });
    nsp.on("connection", (socket) => {
      socket.on("broadcast", (msg) => socket.broadcast.emit("broadcasted", msg));
      socket.on("join", (room, cb) => {
        socket.join(room);
        cb();
      });
      if (setup) setup(socket);
    });
  }
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const url = "http://127.0.0.1:" + httpServer.address().port;
  const clients = [];
  let closed;

  return {
    name,
    io,
    url,
    redisErrors,
    /**
     * Connects a real client to this node and resolves once it is connected.
     * @example const c = await node.connect("a1", "/custom", { transports: ["websocket"] });
     */
    async connect(clientName, nsp = "/", opts = {}) {
      const client = ioc(url + nsp, {
        forceNew: true,
        reconnection: false,
        auth: { name: clientName },
        ...opts,
      });
      clients.push(client);
      await new Promise((resolve, reject) => {
        client.once("connect", resolve);
        client.once("connect_error", reject);
      });
      return client;
    },
    /** Disconnects this node's clients, closes the server, then its Redis clients. Idempotent. */
    close() {
      if (!closed) {
        closed = (async () => {
          for (const client of clients) client.disconnect();
          await new Promise((resolve) => io.close(() => resolve()));
          // @socket.io/admin-ui emits its stats every 2 s forever (no API stops the timer):
          // through a Redis adapter whose clients are gone, each emit would be an unhandled
          // rejection ("The client is closed") in whatever test runs next
          if (io._nsps.has("/admin")) io._nsps.get("/admin").emit = () => true;
          await Promise.allSettled([pub.quit(), sub.quit()]);
        })();
      }
      return closed;
    },
  };
}

/**
 * Resolves once every node's adapter of each namespace sees `count` servers on
 * Redis: until then a publish could be missed by a node still subscribing.
 */
async function waitForCluster(nodes, namespaces = ["/"]) {
  await waitFor(
    async () => {
      for (const node of nodes) {
        for (const nsp of namespaces) {
          if ((await node.io.of(nsp).adapter.serverCount()) !== nodes.length) return false;
        }
      }
      return true;
    },
    3000,
    "every node to subscribe to Redis"
  );
}

module.exports = { startNode, waitForCluster };
