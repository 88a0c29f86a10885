"use strict";

// The server side of bench/scale.js, driven by the bench over IPC. Either one process
// holding every session (`workers: 0`), or a primary and `workers` processes on Node's
// cluster module (run with --expose-gc; the workers inherit it):
//  - the primary owns the port and hands each new connection to the next worker in turn
//    (cluster's default round-robin). A websocket-only session is one HTTP request, the
//    upgrade, so it never needs to find its worker again: no sticky sessions needed
//    (@socket.io/sticky is for polling, whose every request must reach the same worker);
//  - the socket.io servers relay broadcasts through @socket.io/cluster-adapter (its
//    setupPrimary() in the primary); the raw ws server through the primary too, by a
//    plain IPC message, the least an adapter does.
// Every server keeps its default heartbeat. The raw ws server's equivalent: one interval
// every 25 s that pings each client and closes those that did not answer the last ping
// (the pattern of the ws README).

const cluster = require("cluster");
const http = require("http");
const { TARGETS } = require("./targets");
const args = require("./args");
const { stampedPayload } = require("./timing");

const WS_PING_INTERVAL = 25000;

let disconnects = 0;
const reasons = {};
function onDisconnect(reason) {
  disconnects++;
  reasons[reason] = (reasons[reason] || 0) + 1;
}

function heartbeat() {
  this.isAlive = true;
}

function onWsClose() {
  onDisconnect(this.timedOut ? "ping timeout" : "close");
}

/** This process's server: `{ port, count(), broadcast(payload) }`. */
async function startServer(target, clustered) {
  const { kind, load } = TARGETS[target];
  const httpServer = http.createServer();
  let server;
  if (kind === "ws") {
    const wss = new (load())({ server: httpServer });
    wss.on("connection", (ws) => {
      ws.isAlive = true;
      ws.on("pong", heartbeat);
      ws.on("close", onWsClose);
    });
    setInterval(() => {
      for (const ws of wss.clients) {
        if (!ws.isAlive) {
          ws.timedOut = true;
          ws.terminate();
          continue;
        }
        ws.isAlive = false;
        ws.ping();
      }
    }, WS_PING_INTERVAL);
    server = {
      count: () => wss.clients.size,
      broadcast(payload) {
        const frame = "42" + JSON.stringify(["m", payload]);
        for (const ws of wss.clients) ws.send(frame);
      },
    };
  } else if (kind === "sio") {
    const options = { serveClient: false };
    // --ping-batch-window (set by scale.js for its children): the opt-in batched heartbeat
    const window = args.str("ping-batch-window");
    if (window !== undefined) options.pingBatchWindow = Number(window);
    if (clustered) options.adapter = require("@socket.io/cluster-adapter").createAdapter();
    const io = new (load())(httpServer, options);
    io.on("connection", (socket) => socket.on("disconnect", onDisconnect));
    server = { count: () => io.engine.clientsCount, broadcast: (payload) => io.emit("m", payload) };
  } else {
    throw new Error(`scale runs socket.io and ws targets, not ${target}`);
  }
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return { ...server, port: httpServer.address().port };
}

async function memory() {
  global.gc();
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

const stats = (server) => ({ count: server.count(), disconnects, reasons });

if (cluster.isWorker) {
  // A worker: answers the primary's { scale: cmd, id } with { scaleReply: id, result }.
  startServer(process.env.SCALE_TARGET, true).then((server) => {
    process.on("message", async (msg) => {
      if (!msg || msg.scale === undefined) return;
      let result = null;
      if (msg.scale === "stats") result = stats(server);
      else if (msg.scale === "memory") result = await memory();
      else if (msg.scale === "broadcast") {
        const payload = stampedPayload(msg.seq, msg.size);
        server.broadcast(payload);
        // the ws server has no adapter: the primary passes the payload on
        if (TARGETS[process.env.SCALE_TARGET].kind === "ws") process.send({ scaleRelay: payload });
      } else if (msg.scale === "relay") server.broadcast(msg.payload);
      if (msg.id) process.send({ scaleReply: msg.id, result });
    });
    process.send({ scaleReady: server.port });
  });
} else {
  const { serve } = require("./ipc");
  let single = null;
  let workers = [];
  let nextId = 1;
  const pending = new Map();

  const ask = (worker, msg) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.send({ ...msg, id });
    });
  const askAll = (msg) => Promise.all(workers.map((w) => ask(w, msg)));

  function onWorkerMessage(worker, msg) {
    if (msg && msg.scaleReply !== undefined) {
      const resolve = pending.get(msg.scaleReply);
      pending.delete(msg.scaleReply);
      resolve(msg.result);
    } else if (msg && msg.scaleRelay !== undefined) {
      for (const w of workers) if (w !== worker) w.send({ scale: "relay", payload: msg.scaleRelay, id: 0 });
    }
  }

  serve({
    /** Starts the target's server(s); returns the port and the pids of every server process. */
    async start({ target, workers: count }) {
      if (count === 0) {
        single = await startServer(target, false);
        return { port: single.port, pids: [process.pid] };
      }
      if (TARGETS[target].kind === "sio") require("@socket.io/cluster-adapter").setupPrimary();
      cluster.on("message", onWorkerMessage);
      const ports = await Promise.all(
        Array.from({ length: count }, () => {
          const worker = cluster.fork({ SCALE_TARGET: target });
          workers.push(worker);
          return new Promise((resolve, reject) => {
            worker.on("message", (msg) => msg && msg.scaleReady !== undefined && resolve(msg.scaleReady));
            worker.once("exit", (code) => reject(new Error(`worker exited (${code})`)));
          });
        }),
      );
      // cluster workers that listen on port 0 share the primary's one random port
      if (new Set(ports).size !== 1) throw new Error(`workers listen on different ports: ${ports}`);
      return { port: ports[0], pids: [process.pid, ...workers.map((w) => w.process.pid)] };
    },

    /** Sessions and disconnects, per server process. */
    async stats() {
      return single ? [stats(single)] : askAll({ scale: "stats" });
    },

    /** Heap and RSS of every server process (primary included) after a full gc. */
    async memory() {
      const own = await memory();
      return single ? [own] : [own, ...(await askAll({ scale: "memory" }))];
    },

    /** One stamped broadcast to every session, sent from one process (worker 1 in a cluster). */
    async broadcast({ seq, size }) {
      if (single) single.broadcast(stampedPayload(seq, size));
      else await ask(workers[0], { scale: "broadcast", seq, size });
      return null;
    },
  });
}
