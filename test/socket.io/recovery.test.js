"use strict";

const expect = require("expect.js");
const {
  forEachTransport,
  useHarness,
  waitFor,
  disconnectReason,
  connected,
  sleep,
  until,
  REFERENCE,
} = require("./support/util");

// With recovery on, every event carries its offset as a last, extra string argument
// (the client keeps it to resume from). This strips it after checking it is there.
function withoutOffset(args) {
  expect(args[args.length - 1]).to.be.a("string");
  return args.slice(0, -1);
}

const RECONNECT = {
  reconnection: true,
  reconnectionDelay: 50,
  reconnectionDelayMax: 50,
  randomizationFactor: 0,
};

/**
 * Connects a reconnecting client and waits for a first event so that the client
 * knows an offset (recovery needs one). Resolves [io, firstServerSocket, client].
 */
async function setup(h, recovery, serverSetup = () => {}) {
  const io = await h.server({ connectionStateRecovery: recovery });
  const sockets = [];
  io.on("connection", (socket) => {
    sockets.push(socket);
    if (!socket.recovered) {
      socket.join("room");
      socket.data.user = "alice";
      socket.emit("welcome", "hi");
    }
  });
  serverSetup(io);
  const client = h.client("/", RECONNECT);
  const welcome = waitFor(client, "welcome");
  await connected(client);
  expect(withoutOffset(await welcome)).to.eql(["hi"]);
  expect(client.recovered).to.be(false);
  return [io, sockets, client];
}

/** Closes the client's transport (not the socket) and waits for the server to notice. */
async function dropTransport(socket, client) {
  const reason = disconnectReason(socket);
  client.io.engine.close();
  return reason;
}

describe("connection state recovery", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports });

    it("restores id, rooms and data and replays the missed packets", async () => {
      const [io, sockets, client] = await setup(h, { maxDisconnectionDuration: 2000 });
      const first = sockets[0];
      const missed = [];
      client.on("missed", (...args) => missed.push(withoutOffset(args)));
      client.on("other", (...args) => missed.push(["other", ...args]));

      expect(await dropTransport(first, client)).to.be("transport close");
      // emitted while the client is away
      io.to("room").emit("missed", 1);
      io.emit("missed", 2, { nested: true });
      io.to("another-room").emit("other", "not for this client");

      const reconnected = waitFor(client, "connect");
      await reconnected;
      expect(client.recovered).to.be(true);
      await until(() => missed.length >= 2, "the missed events");
      expect(missed).to.eql([[1], [2, { nested: true }]]);

      expect(sockets).to.have.length(2);
      const second = sockets[1];
      expect(second.recovered).to.be(true);
      expect(second.id).to.be(first.id);
      expect(client.id).to.be(first.id);
      expect(second.rooms.has("room")).to.be(true);
      expect(second.data).to.eql({ user: "alice" });

      // the restored session is live: room broadcasts reach it
      const live = waitFor(client, "live");
      io.to("room").emit("live", "ok");
      expect(withoutOffset(await live)).to.eql(["ok"]);
    });

    it("starts a fresh session once maxDisconnectionDuration has passed", async () => {
      const [io, sockets, client] = await setup(h, { maxDisconnectionDuration: 100 });
      const first = sockets[0];
      const missed = [];
      client.on("missed", (v) => missed.push(v));
      client.io.reconnectionDelay(400);
      client.io.reconnectionDelayMax(400);
      await dropTransport(first, client);
      io.emit("missed", 1);
      await waitFor(client, "connect", 3000);
      expect(client.recovered).to.be(false);
      expect(sockets).to.have.length(2);
      expect(sockets[1].recovered).to.be(false);
      expect(sockets[1].id).not.to.be(first.id);
      expect(client.id).to.be(sockets[1].id);
      // positive control: an event sent now arrives; replayed events would have come first
      const control = waitFor(client, "control");
      io.emit("control");
      await control;
      expect(missed).to.eql([]);
    });

    it("skips the middlewares on recovery by default (skipMiddlewares: true)", async () => {
      let runs = 0;
      const [, sockets, client] = await setup(h, { maxDisconnectionDuration: 2000 }, (io) =>
        io.use((socket, next) => {
          runs++;
          next();
        }),
      );
      await dropTransport(sockets[0], client);
      await waitFor(client, "connect");
      expect(client.recovered).to.be(true);
      expect(runs).to.be(1);
    });

    it("runs the middlewares again with skipMiddlewares: false", async () => {
      let runs = 0;
      const [, sockets, client] = await setup(
        h,
        { maxDisconnectionDuration: 2000, skipMiddlewares: false },
        (io) =>
          io.use((socket, next) => {
            runs++;
            next();
          }),
      );
      await dropTransport(sockets[0], client);
      await waitFor(client, "connect");
      expect(client.recovered).to.be(true);
      expect(runs).to.be(2);
    });

    it("does not recover after an explicit client disconnect", async () => {
      const [, sockets, client] = await setup(h, { maxDisconnectionDuration: 2000 });
      const reason = disconnectReason(sockets[0]);
      client.disconnect();
      expect(await reason).to.be("client namespace disconnect");
      client.connect();
      await waitFor(client, "connect");
      expect(client.recovered).to.be(false);
      expect(sockets[1].recovered).to.be(false);
      expect(sockets[1].id).not.to.be(sockets[0].id);
    });

    it("does not recover after a server-side disconnect", async () => {
      const [, sockets, client] = await setup(h, { maxDisconnectionDuration: 2000 });
      const reason = disconnectReason(client);
      sockets[0].disconnect();
      expect(await reason).to.be("io server disconnect");
      client.connect();
      await waitFor(client, "connect");
      expect(client.recovered).to.be(false);
      expect(sockets[1].id).not.to.be(sockets[0].id);
    });

    it("a client without an offset gets a fresh session", async () => {
      const io = await h.server({ connectionStateRecovery: { maxDisconnectionDuration: 2000 } });
      const ids = [];
      io.on("connection", (s) => ids.push([s.id, s.recovered]));
      const client = h.client("/", RECONNECT);
      await connected(client);
      client.io.engine.close(); // no event received yet: nothing to resume from
      await waitFor(client, "connect");
      expect(client.recovered).to.be(false);
      expect(ids).to.have.length(2);
      expect(ids[1][0]).not.to.be(ids[0][0]);
      expect(ids[1][1]).to.be(false);
    });
  });

  describe("the adapter", () => {
    const h = useHarness();

    it("does not connect a client that left while its session was being restored", async () => {
      const [io, sockets, client] = await setup(h, { maxDisconnectionDuration: 2000 });
      const adapter = io.of("/").adapter;
      const restoreSession = adapter.restoreSession.bind(adapter);
      let lookups = 0;
      let onRestored;
      const restored = new Promise((resolve) => (onRestored = resolve));
      adapter.restoreSession = async (pid, offset) => {
        lookups++;
        const session = await restoreSession(pid, offset);
        // meanwhile the client goes away
        await sleep(150);
        setImmediate(onRestored);
        return session;
      };
      await dropTransport(sockets[0], client);
      await until(() => lookups > 0, "the session lookup");
      client.disconnect();
      await restored;
      // the server acts on the lookup's result in the jobs that follow it
      await new Promise((resolve) => setImmediate(resolve));
      expect(sockets).to.have.length(1);
      expect(io.of("/").sockets.size).to.be(0);
      expect(io.of("/").adapter.rooms.has("room")).to.be(false);
    });

    // The reference restores the same session a second time (two live sockets with one
    // id, and the first to close removes the other's rooms): deliberately not copied.
    (REFERENCE ? it.skip : it)(
      "restores a session once: a second client presenting it while it is live starts afresh",
      async () => {
        const [io, sockets, client] = await setup(h, { maxDisconnectionDuration: 2000 });
        const pid = client._pid;
        const offset = client._lastOffset;
        expect(pid).to.be.a("string");
        await dropTransport(sockets[0], client);
        await waitFor(client, "connect");
        expect(client.recovered).to.be(true);
        const restored = sockets[1];
        expect(restored.id).to.be(sockets[0].id);

        const intruder = h.client("/", { auth: { pid, offset } });
        await connected(intruder);
        expect(intruder.recovered).to.be(false);
        expect(sockets).to.have.length(3);
        expect(sockets[2].id).not.to.be(restored.id);

        const gone = disconnectReason(sockets[2]);
        intruder.disconnect();
        await gone;
        expect(io.of("/").sockets.get(restored.id)).to.be(restored);
        expect(io.of("/").adapter.rooms.get("room").has(restored.id)).to.be(true);
        const live = waitFor(client, "live");
        io.to("room").emit("live", "ok");
        expect(withoutOffset(await live)).to.eql(["ok"]);
      },
    );

    // persistWhileConnected stores on join() and at a disconnect for good: a store that
    // fails (a backend down) is the adapter's trouble, never the process's
    (REFERENCE ? it.skip : it)(
      "persistWhileConnected: a store that rejects or throws is neither unhandled nor uncaught",
      async () => {
        const unhandled = [];
        const onUnhandled = (reason) => unhandled.push(reason);
        process.on("unhandledRejection", onUnhandled);
        try {
          const io = await h.server({ connectionStateRecovery: { persistWhileConnected: true } });
          const adapter = io.of("/").adapter;
          let stores = 0;
          adapter.persistSession = () => {
            stores++;
            if (stores % 2 === 0) throw new Error("backend down");
            return Promise.reject(new Error("backend down"));
          };
          io.on("connection", (socket) => {
            socket.on("join", (room, cb) => {
              socket.join(room);
              cb();
            });
          });
          const client = await h.connect("/");
          await client.emitWithAck("join", "a");
          await client.emitWithAck("join", "b");
          const gone = until(() => io.of("/").sockets.size === 0, "the disconnection");
          client.disconnect();
          await gone;
          // a rejection is reported once the microtasks and a turn of the loop have run
          await sleep(50);
          expect(stores).to.be.greaterThan(2);
          expect(unhandled).to.eql([]);
        } finally {
          process.removeListener("unhandledRejection", onUnhandled);
        }
      },
    );

    it("the default adapter is session-aware only when recovery is enabled", async () => {
      const plain = await h.server();
      expect(plain.sockets.adapter.persistSession).to.be.a("function");
      const io = await h.server({ connectionStateRecovery: {} });
      expect(io.sockets.adapter.constructor).not.to.be(plain.sockets.adapter.constructor);
      expect(io.opts.connectionStateRecovery.maxDisconnectionDuration).to.be(120000);
    });
  });
});
