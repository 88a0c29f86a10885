"use strict";

// Connection state recovery as a socket.io-client 4.8 user sees it, on ours and on the
// reference: the order in which a recovered client gets the packets it missed, its
// "connect" event and what is sent afterwards, and what the server's socket holds.
const http = require("http");
const ioc = require("socket.io-client");
const { same } = require("./harness");
const { listen, closeHttp } = require("../support/servers");
const { waitFor, until } = require("../support/wait");

/**
 * A recovery-enabled server on `impl` (`serverOptions` added) and one websocket client in
 * room "r" that has received one event; `run(env)` then acts and returns observations.
 */
async function withRecovery(impl, serverOptions, run) {
  const httpServer = http.createServer();
  const io = new (impl.sio().Server)(httpServer, {
    connectionStateRecovery: { maxDisconnectionDuration: 5000 },
    ...serverOptions,
  });
  const port = await listen(httpServer);
  io.on("connection", (socket) => {
    if (!socket.recovered) socket.join("r");
  });
  const client = ioc(`http://localhost:${port}`, {
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 50,
    randomizationFactor: 0,
  });
  // what the client's listeners see, in order
  const log = [];
  client.on("connect", () => log.push(["connect", client.recovered]));
  client.on("disconnect", (reason) => log.push(["disconnect", reason]));
  client.onAny((event, n) => log.push([event, n]));
  try {
    const first = await waitFor(io, "connection");
    await until(() => client.connected, "the client connected");
    io.to("r").emit("before", 0);
    await until(() => log.some(([event]) => event === "before"), "the first event");
    return await run({ io, client, log, first });
  } finally {
    client.disconnect();
    io.close();
    await closeHttp(httpServer);
  }
}

describe("differential: connection state recovery", () => {
  for (const skipMiddlewares of [true, false]) {
    same(
      `the missed packets reach the client before its "connect" event, the live ones after (skipMiddlewares: ${skipMiddlewares})`,
      (impl) =>
        withRecovery(
          impl,
          { connectionStateRecovery: { maxDisconnectionDuration: 5000, skipMiddlewares } },
          async ({ io, client, log, first }) => {
            const middlewares = [];
            io.use((socket, next) => {
              middlewares.push(socket.recovered);
              next();
            });
            const gone = waitFor(first, "disconnect");
            first.conn.close();
            await gone;
            io.to("r").emit("missed", 1);
            io.emit("missed", 2);
            const restored = await waitFor(io, "connection");
            io.to("r").emit("after", 3);
            await until(() => log.some(([event]) => event === "after"), "the live event");
            return {
              log: log.slice(),
              recovered: restored.recovered,
              sameId: restored.id === first.id,
              rooms: [...restored.rooms].map((room) => (room === restored.id ? "<id>" : room)).sort(),
              middlewares,
              clientId: client.id === first.id,
            };
          },
        ),
    );
  }
});
