"use strict";

const expect = require("expect.js");
const {
  sio,
  forEachTransport,
  useHarness,
  connected,
  waitFor,
  disconnectReason,
  expectNoEvent,
} = require("./support/util");

/** Connects `n` clients to `nsp`; resolves [io, serverSockets (same order), clients]. */
async function setup(h, n, nsp = "/") {
  const io = await h.server();
  const byId = new Map();
  io.of(nsp).on("connection", (s) => byId.set(s.id, s));
  const clients = [];
  for (let i = 0; i < n; i++) {
    const [, client] = await Promise.all([waitFor(io.of(nsp), "connection"), h.connect(nsp)]);
    clients.push(client);
  }
  return [io, clients.map((c) => byId.get(c.id)), clients];
}

describe("utility methods", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports });

    describe("fetchSockets()", () => {
      it("returns the local socket instances with id, handshake, rooms and data", async () => {
        const [io, sockets] = await setup(h, 2);
        sockets[0].data.user = "alice";
        sockets[0].join("room");
        const found = await io.fetchSockets();
        expect(found).to.have.length(2);
        const first = found.find((s) => s.id === sockets[0].id);
        expect(first).to.be.a(sio.Socket);
        expect(first.data).to.eql({ user: "alice" });
        expect(first.rooms.has("room")).to.be(true);
        expect(first.handshake.query.EIO).to.be("4");
        expect(found.map((s) => s.id).sort()).to.eql(sockets.map((s) => s.id).sort());
      });

      it("honours in(room) / except(room) and namespaces", async () => {
        const [io, sockets] = await setup(h, 3);
        sockets[0].join("a");
        sockets[1].join(["a", "b"]);
        const ids = async (op) => (await op.fetchSockets()).map((s) => s.id).sort();
        expect(await ids(io.in("a"))).to.eql([sockets[0].id, sockets[1].id].sort());
        expect(await ids(io.in("a").except("b"))).to.eql([sockets[0].id]);
        expect(await ids(io.except("a"))).to.eql([sockets[2].id]);
        expect(await ids(io.of("/"))).to.have.length(3);
        expect(await ids(io.of("/empty"))).to.eql([]);
      });

      it("returned sockets can emit, join, leave and disconnect", async () => {
        const [io, sockets, clients] = await setup(h, 1);
        const [found] = await io.fetchSockets();
        const got = waitFor(clients[0], "direct");
        found.emit("direct", 1);
        expect(await got).to.be(1);
        found.join("x");
        expect(sockets[0].rooms.has("x")).to.be(true);
        found.leave("x");
        expect(sockets[0].rooms.has("x")).to.be(false);
        const reason = disconnectReason(clients[0]);
        found.disconnect();
        expect(await reason).to.be("io server disconnect");
      });
    });

    describe("socketsJoin() / socketsLeave()", () => {
      it("io.socketsJoin(room) makes every socket join", async () => {
        const [io, sockets] = await setup(h, 2);
        io.socketsJoin("all");
        expect(sockets.map((s) => s.rooms.has("all"))).to.eql([true, true]);
      });

      it("io.in(a).socketsJoin([b, c]) only affects room a", async () => {
        const [io, sockets, clients] = await setup(h, 2);
        sockets[0].join("a");
        io.in("a").socketsJoin(["b", "c"]);
        expect([...sockets[0].rooms].sort()).to.eql([sockets[0].id, "a", "b", "c"].sort());
        expect([...sockets[1].rooms]).to.eql([sockets[1].id]);
        // the new rooms are real: a broadcast to them reaches the socket
        const got = waitFor(clients[0], "to-c");
        const none = expectNoEvent(clients[1], "to-c", 150);
        io.to("c").emit("to-c");
        await got;
        await none;
      });

      it("socketsLeave(room) removes the room, scoped by in()/except()", async () => {
        const [io, sockets] = await setup(h, 3);
        sockets.forEach((s) => s.join("r"));
        sockets[2].join("keep");
        io.except("keep").socketsLeave("r");
        expect(sockets.map((s) => s.rooms.has("r"))).to.eql([false, false, true]);
        io.socketsLeave(["r"]);
        expect(sockets[2].rooms.has("r")).to.be(false);
        expect(io.sockets.adapter.rooms.has("r")).to.be(false);
      });

      it("is scoped to a namespace", async () => {
        const [io, sockets] = await setup(h, 1);
        io.of("/other").socketsJoin("room");
        expect(sockets[0].rooms.has("room")).to.be(false);
      });
    });

    describe("disconnectSockets()", () => {
      it("disconnects every socket of the namespace with 'io server disconnect'", async () => {
        const [io, sockets, clients] = await setup(h, 2);
        const serverReasons = Promise.all(sockets.map((s) => disconnectReason(s)));
        const clientReasons = Promise.all(clients.map((c) => disconnectReason(c)));
        io.disconnectSockets();
        expect(await serverReasons).to.eql(["server namespace disconnect", "server namespace disconnect"]);
        expect(await clientReasons).to.eql(["io server disconnect", "io server disconnect"]);
      });

      it("in(room).disconnectSockets() only disconnects the room", async () => {
        const [io, sockets, clients] = await setup(h, 2);
        sockets[1].join("bye");
        const reason = disconnectReason(clients[1]);
        const none = expectNoEvent(clients[0], "disconnect", 200);
        io.in("bye").disconnectSockets();
        expect(await reason).to.be("io server disconnect");
        await none;
        expect(io.sockets.sockets.size).to.be(1);
      });

      it("disconnectSockets(true) closes the underlying connections too", async () => {
        const io = await h.server();
        io.of("/other");
        const main = await h.connect("/");
        const other = main.io.socket("/other");
        h.clients.push(other);
        await connected(other);
        const reasons = Promise.all([disconnectReason(main), disconnectReason(other)]);
        io.disconnectSockets(true);
        expect(await reasons).to.eql(["io server disconnect", "io server disconnect"]);
      });

      it("is scoped to a namespace", async () => {
        const io = await h.server();
        io.of("/chat");
        const main = await h.connect("/");
        const chat = await h.connect("/chat");
        const reason = disconnectReason(chat);
        const none = expectNoEvent(main, "disconnect", 200);
        io.of("/chat").disconnectSockets();
        expect(await reason).to.be("io server disconnect");
        await none;
      });
    });
  });

  describe("disconnectSockets() seen by raw peers", () => {
    const h = useHarness();

    async function rawPeer(nsps) {
      const peer = await h.rawWs();
      for (const nsp of nsps) {
        peer.send(nsp === "/" ? "40" : `40${nsp},`);
        expect(await peer.next()).to.match(/^40/);
      }
      return peer;
    }

    it("without close=true the connections stay open", async () => {
      const io = await h.server();
      const peers = [await rawPeer(["/"]), await rawPeer(["/"])];
      io.disconnectSockets();
      for (const peer of peers) expect(await peer.next()).to.be("41");
      // positive control: both connections still answer, joining "/" again
      for (const peer of peers) {
        peer.send("40");
        expect(await peer.next()).to.match(/^40\{/);
      }
      expect(peers.map((p) => p.closed)).to.eql([false, false]);
      expect(io.engine.clientsCount).to.be(2);
    });

    it("with close=true the connections are closed, other namespaces included", async () => {
      const io = await h.server();
      io.of("/other");
      const peers = [await rawPeer(["/", "/other"]), await rawPeer(["/"])];
      io.disconnectSockets(true);
      await Promise.all(peers.map((p) => p.closedWithin(2000)));
      expect(io.engine.clientsCount).to.be(0);
    });
  });

  describe("serverSideEmit() with the in-memory adapter", () => {
    const h = useHarness();
    let warn;

    beforeEach(() => {
      warn = console.warn;
    });
    afterEach(() => {
      console.warn = warn;
    });

    it("returns true and does not call this node's own listeners", async () => {
      const io = await h.server();
      const calls = [];
      io.on("hello", (...args) => calls.push(args));
      const warnings = [];
      console.warn = (...args) => warnings.push(args.join(" "));
      expect(io.serverSideEmit("hello", 1, "two")).to.be(true);
      // a listener would have been called synchronously, or not at all
      expect(calls).to.eql([]);
      // a single node has no peer: the user is told so
      expect(warnings.join("\n")).to.contain("serverSideEmit");
    });

    it("rejects reserved event names", async () => {
      const io = await h.server();
      for (const name of ["connect", "connection", "new_namespace"]) {
        expect(() => io.serverSideEmit(name)).to.throwError((e) => {
          expect(e.message).to.be(`"${name}" is a reserved event name`);
        });
      }
    });

    it("namespace-level serverSideEmit exists on every namespace", async () => {
      const io = await h.server();
      console.warn = () => {};
      expect(io.of("/chat").serverSideEmit("x")).to.be(true);
      expect(io.of("/chat").serverSideEmitWithAck).to.be.a("function");
    });

    it("an event from another node is delivered to the namespace's listeners", async () => {
      const io = await h.server();
      const got = waitFor(io.of("/"), "from-peer");
      // what an adapter does when another node calls serverSideEmit
      io.of("/")._onServerSideEmit(["from-peer", 1, { a: 2 }]);
      expect(await got).to.eql([1, { a: 2 }]);
    });
  });
});
