"use strict";

// A small chat built on this package: nicknames, rooms, a live user list per room,
// "is typing" hints, join/leave notices and acknowledgements for delivery.
//
//   npm start                 # http://localhost:3000
//   PORT=8080 npm start       # another port (PORT=0 picks a free one)
//   npm run demo:cluster      # the same chat on several processes (demo/cluster.js)
//
// The page in demo/public/ loads the browser client from /socket.io/socket.io.js,
// which the Socket.IO server serves itself (the `serveClient` option, on by default).

const fs = require("fs");
const http = require("http");
const path = require("path");

const PUBLIC_DIR = path.join(__dirname, "public");
const STATIC_FILES = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/chat.js": { file: "chat.js", type: "text/javascript; charset=utf-8" },
};

const ROOMS = ["general", "random", "help"];
const MAX_NICKNAME = 24;
const MAX_ROOM = 32;
const MAX_MESSAGE = 500;

/** Trims a client-supplied string and checks its length; returns null when unusable. */
function cleanString(value, maxLength) {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed.length > 0 && trimmed.length <= maxLength ? trimmed : null;
}

/** Clients may omit the acknowledgement callback; never call a non-function. */
function reply(ack, payload) {
  if (typeof ack === "function") ack(payload);
}

function serveStatic(req, res) {
  const pathname = (req.url || "/").split("?")[0];
  const entry = STATIC_FILES[pathname];
  if (!entry) {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("Not found");
    return;
  }
  fs.readFile(path.join(PUBLIC_DIR, entry.file), (err, body) => {
    if (err) {
      res.writeHead(500, { "Content-Type": "text/plain" });
      res.end("Cannot read " + entry.file);
      return;
    }
    res.writeHead(200, { "Content-Type": entry.type });
    res.end(body);
  });
}

/**
 * Wires the chat events on a Socket.IO server.
 *
 * Events from the browser: "join" (room, ack), "message" (text, ack), "typing" (boolean).
 * Events to the browser: "users" (room, nicknames), "message" ({ id, from, text, at }),
 * "notice" (text), "typing" ({ nickname, typing }).
 */
function setupChat(io) {
  let nextMessageId = 1;

  // The nickname comes with the handshake (`io({ auth: { nickname } })`), so every
  // connected socket has one and the event handlers need not check it again.
  io.use((socket, next) => {
    const nickname = cleanString(socket.handshake.auth && socket.handshake.auth.nickname, MAX_NICKNAME);
    if (!nickname) return next(new Error("invalid nickname"));
    socket.data.nickname = nickname;
    next();
  });

  // fetchSockets() asks the adapter, so the list stays right with several servers too.
  function sendUserList(room) {
    io.in(room)
      .fetchSockets()
      .then((sockets) => {
        const nicknames = sockets.map((s) => s.data.nickname).sort();
        io.to(room).emit("users", room, nicknames);
      })
      .catch((err) => console.error(`Cannot list the users of #${room}: ${err.message}`));
  }

  function leaveCurrentRoom(socket) {
    const room = socket.data.room;
    if (!room) return;
    socket.leave(room);
    socket.data.room = null;
    socket.to(room).emit("notice", `${socket.data.nickname} left #${room}`);
    sendUserList(room);
  }

  io.on("connection", (socket) => {
    socket.emit("rooms", ROOMS);

    socket.on("join", (rawRoom, ack) => {
      const room = cleanString(rawRoom, MAX_ROOM);
      if (!room) return reply(ack, { ok: false, error: "invalid room name" });
      if (room === socket.data.room) return reply(ack, { ok: true, room });
      leaveCurrentRoom(socket);
      socket.join(room);
      socket.data.room = room;
      socket.to(room).emit("notice", `${socket.data.nickname} joined #${room}`);
      reply(ack, { ok: true, room });
      sendUserList(room);
    });

    socket.on("message", (rawText, ack) => {
      const room = socket.data.room;
      const text = cleanString(rawText, MAX_MESSAGE);
      if (!room) return reply(ack, { ok: false, error: "join a room first" });
      if (!text) return reply(ack, { ok: false, error: "empty or too long message" });
      const message = { id: nextMessageId++, from: socket.data.nickname, text, at: Date.now() };
      socket.to(room).emit("message", message);
      // The ack is the sender's delivery receipt: the server has accepted and relayed it.
      reply(ack, { ok: true, id: message.id, at: message.at });
    });

    socket.on("typing", (typing) => {
      const room = socket.data.room;
      if (!room) return;
      // Volatile: a lost "typing" hint is harmless, so it is not buffered while offline.
      socket.to(room).volatile.emit("typing", { nickname: socket.data.nickname, typing: typing === true });
    });

    socket.on("disconnect", () => leaveCurrentRoom(socket));
  });
}

/**
 * Builds the demo without listening: an HTTP server for the page plus a Socket.IO
 * server for the chat. demo/cluster.js runs one per worker, on the cluster adapter.
 *
 * @param {object} [options]
 * @param {Function} [options.Server] Socket.IO Server class, this package's by default
 * @param {object} [options.serverOptions] options of the Socket.IO server, e.g. `adapter`
 * @returns {{ io: object, httpServer: http.Server }}
 * @example
 * const { httpServer } = createDemo({ serverOptions: { adapter: createAdapter() } });
 */
function createDemo(options = {}) {
  const Server = options.Server || require("..").Server;
  const httpServer = http.createServer(serveStatic);
  const io = new Server(httpServer, options.serverOptions);
  setupChat(io);
  return { io, httpServer };
}

/**
 * Starts the demo on one server.
 *
 * @param {object} [options]
 * @param {number} [options.port=3000] port to listen on; 0 picks a free one
 * @param {Function} [options.Server] Socket.IO Server class, this package's by default
 * @returns {Promise<{ port: number, io: object, httpServer: http.Server, close: () => Promise<void> }>}
 * @example
 * const { port, close } = await require("./demo")({ port: 0 });
 */
async function startDemo(options = {}) {
  const port = options.port === undefined ? 3000 : options.port;
  const { io, httpServer } = createDemo({ Server: options.Server });

  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  return {
    port: httpServer.address().port,
    io,
    httpServer,
    // io.close() disconnects every client and closes the HTTP server as well.
    close: () => new Promise((done) => io.close(() => done())),
  };
}

module.exports = startDemo;
module.exports.createDemo = createDemo;

if (require.main === module) {
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  startDemo({ port }).then(
    (demo) => console.log(`Chat demo listening on http://localhost:${demo.port}`),
    (err) => {
      // Most often: dist/ is not built yet (npm run build) or the port is taken.
      console.error(`Cannot start the chat demo: ${err.message}`);
      process.exit(1);
    },
  );
}
