"use strict";

// The server under fuzzing, alone in its process so that its death, its uncaught errors and
// its heap are its own. Two Socket.IO servers run the same small application:
//   A: allowEIO3 on, connection state recovery, cookie, maxHttpBufferSize 1e5
//   B: allowEIO3 off, path "/live", CORS, allowRequest, no served client, maxHttpBufferSize 1e4
// The application uses what an application does: namespaces (static, dynamic, with
// middlewares), acks both ways, rooms, broadcasts, binary, socket middlewares, recovery.
// Driven by ./run.js over IPC (bench/lib/ipc.js).

const http = require("http");
const v8 = require("v8");
const path = require("path");
const { serve, notify } = require("../bench/lib/ipc");

const reached = {
  connections: 0,
  recovered: 0,
  events: 0,
  socketErrors: 0,
  connectionErrors: 0,
  broadcasts: 0,
};
let servers = [];
let peakHeap = 0;

// An uncaught error or rejection ends the process, as it would without a handler, once the
// parent knows why.
function fatal(kind) {
  return (err) => {
    process.exitCode = 70;
    const message = err && err.stack ? err.stack : String(err);
    notify("violation", { kind, message }, () => process.exit(70));
  };
}
process.on("uncaughtException", fatal("uncaught-exception"));
process.on("unhandledRejection", fatal("unhandled-rejection"));

const roomName = (room) => (typeof room === "string" ? room.slice(0, 16) : "room1");
// A client asking for an ack (421["all"]) hands the handler a function: forwarded to a
// broadcast, it would register an ack on every socket reached, kept until each disconnects
// (socket.io 4.8 as well). An application forwards data, not callbacks.
const data = (value) => (typeof value === "function" ? null : value);

function onConnection(socket) {
  const nsp = socket.nsp;
  reached.connections++;
  if (socket.recovered) reached.recovered++;
  socket.emit("welcome", socket.id, Buffer.from([1, 2, 3]));
  socket.onAny(() => reached.events++);
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("join", (room) => socket.join(roomName(room)));
  socket.on("leave", (room) => socket.leave(roomName(room)));
  socket.on("say", (room, payload) => {
    reached.broadcasts++;
    socket.to(roomName(room)).emit("said", data(payload));
  });
  socket.on("all", (payload) => socket.broadcast.emit("all", data(payload)));
  socket.on(
    "bin",
    (ack) => typeof ack === "function" && ack(Buffer.from("bin"), { nested: [new Uint8Array([1])] }),
  );
  // an ack the raw peer will mostly never send: the timeout path
  socket.on("ask", () =>
    socket
      .timeout(500)
      .emitWithAck("question", 1)
      .catch(() => {}),
  );
  socket.on("rooms", async (ack) => {
    const sockets = await nsp.in("room1").fetchSockets();
    if (typeof ack === "function") ack([...socket.rooms], sockets.length);
  });
  socket.on("kick", () => socket.disconnect());
}

function withErrorListener(socket) {
  socket.on("error", () => reached.socketErrors++);
  socket.use(([event], next) => (event === "forbidden" ? next(new Error("forbidden")) : next()));
  onConnection(socket);
}

function application(io) {
  io.engine.on("connection_error", () => reached.connectionErrors++);
  io.engine.on("initial_headers", (headers) => (headers["x-fuzz"] = "1"));
  io.use((socket, next) =>
    socket.handshake.auth && socket.handshake.auth.deny ? next(new Error("denied")) : next(),
  );
  // the main namespace deliberately has no "error" listener: the server must not need one
  io.on("connection", onConnection);
  const admin = io.of("/admin");
  admin.use((socket, next) => {
    if (socket.handshake.auth && socket.handshake.auth.token === "ok") return next();
    next(Object.assign(new Error("unauthorized"), { data: { code: 401 } }));
  });
  admin.on("connection", withErrorListener);
  io.of(/^\/dyn-\w+$/).on("connection", withErrorListener);
}

function listen(httpServer, port) {
  return new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, "127.0.0.1", () => resolve(httpServer.address().port));
  });
}

async function collectGarbage() {
  global.gc();
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
}

serve({
  /** Starts both servers, on `ports` when given (a restart keeps the ports), else on free ones. */
  async start({ target, ports = [0, 0], pingInterval, pingTimeout }) {
    const { Server } =
      target === "reference" ? require("socket.io-reference") : require(path.join(__dirname, ".."));
    const options = [
      {
        allowEIO3: true,
        maxHttpBufferSize: 1e5,
        pingInterval,
        pingTimeout,
        upgradeTimeout: 1000,
        cookie: true,
        cleanupEmptyChildNamespaces: true,
        connectionStateRecovery: { maxDisconnectionDuration: 2000 },
      },
      {
        path: "/live",
        maxHttpBufferSize: 1e4,
        pingInterval,
        pingTimeout,
        upgradeTimeout: 1000,
        serveClient: false,
        cleanupEmptyChildNamespaces: true,
        cors: { origin: "http://ok.example", credentials: true },
        allowRequest: (req, callback) => callback(null, !req.headers["x-deny"]),
      },
    ];
    servers = options.map((opts) => {
      const httpServer = http.createServer();
      const io = new Server(httpServer, opts);
      application(io);
      return { httpServer, io };
    });
    const bound = [];
    for (let i = 0; i < servers.length; i++) bound.push(await listen(servers[i].httpServer, ports[i]));
    // broadcasts that reach the fuzzed sockets whatever state they are in
    let tick = 0;
    setInterval(() => {
      for (const { io } of servers) {
        io.to("room1").emit("tick", tick++);
        io.of("/admin").volatile.emit("tick", Buffer.from([tick & 255]));
      }
    }, 100).unref();
    setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 100).unref();
    return { ports: bound };
  },

  stats() {
    const { heapUsed } = process.memoryUsage();
    peakHeap = Math.max(peakHeap, heapUsed);
    return { heapUsed, peakHeap, clients: servers.map(({ io }) => io.engine.clientsCount), reached };
  },

  /** Writes a heap snapshot (to compare the baseline with what a run left, in Chrome DevTools). */
  snapshot: ({ file }) => v8.writeHeapSnapshot(file),

  /**
   * The heap after a full garbage collection (the process runs with --expose-gc), without the
   * code spaces: code compiled and optimized for paths the run reached is not data kept.
   */
  async heap() {
    await collectGarbage();
    let used = 0;
    for (const space of v8.getHeapSpaceStatistics()) {
      if (!space.space_name.startsWith("code")) used += space.space_used_size;
    }
    return used;
  },
});
