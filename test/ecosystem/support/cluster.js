"use strict";

// Several Socket.IO servers (ours or, with REFERENCE=1, the reference) in this
// process, each on its own HTTP server and sharing a backend through a published
// adapter, as a user deploys them: @socket.io/redis-adapter (plain or sharded),
// @socket.io/redis-streams-adapter or @socket.io/postgres-adapter.
const { createServer } = require("http");
const { io: ioc } = require("socket.io-client");
const { connected, waitFor } = require("./peers");

const { Server } = require("../../support/impl").sio();

/**
 * A backend makes one adapter per node with its own connections:
 * `() => Promise<{ adapter, errors: Error[], close: () => Promise<void> }>`.
 * `sharded` uses createShardedAdapter (Redis 7 sharded pub/sub) instead of createAdapter.
 * @example const A = await startNode("A", redisBackend(redis.url));
 */
function redisBackend(redisUrl, { sharded = false, adapterOptions = {} } = {}) {
  return async () => {
    const { createClient } = require("redis");
    const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    const errors = [];
    pub.on("error", (err) => errors.push(err));
    sub.on("error", (err) => errors.push(err));
    await Promise.all([pub.connect(), sub.connect()]);
    const adapter = sharded
      ? createShardedAdapter(pub, sub, adapterOptions)
      : createAdapter(pub, sub, { requestsTimeout: 2000, ...adapterOptions });
    return { adapter, errors, close: () => Promise.allSettled([pub.quit(), sub.quit()]) };
  };
}

/**
 * @socket.io/redis-streams-adapter on one client per node. A short XREAD block
 * keeps closing fast: the client's quit waits for the pending blocking read.
 * @example const A = await startNode("A", redisStreamsBackend(redis.url), { serverOptions });
 */
function redisStreamsBackend(redisUrl, adapterOptions = {}) {
  return async () => {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    const client = createClient({ url: redisUrl });
    const errors = [];
    client.on("error", (err) => errors.push(err));
    await client.connect();
    const adapter = createAdapter(client, { blockTimeInMs: 200, ...adapterOptions });
    return { adapter, errors, close: () => Promise.allSettled([client.quit()]) };
  };
}

/**
 * @socket.io/postgres-adapter on a pg.Pool per node (LISTEN/NOTIFY, and the
 * attachments table for binary or large payloads, created once by the caller).
 * @example const A = await startNode("A", postgresBackend(pg.config));
 */
function postgresBackend(poolConfig, adapterOptions = {}) {
  return async () => {
    const { Pool } = require("pg");
    const { createAdapter } = require("@socket.io/postgres-adapter");
    const pool = new Pool(poolConfig);
    const errors = [];
    pool.on("error", (err) => errors.push(err));
    const adapter = createAdapter(pool, { heartbeatInterval: 500, ...adapterOptions });
    return { adapter, errors, close: () => pool.end() };
  };
}

/**
 * Starts one server node on its own HTTP server with the adapter the backend makes.
 * `viaMethod` plugs it with `io.adapter(...)` after construction instead of the
 * `adapter` option. Every namespace gets a "broadcast" and a "join" handler, and
 * `socket.data` = { name: auth.name, node: name }.
 * @example const a = await startNode("A", redisBackend(redis.url), { namespaces: ["/", "/custom"] });
 */
async function startNode(
  name,
  backend,
  { namespaces = ["/"], viaMethod = false, setup, serverOptions = {} } = {},
) {
  const { adapter, errors, close: closeBackend } = await backend();
  const httpServer = createServer();
  const io = viaMethod
    ? new Server(httpServer, serverOptions)
    : new Server(httpServer, { ...serverOptions, adapter });
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
  const port = httpServer.address().port;
  const url = "http://127.0.0.1:" + port;
  const clients = [];
  let closed;

  return {
    name,
    io,
    port,
    url,
    adapterErrors: errors,
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
      await connected(client);
      return client;
    },
    /** Disconnects this node's clients, closes the server, then the backend's connections. Idempotent. */
    close() {
      if (!closed) {
        closed = (async () => {
          for (const client of clients) client.disconnect();
          await new Promise((resolve) => io.close(() => resolve()));
          // @socket.io/admin-ui emits its stats every 2 s forever (no API stops the timer):
          // through a Redis adapter whose clients are gone, each emit would be an unhandled
          // rejection ("The client is closed") in whatever test runs next
          if (io._nsps.has("/admin")) io._nsps.get("/admin").emit = () => true;
          await closeBackend();
        })();
      }
      return closed;
    },
  };
}

/**
 * Resolves once every node's adapter of each namespace counts all the nodes:
 * until then a message could be missed by a node still subscribing.
 * `count` is the size of the whole cluster when some of its nodes are not in `nodes` (in other processes).
 * @example await waitForCluster([A, B], ["/", "/custom"]);
 */
async function waitForCluster(nodes, namespaces = ["/"], ms = 3000, count = nodes.length) {
  await waitFor(
    async () => {
      for (const node of nodes) {
        for (const nsp of namespaces) {
          if ((await node.io.of(nsp).adapter.serverCount()) !== count) return false;
        }
      }
      return true;
    },
    ms,
    "every node to see the " + count + " nodes",
  );
}

module.exports = { startNode, waitForCluster, redisBackend, redisStreamsBackend, postgresBackend };
