"use strict";

// The processes of test/ecosystem/any-node.test.js: Socket.IO nodes (ours, or the
// reference with REFERENCE=1) with `sessionForwarding` when $SIO_FORWARDING_SECRET is set,
// on one of the official adapters, and a broadcaster (a Socket.IO server without an HTTP
// server on the same adapter) that the test drives line by line:
//   node any-node.js '{"role":"node","name":"n1","port":3001,"adapter":"redis","redisUrl":...,"servers":4}'
//   node any-node.js '{"role":"broadcaster",...}'
//   node any-node.js '{"adapter":"cluster","nodes":["n1","n2","n3"],"port":3001}'
// "adapter": "redis", "redis-sharded", "redis-streams" (with connection state recovery),
// "postgres", or "cluster": this process is then the primary of Node's cluster module,
// forking one worker per node, all listening on `port` (the primary hands connections out
// round-robin, no @socket.io/sticky), plus the broadcaster's worker, and relaying the
// test's lines to them.
//
// Every process prints "ready" once its adapter counts `servers` servers (so that no
// broadcast of the test can be missed by a node still subscribing). On stdin:
//   "b <room> <seq>"  (broadcaster) emits "room" <seq> to <room>, or "all" <seq> to all if <room> is "*"
//   "stats <id>"      (node) prints "stats <id> <json>": what this node saw, see nodeStats()
// Cluster: the primary prints "pid <name> <pid>" for each worker, and "stats <id> <json>"
// with the array of its live nodes' stats.
const cluster = require("cluster");
const http = require("http");
const readline = require("readline");

const config = JSON.parse(process.env.ANY_NODE_CONFIG || process.argv[2]);

/** The adapter of `config.adapter` and the function that closes its connections. */
async function makeAdapter() {
  switch (config.adapter) {
    case "redis":
    case "redis-sharded": {
      const { createClient } = require("redis");
      const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
      const pub = createClient({ url: config.redisUrl });
      const sub = pub.duplicate();
      for (const c of [pub, sub]) c.on("error", (err) => console.error("redis error: " + err.message));
      await Promise.all([pub.connect(), sub.connect()]);
      const adapter =
        config.adapter === "redis"
          ? createAdapter(pub, sub, { requestsTimeout: 2000 })
          : createShardedAdapter(pub, sub);
      return { adapter, close: () => Promise.allSettled([pub.quit(), sub.quit()]) };
    }
    case "redis-streams": {
      const { createClient } = require("redis");
      const { createAdapter } = require("@socket.io/redis-streams-adapter");
      const client = createClient({ url: config.redisUrl });
      client.on("error", (err) => console.error("redis error: " + err.message));
      await client.connect();
      const adapter = createAdapter(client, { blockTimeInMs: 200, heartbeatInterval: 500 });
      // quit() waits for the session writes the adapter sent without returning them
      return { adapter, close: () => Promise.allSettled([client.quit()]) };
    }
    case "postgres": {
      const { Pool } = require("pg");
      const { createAdapter } = require("@socket.io/postgres-adapter");
      // The adapter sends each message with pool.query(): two messages on two connections
      // of the pool can reach PostgreSQL in either order, so the broadcaster, whose order
      // the test checks, has one connection for them (and one for its LISTEN)
      const pool = new Pool(config.role === "broadcaster" ? { ...config.pg, max: 2 } : config.pg);
      pool.on("error", (err) => console.error("postgres error: " + err.message));
      return { adapter: createAdapter(pool, { heartbeatInterval: 500 }), close: () => pool.end() };
    }
    case "cluster": {
      const { createAdapter } = require("@socket.io/cluster-adapter");
      return { adapter: createAdapter({ heartbeatInterval: 500 }), close: async () => {} };
    }
    default:
      throw new Error("unknown adapter " + config.adapter);
  }
}

function serverOptions(adapter) {
  const options = { adapter };
  if (process.env.SIO_FORWARDING_SECRET) {
    options.sessionForwarding = { secret: process.env.SIO_FORWARDING_SECRET };
  }
  // the adapter that stores sessions where every node reads them; stored while connected
  // too, so that a node killed with SIGKILL leaves its sessions behind
  if (config.adapter === "redis-streams") {
    options.connectionStateRecovery = {
      maxDisconnectionDuration: 60000,
      skipMiddlewares: true,
      persistWhileConnected: true,
    };
  }
  return options;
}

async function waitForServers(io) {
  while ((await io.of("/").adapter.serverCount()) < config.servers) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts this process's Socket.IO server; `send(line)` is how it prints (stdout, or the
 * cluster primary through IPC). Resolves { onLine(line), stop() } once it is ready.
 */
async function startServer(send) {
  const { Server } = require("../../support/impl").sio();
  const backend = await makeAdapter();

  if (config.role === "broadcaster") {
    const io = new Server(serverOptions(backend.adapter));
    await waitForServers(io);
    return {
      onLine(line) {
        const [cmd, room, seq] = line.split(" ");
        if (cmd !== "b") return;
        if (room === "*") io.emit("all", Number(seq));
        else io.to(room).emit("room", Number(seq));
      },
      async stop() {
        await backend.close();
      },
    };
  }

  const name = config.name;
  const httpServer = http.createServer();
  const io = new Server(httpServer, serverOptions(backend.adapter));
  io.on("connection", (socket) => {
    // a recovered socket is back in its rooms already
    if (!socket.recovered) socket.join(String(socket.handshake.query.room));
    socket.on("echo", (n, cb) => cb({ n, node: name }));
  });

  // What reached this node's public port (a forwarded request reaches the owner on its
  // internal listener, not here), the sessions it created, and the 400s it answered.
  // Added after the Server, so that the engine does not take it for the application's.
  const seen = { requests: 0, upgrades: 0, bySid: {}, owned: [], upgraded: 0, unknownSid: 0 };
  const countArrival = (req) => {
    const sid = new URL(req.url, "http://x").searchParams.get("sid");
    if (sid) seen.bySid[sid] = (seen.bySid[sid] || 0) + 1;
  };
  httpServer.on("request", (req) => {
    seen.requests++;
    countArrival(req);
  });
  httpServer.on("upgrade", (req) => {
    seen.upgrades++;
    countArrival(req);
  });
  io.engine.on("connection", (conn) => {
    seen.owned.push(conn.id);
    conn.once("upgrade", () => seen.upgraded++);
  });
  io.engine.on("connection_error", (err) => {
    if (err.code === 1) seen.unknownSid++;
  });

  await waitForServers(io);
  await new Promise((resolve) => httpServer.listen(config.port, "127.0.0.1", resolve));

  process.once("SIGTERM", () => {
    // a graceful stop: with connection state recovery the sessions are stored
    io.close(() => backend.close().then(() => process.exit(0)));
  });

  return {
    onLine(line) {
      const [cmd, id] = line.split(" ");
      if (cmd !== "stats") return;
      const engine = io.engine;
      send(
        `stats ${id} ` +
          JSON.stringify({
            node: name,
            ...seen,
            clients: engine.clientsCount,
            forwardedRequests: engine.forwardedRequestsCount,
            forwardedUpgrades: engine.forwardedUpgradesCount,
            forwardingFailures: engine.forwardingFailuresCount,
            retriedPolls: engine.retriedPollsCount,
          }),
      );
    },
  };
}

function readLines(onLine) {
  readline.createInterface({ input: process.stdin }).on("line", onLine);
}

async function main() {
  if (config.adapter !== "cluster") {
    const server = await startServer((line) => console.log(line));
    readLines((line) => server.onLine(line));
    console.log("ready");
    return;
  }

  if (cluster.isWorker) {
    const send = (line) => process.send(line);
    const server = await startServer(send);
    // the cluster adapter's own messages come this way too
    process.on("message", (line) => typeof line === "string" && server.onLine(line));
    send("ready");
    return;
  }

  // the primary: relays the cluster adapter's messages and the test's lines
  const { setupPrimary } = require("@socket.io/cluster-adapter");
  setupPrimary();
  cluster.setupPrimary({ serialization: "advanced" });
  const names = [...config.nodes, "broadcaster"];
  const workers = {};
  const pendingStats = new Map(); // id => { left: Set of names, stats: [] }
  let ready = 0;
  for (const name of names) {
    const role = name === "broadcaster" ? "broadcaster" : "node";
    const env = { ANY_NODE_CONFIG: JSON.stringify({ ...config, role, name, servers: names.length }) };
    const worker = cluster.fork(env);
    workers[name] = worker;
    worker.on("message", (line) => {
      if (line === "ready") {
        if (++ready === names.length) {
          for (const n of names) console.log(`pid ${n} ${workers[n].process.pid}`);
          console.log("ready");
        }
        return;
      }
      const m = /^stats (\S+) (.*)$/.exec(line);
      if (m && pendingStats.has(m[1])) answerStats(m[1], name, JSON.parse(m[2]));
    });
    worker.on("exit", () => {
      // a node killed by the test: the stats wait for it no more
      for (const id of [...pendingStats.keys()]) answerStats(id, name, null);
    });
  }
  function answerStats(id, name, stats) {
    const pending = pendingStats.get(id);
    if (!pending.left.delete(name)) return;
    if (stats) pending.stats.push(stats);
    if (pending.left.size === 0) {
      pendingStats.delete(id);
      console.log(`stats ${id} ${JSON.stringify(pending.stats)}`);
    }
  }
  readLines((line) => {
    if (line.startsWith("b ")) {
      workers.broadcaster.send(line);
    } else if (line.startsWith("stats ")) {
      const id = line.split(" ")[1];
      const live = config.nodes.filter((n) => !workers[n].isDead());
      pendingStats.set(id, { left: new Set(live), stats: [] });
      for (const n of live) workers[n].send(line);
    }
  });
  // the test's stop: the workers go with the primary
  process.once("SIGTERM", () => {
    for (const worker of Object.values(workers)) worker.process.kill("SIGKILL");
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
