"use strict";

// The objects that users, tests and wrappers reach on a session (the engine socket, its
// transport, its buffers, the packets it creates, the Socket.IO client and socket) behave
// as the reference's: memory-saving representations (shared listeners, lazily made
// members) must not show. Each scenario runs on ours and on the reference (harness.js).
const http = require("http");
const WebSocket = require("ws");
const { Socket: EngineClient } = require("engine.io-client");
const { io: ioc } = require("socket.io-client");
const { same, recordEvents, listenerSurface } = require("./harness");
const { listen, closeHttp } = require("../support/servers");
const { waitFor, until } = require("../support/wait");

/** An engine server on an ephemeral port; `close()` ends it and its connections. */
async function engineServer({ engine: engineModule }) {
  const httpServer = http.createServer();
  const engine = new (engineModule().Server)();
  engine.attach(httpServer);
  const port = await listen(httpServer);
  const clients = [];
  return {
    engine,
    port,
    client(transports) {
      const client = new EngineClient(`ws://localhost:${port}`, { transports });
      clients.push(client);
      return client;
    },
    async close() {
      clients.forEach((client) => client.close());
      engine.close();
      await closeHttp(httpServer);
    },
  };
}

/** A Socket.IO server on an ephemeral port; `close()` ends it and its clients. */
async function sioServer({ sio }) {
  const httpServer = http.createServer();
  const io = new (sio().Server)(httpServer);
  const port = await listen(httpServer);
  const clients = [];
  return {
    io,
    client() {
      const client = ioc(`http://localhost:${port}`, { forceNew: true, transports: ["websocket"] });
      clients.push(client);
      return client;
    },
    async close() {
      clients.forEach((client) => client.close());
      io.close();
      await closeHttp(httpServer);
    },
  };
}

/** Resolves with what `promise` resolves to, or with `fallback` after `ms` (an absence, observed). */
function within(promise, ms, fallback) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((resolve) => (timer = setTimeout(() => resolve(fallback), ms))),
  ]);
}

/**
 * An open session with nothing in flight: the open packet written (websocket), or the
 * client's next GET waiting (polling).
 */
async function idleSession(server, transports) {
  const client = server.client(transports);
  const conn = await waitFor(server.engine, "connection");
  await waitFor(client, "open");
  await until(() => conn.transport.writable, "the transport writable");
  return { client, conn };
}

describe("differential: objects reachable on a session", () => {
  describe("the transport carries the session's listeners", () => {
    same(
      "listener counts on the transport: polling, upgraded, old transport, closed, websocket",
      async (impl) => {
        const server = await engineServer(impl);
        try {
          const out = {};
          const client = server.client(["polling", "websocket"]);
          const conn = await waitFor(server.engine, "connection");
          const polling = conn.transport;
          out.polling = listenerSurface(polling);
          await waitFor(conn, "upgrade");
          out.upgraded = listenerSurface(conn.transport);
          await until(() => polling.readyState === "closed", "old transport closed");
          out.oldTransport = listenerSurface(polling);
          const websocket = conn.transport;
          const closed = waitFor(conn, "close");
          client.close();
          await closed;
          out.closed = listenerSurface(websocket);
          server.client(["websocket"]);
          const wsOnly = await waitFor(server.engine, "connection");
          out.websocket = listenerSurface(wsOnly.transport);
          return out;
        } finally {
          await server.close();
        }
      },
    );

    for (const transports of [["websocket"], ["polling"]]) {
      same(`transport.emit("close") closes the session (${transports})`, async (impl) => {
        const server = await engineServer(impl);
        try {
          const { client, conn } = await idleSession(server, transports);
          const log = recordEvents(conn, ["close"], (reason) => reason);
          const clientClosed = waitFor(client, "close");
          conn.transport.emit("close");
          await clientClosed;
          return { log, readyState: conn.readyState, clientsCount: server.engine.clientsCount };
        } finally {
          await server.close();
        }
      });
    }

    same('transport.emit("packet", message) reaches the session', async (impl) => {
      const server = await engineServer(impl);
      try {
        const { conn } = await idleSession(server, ["websocket"]);
        const log = recordEvents(conn, ["packet", "data", "message"], (arg) => (arg && arg.type) || arg);
        conn.transport.emit("packet", { type: "message", data: "injected" });
        return log;
      } finally {
        await server.close();
      }
    });

    same('transport.emit("error") closes the session with "transport error"', async (impl) => {
      const server = await engineServer(impl);
      try {
        const { client, conn } = await idleSession(server, ["websocket"]);
        const closes = [];
        conn.on("close", (reason, description) => closes.push([reason, description && description.message]));
        const clientClosed = waitFor(client, "close");
        let thrown = null;
        try {
          conn.transport.emit("error", new Error("injected"));
        } catch (err) {
          thrown = err.message;
        }
        await clientClosed;
        return { thrown, closes, readyState: conn.readyState, after: listenerSurface(conn.transport) };
      } finally {
        await server.close();
      }
    });

    same("after an upgrade, only the new transport reaches the session", async (impl) => {
      const server = await engineServer(impl);
      try {
        server.client(["polling", "websocket"]);
        const conn = await waitFor(server.engine, "connection");
        const polling = conn.transport;
        await waitFor(conn, "upgrade");
        const log = recordEvents(conn, ["message", "close"], (arg) => arg);
        polling.emit("packet", { type: "message", data: "to the old one" });
        polling.emit("close");
        conn.transport.emit("packet", { type: "message", data: "to the new one" });
        const closed = waitFor(conn, "close");
        conn.transport.emit("close");
        await closed;
        return log;
      } finally {
        await server.close();
      }
    });
  });

  describe("per-session objects are real, extensible objects", () => {
    for (const transports of [["websocket"], ["polling"]]) {
      same(
        `a packet pushed into the idle writeBuffer is sent with the next flush (${transports})`,
        async (impl) => {
          const server = await engineServer(impl);
          try {
            const { client, conn } = await idleSession(server, transports);
            const other = await idleSession(server, transports);
            const buffer = conn.writeBuffer;
            const shape = {
              isArray: Array.isArray(buffer),
              frozen: Object.isFrozen(buffer),
              length: buffer.length,
              shared: buffer === other.conn.writeBuffer,
            };
            const received = [];
            client.on("message", (data) => received.push(data));
            let thrown = null;
            try {
              conn.writeBuffer.push({ type: "message", data: "pushed" });
            } catch (err) {
              thrown = err.constructor.name;
            }
            conn.send("sent");
            await until(() => received.includes("sent"), "the sent message");
            return { shape, thrown, received, otherLength: other.conn.writeBuffer.length };
          } finally {
            await server.close();
          }
        },
      );
    }

    same('packet.options in "packetCreate" is a per-packet, writable object (engine)', async (impl) => {
      const server = await engineServer(impl);
      try {
        const { client, conn } = await idleSession(server, ["websocket"]);
        const seen = [];
        conn.on("packetCreate", (packet) => {
          seen.push(packet.options);
          packet.options.seenBy = "listener";
        });
        const outcome = [];
        for (const send of [
          () => conn.send("a"),
          () => conn.send("b"),
          () => conn.send("c", { compress: false }),
        ]) {
          try {
            send();
            outcome.push("sent");
          } catch (err) {
            outcome.push(err.constructor.name);
          }
        }
        const received = [];
        client.on("message", (data) => received.push(data));
        conn.send("end");
        await until(() => received.includes("end"), "the last message");
        return {
          outcome,
          options: seen.map((options) => ({ ...options })),
          identities: seen.map((options) => seen.indexOf(options)),
          frozen: seen.map((options) => Object.isFrozen(options)),
          received,
        };
      } finally {
        await server.close();
      }
    });

    same('packet.options in "packetCreate" is a writable object (Socket.IO emit)', async (impl) => {
      const server = await sioServer(impl);
      try {
        const client = server.client();
        const socket = await waitFor(server.io, "connection");
        await waitFor(client, "connect");
        const seen = [];
        socket.conn.on("packetCreate", (packet) => {
          seen.push(packet.options);
          packet.options.seenBy = "listener";
        });
        const outcome = [];
        // volatile first, while the transport is writable (later ones are dropped until it drains)
        await until(() => socket.conn.transport.writable, "the transport writable");
        const emits = [
          () => socket.volatile.emit("volatile"),
          () => socket.emit("plain", 1),
          () => socket.emit("plain", 2),
          () => socket.compress(false).emit("uncompressed"),
          () => socket.emit("binary", Buffer.from([1, 2])),
        ];
        for (const emit of emits) {
          try {
            emit();
            outcome.push("emitted");
          } catch (err) {
            outcome.push(err.constructor.name);
          }
        }
        const received = [];
        client.onAny((event) => received.push(event));
        socket.emit("end");
        await until(() => received.includes("end"), "the last event");
        return {
          outcome,
          options: seen.map((options) => ({ ...options })),
          // which packets share an options object: one per emit, header and attachment alike
          identities: seen.map((options) => seen.indexOf(options)),
          frozen: seen.some((options) => Object.isFrozen(options)),
          received,
        };
      } finally {
        await server.close();
      }
    });

    same("socket.flags is a per-socket, writable object", async (impl) => {
      const server = await sioServer(impl);
      try {
        const first = server.client();
        const socket = await waitFor(server.io, "connection");
        await until(() => first.connected, "the client connected");
        server.client();
        const other = await waitFor(server.io, "connection");
        const flags = socket.flags;
        const shape = {
          keys: Object.keys(flags),
          frozen: Object.isFrozen(flags),
          extensible: Object.isExtensible(flags),
          shared: flags === other.flags,
        };
        let thrown = null;
        try {
          // the same as socket.volatile: the next emit is volatile
          socket.flags.volatile = true;
        } catch (err) {
          thrown = err.constructor.name;
        }
        const options = [];
        socket.conn.on("packetCreate", (packet) => options.push({ ...packet.options }));
        const received = [];
        first.onAny((event) => received.push(event));
        socket.emit("flagged");
        const after = Object.keys(socket.flags);
        socket.emit("end");
        await until(() => received.includes("end"), "the last event");
        return { shape, thrown, options, after, received };
      } finally {
        await server.close();
      }
    });
  });

  describe("the Socket.IO client's and socket's members exist from the start", () => {
    same("client.decoder, client.sockets, client.nsps, socket.fns", async (impl) => {
      const server = await sioServer(impl);
      try {
        server.client();
        const socket = await waitFor(server.io, "connection");
        const { decoder, sockets, nsps } = socket.client;
        return {
          decoder: {
            type: typeof decoder,
            add: typeof (decoder && decoder.add),
            destroy: typeof (decoder && decoder.destroy),
            on: typeof (decoder && decoder.on),
            decodedListeners: decoder && decoder.listeners("decoded").length,
          },
          sockets: sockets instanceof Map && [...sockets].map(([id, s]) => [id === socket.id, s === socket]),
          nsps: nsps instanceof Map && [...nsps].map(([name, s]) => [name, s === socket]),
          fns: Array.isArray(socket.fns) && socket.fns.length,
        };
      } finally {
        await server.close();
      }
    });

    same("a packet emitted on the decoder read from the client reaches the socket", async (impl) => {
      const server = await sioServer(impl);
      try {
        server.client();
        const socket = await waitFor(server.io, "connection");
        const decoder = socket.client.decoder;
        const events = [];
        socket.onAny((event, ...args) => events.push([event, ...args]));
        decoder.emit("decoded", { type: 2, nsp: "/", data: ["from-decoder", 1] });
        await until(() => events.length === 1, "the event");
        return events;
      } finally {
        await server.close();
      }
    });

    same("text and binary packets still arrive once the decoder was read", async (impl) => {
      const server = await sioServer(impl);
      try {
        const client = server.client();
        const socket = await waitFor(server.io, "connection");
        const decoder = socket.client.decoder;
        const events = [];
        socket.onAny((event, arg) => events.push([event, Buffer.isBuffer(arg) ? [...arg] : arg]));
        client.emit("text", "a");
        client.emit("binary", Buffer.from([7, 8]));
        client.emit("text", "b");
        await until(() => events.length === 3, "three events");
        return { events, same: decoder === socket.client.decoder };
      } finally {
        await server.close();
      }
    });

    same("client.sockets and client.nsps, once read, follow joins and leaves", async (impl) => {
      const server = await sioServer(impl);
      try {
        server.io.of("/admin");
        const main = server.client();
        const socket = await waitFor(server.io, "connection");
        const { sockets, nsps } = socket.client;
        const snapshot = () => ({
          sockets: [...sockets.values()].map((s) => s.nsp.name),
          nsps: [...nsps.keys()],
          live: sockets === socket.client.sockets && nsps === socket.client.nsps,
        });
        const states = [snapshot()];
        // a second namespace over the same connection (the manager connects it)
        const admin = main.io.socket("/admin");
        const adminSocket = await waitFor(server.io.of("/admin"), "connection");
        await until(() => admin.connected, "the admin client connected");
        states.push(snapshot());
        const left = waitFor(adminSocket, "disconnect");
        admin.disconnect();
        await left;
        states.push(snapshot());
        return states;
      } finally {
        await server.close();
      }
    });

    same("socket.fns, once read, is the live middleware list", async (impl) => {
      const server = await sioServer(impl);
      try {
        const client = server.client();
        const socket = await waitFor(server.io, "connection");
        const fns = socket.fns;
        const errors = [];
        socket.on("error", (err) => errors.push(err.message));
        const events = [];
        for (const name of ["blocked", "allowed"]) socket.on(name, () => events.push(name));
        // pushed straight into the list read before any use()
        fns.push(([event], next) => next(event === "blocked" ? new Error("refused") : undefined));
        const middleware = (packet, next) => next();
        socket.use(middleware);
        client.emit("blocked");
        client.emit("allowed");
        await until(() => events.length === 1 && errors.length === 1, "the event and the error");
        return {
          events,
          errors,
          length: socket.fns.length,
          live: fns === socket.fns,
          last: fns[1] === middleware,
        };
      } finally {
        await server.close();
      }
    });
  });

  describe("engine API", () => {
    for (const transports of [["websocket"], ["polling"]]) {
      same(`send() with null, undefined, 0, false, "" or a number (${transports})`, async (impl) => {
        const server = await engineServer(impl);
        try {
          const { client, conn } = await idleSession(server, transports);
          const created = [];
          conn.on("packetCreate", (packet) =>
            created.push("data" in packet ? ["data", packet.data] : ["none"]),
          );
          const outcome = [];
          const callbacks = [];
          for (const data of [null, undefined, 0, false, "", 42]) {
            try {
              conn.send(data, () => callbacks.push(String(data)));
              outcome.push("sent");
            } catch (err) {
              outcome.push(err.message);
            }
          }
          const received = [];
          client.on("message", (data) => received.push(data === undefined ? "undefined" : data));
          conn.send("end");
          await until(() => received.includes("end"), "the last message");
          const sent = outcome.filter((result) => result === "sent").length;
          await until(() => callbacks.length === sent, "the callbacks of the sent messages");
          return { outcome, created, received, callbacks };
        } finally {
          await server.close();
        }
      });
    }

    same(
      "sentCallbackFn: an empty array when idle and after a close with callbacks pending",
      async (impl) => {
        const server = await engineServer(impl);
        try {
          const { conn: idle } = await idleSession(server, ["websocket"]);
          // a polling session whose handshake GET is answered: what is sent waits for the next GET
          server.client(["polling"]);
          const conn = await waitFor(server.engine, "connection");
          const called = [];
          conn.send("a", () => called.push("a"));
          conn.send("b", () => called.push("b"));
          const pending = conn.writeBuffer.length;
          const closed = waitFor(conn, "close");
          conn.close(true);
          await closed;
          return { idle: idle.sentCallbackFn, pending, afterClose: conn.sentCallbackFn, called };
        } finally {
          await server.close();
        }
      },
    );
  });

  describe("the 101 response of a new websocket session", () => {
    // What a "connection" listener throws reaches the process (the reference's handshake
    // is an async function: as an unhandled rejection). Mocha's own handlers would fail the
    // test on it: they are set aside while the scenario runs, and put back after.
    const kinds = ["uncaughtException", "unhandledRejection"];
    let mochaHandlers;
    const uncaught = [];
    const handlers = kinds.map((kind) => (err) => uncaught.push([kind, err.message]));

    beforeEach(() => {
      mochaHandlers = kinds.map((kind) => process.listeners(kind));
      kinds.forEach((kind, i) => {
        process.removeAllListeners(kind);
        process.on(kind, handlers[i]);
      });
    });

    afterEach(() => {
      kinds.forEach((kind, i) => {
        process.removeListener(kind, handlers[i]);
        for (const handler of mochaHandlers[i]) process.on(kind, handler);
      });
    });

    same('leaves even when a "connection" listener throws', async (impl) => {
      const server = await engineServer(impl);
      uncaught.length = 0;
      const ws = new WebSocket(`ws://localhost:${server.port}/engine.io/?EIO=4&transport=websocket`);
      try {
        server.engine.on("connection", () => {
          throw new Error("listener failed");
        });
        const upgraded = within(
          new Promise((resolve) => ws.once("upgrade", (res) => resolve(res.statusCode))),
          1000,
          "no 101",
        );
        const first = within(
          new Promise((resolve) => ws.once("message", (data) => resolve(String(data)[0]))),
          1000,
          "no open packet",
        );
        const result = { status: await upgraded, firstPacketType: await first };
        await until(() => uncaught.length > 0, "the uncaught error");
        result.uncaught = uncaught.slice();
        return result;
      } finally {
        ws.terminate();
        await server.close();
      }
    });
  });
});
