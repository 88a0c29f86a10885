"use strict";

// The servers a bench compares, each with the client that speaks to it. Every server
// offers the same small surface so that the benches do not care which one runs:
//   broadcast(payload)  one message to every connected client
//   count()             connected clients
//   close()
//   engine              the Engine.IO server (the socket.io and engine targets)
// and answers "echo" requests (an event with an ack, or a raw echoed message).

const http = require("http");
const path = require("path");

const ROOT = path.join(__dirname, "..", "..");

function baselineRoot() {
  if (!process.env.BENCH_BASELINE) throw new Error("BENCH_BASELINE names no checkout");
  return path.resolve(process.env.BENCH_BASELINE);
}

const TARGETS = {
  ours: { kind: "sio", load: () => require(ROOT).Server, label: "socket.io (ours)" },
  reference: {
    kind: "sio",
    load: () => require("socket.io-reference").Server,
    label: "socket.io 4.8 (reference)",
  },
  "engine-ours": {
    kind: "engine",
    load: () => require(path.join(ROOT, "dist", "engine")),
    label: "socket.io/engine (ours)",
  },
  "engine-reference": {
    kind: "engine",
    load: () => require("engine.io"),
    label: "engine.io 6.6 (reference)",
  },
  ws: { kind: "ws", load: () => require("ws").WebSocketServer, label: "ws (raw baseline)" },
  // Variants, run only when named: the trick of the reference's memory guide, which frees
  // the HTTP request of the handshake (and its headers) once the session is open.
  "ours-no-request": {
    kind: "sio",
    variant: true,
    dropRequest: true,
    load: () => require(ROOT).Server,
    label: "socket.io (ours), request=null",
  },
  // Another build of this package (BENCH_BASELINE=/path/to/checkout, built): the same
  // bench before and after a change, in one run. Run only when named.
  baseline: {
    kind: "sio",
    variant: true,
    load: () => require(baselineRoot()).Server,
    label: "socket.io (ours, baseline)",
  },
  "engine-baseline": {
    kind: "engine",
    variant: true,
    load: () => require(path.join(baselineRoot(), "dist", "engine")),
    label: "socket.io/engine (ours, baseline)",
  },
  "reference-no-request": {
    kind: "sio",
    variant: true,
    dropRequest: true,
    load: () => require("socket.io-reference").Server,
    label: "socket.io 4.8, request=null",
  },
};

/** The targets a bench runs by default (variants only when asked for by name). */
const NAMES = Object.keys(TARGETS).filter((name) => !TARGETS[name].variant);

/**
 * Why a target cannot run here, or null when it can. Our build is still being
 * written, so a missing or incomplete dist/ is expected and reported, not fatal.
 */
function unavailable(name) {
  const target = TARGETS[name];
  if (!target) return `unknown target (known: ${NAMES.join(", ")})`;
  try {
    const loaded = target.load();
    const ok = target.kind === "engine" ? typeof loaded.attach === "function" : typeof loaded === "function";
    return ok ? null : "not built yet (no Server export in dist/)";
  } catch (err) {
    return `cannot load: ${err.message.split("\n")[0]}`;
  }
}

/** What the socket.io wire carries for `emit("m", payload)`: the ws baseline sends the same bytes. */
const sioFrame = (payload) => "42" + JSON.stringify(["m", payload]);

function listen(httpServer) {
  return new Promise((resolve) =>
    httpServer.listen(0, "127.0.0.1", () => resolve(httpServer.address().port)),
  );
}

const closeHttp = (httpServer) => new Promise((resolve) => httpServer.close(() => resolve()));

const SERVERS = {
  async sio(Server, options, target) {
    const httpServer = http.createServer();
    const io = new Server(httpServer, { serveClient: false, ...options });
    io.on("connection", (socket) => socket.on("echo", (payload, ack) => ack(payload)));
    if (target.dropRequest) {
      io.engine.on("connection", (rawSocket) => {
        rawSocket.request = null;
      });
    }
    const port = await listen(httpServer);
    return {
      port,
      broadcast: (payload) => io.emit("m", payload),
      count: () => io.engine.clientsCount,
      engine: io.engine,
      close: () => new Promise((resolve) => io.close(() => resolve())),
    };
  },

  async engine(engine, options) {
    const httpServer = http.createServer();
    const server = engine.attach(httpServer, options);
    server.on("connection", (socket) => socket.on("message", (data) => socket.send(data)));
    const port = await listen(httpServer);
    return {
      port,
      broadcast(payload) {
        const frame = sioFrame(payload);
        for (const id in server.clients) server.clients[id].send(frame);
      },
      count: () => server.clientsCount,
      engine: server,
      async close() {
        server.close();
        await closeHttp(httpServer);
      },
    };
  },

  async ws(WebSocketServer) {
    const httpServer = http.createServer();
    const wss = new WebSocketServer({ server: httpServer });
    wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
    const port = await listen(httpServer);
    return {
      port,
      broadcast(payload) {
        const frame = sioFrame(payload);
        for (const ws of wss.clients) ws.send(frame);
      },
      count: () => wss.clients.size,
      async close() {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        await closeHttp(httpServer);
      },
    };
  },
};

/** Starts the named target's server on a free loopback port (options: socket.io / engine ones). */
function startServer(name, options = {}) {
  const target = TARGETS[name];
  return SERVERS[target.kind](target.load(), options, target);
}

// Raw echoes carry no id: they come back in order, so a FIFO of resolvers matches them.
function echoQueue() {
  const waiting = [];
  return {
    push: (resolve) => waiting.push(resolve),
    settle: () => {
      const resolve = waiting.shift();
      if (resolve) resolve();
      return resolve !== undefined;
    },
  };
}

const CLIENTS = {
  sio(url, onMessage) {
    const { io } = require("socket.io-client");
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    socket.on("m", onMessage);
    return new Promise((resolve, reject) => {
      socket.once("connect_error", reject);
      socket.once("connect", () =>
        resolve({
          echo: (payload) => new Promise((done) => socket.emit("echo", payload, () => done())),
          // stops reading from the TCP stream: the server's writes back up, as with a stalled client
          pause: () => socket.io.engine.transport.ws._socket.pause(),
          close: () => socket.disconnect(),
        }),
      );
    });
  },

  engine(url, onMessage) {
    const { Socket } = require("engine.io-client");
    const socket = new Socket(url, { transports: ["websocket"] });
    const echoes = echoQueue();
    socket.on("message", () => echoes.settle() || onMessage());
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.once("open", () =>
        resolve({
          echo: (payload) =>
            new Promise((done) => {
              echoes.push(done);
              socket.send(sioFrame(payload));
            }),
          pause: () => socket.transport.ws._socket.pause(),
          close: () => socket.close(),
        }),
      );
    });
  },

  ws(url, onMessage) {
    const WebSocket = require("ws");
    const ws = new WebSocket(url.replace(/^http/, "ws"));
    const echoes = echoQueue();
    ws.on("message", () => echoes.settle() || onMessage());
    return new Promise((resolve, reject) => {
      ws.once("error", reject);
      ws.once("open", () =>
        resolve({
          echo: (payload) =>
            new Promise((done) => {
              echoes.push(done);
              ws.send(sioFrame(payload));
            }),
          pause: () => ws._socket.pause(),
          close: () => ws.close(),
        }),
      );
    });
  },
};

/** Opens one client of the kind the named target speaks, resolved once connected. */
function connectClient(name, port, onMessage) {
  return CLIENTS[TARGETS[name].kind](`http://127.0.0.1:${port}`, onMessage);
}

module.exports = { TARGETS, NAMES, unavailable, startServer, connectClient };
