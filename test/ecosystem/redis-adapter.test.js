"use strict";

// The published @socket.io/redis-adapter (8.x, with the `redis` 4.x client the
// adapter's own docs use) must work with our server as it does with the reference:
// two servers share a real redis-server, real clients connect to each, and every
// multi-node API is checked from what the clients and the other server observe.
const expect = require("expect.js");
const impl = require("../support/impl");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { startNode, waitForCluster, redisBackend } = require("./support/cluster");
const { once, waitFor, record } = require("./support/peers");
const { instrument } = require("@socket.io/admin-ui");

const { Socket } = impl.sio();
const NAMESPACES = ["/", "/custom"];

describe(
  "@socket.io/redis-adapter with a real redis-server" + (impl.REFERENCE ? " (reference)" : ""),
  function () {
    this.timeout(10000);

    let redis;
    let A; // plugged with the `adapter` option
    let B; // plugged with io.adapter(...) after construction
    let a1, a2, b1, b2;
    let rec;

    before(async () => {
      if (!hasRedisServer()) throw missingRedis();
      redis = await startRedis();
    });

    after(async () => {
      if (redis) await redis.stop();
    });

    beforeEach(async () => {
      A = await startNode("A", redisBackend(redis.url), { namespaces: NAMESPACES });
      B = await startNode("B", redisBackend(redis.url), { namespaces: NAMESPACES, viaMethod: true });
      await waitForCluster([A, B], NAMESPACES);
      // a1 and b1 start on HTTP long-polling and upgrade; a2 and b2 are WebSocket-only
      [a1, a2, b1, b2] = await Promise.all([
        A.connect("a1"),
        A.connect("a2", "/", { transports: ["websocket"] }),
        B.connect("b1"),
        B.connect("b2", "/", { transports: ["websocket"] }),
      ]);
      rec = { a1: record(a1), a2: record(a2), b1: record(b1), b2: record(b2) };
    });

    afterEach(async () => {
      await Promise.all([A && A.close(), B && B.close()]);
      for (const node of [A, B]) {
        if (node) expect(node.adapterErrors).to.eql([]);
      }
      A = B = null;
    });

    // Emits "end" to everyone from `node` and waits until all four clients have it.
    // Redis keeps the order of one publisher's messages, so anything sent before
    // "end" from the same node has arrived by then or will never arrive.
    async function flush(node = A) {
      node.io.emit("end");
      await waitFor(
        () => Object.values(rec).every((r) => r.events().includes("end")),
        3000,
        "'end' on every client",
      );
    }

    const names = (sockets) => sockets.map((s) => s.data.name).sort();

    describe("broadcasting", () => {
      it("io.emit reaches the clients of both nodes, with binary payloads intact", async () => {
        A.io.emit("hello", "world", { n: 1 }, Buffer.from([1, 2, 3]));
        await flush();
        for (const r of Object.values(rec)) {
          expect(r.events()).to.eql(["hello", "end"]);
          const [text, obj, bin] = r.args("hello")[0];
          expect(text).to.be("world");
          expect(obj).to.eql({ n: 1 });
          expect(Buffer.from(bin)).to.eql(Buffer.from([1, 2, 3]));
        }
      });

      it("io.to(room).emit reaches the room's members on both nodes, io.except(room) the others", async () => {
        await Promise.all([a1.emitWithAck("join", "r"), b2.emitWithAck("join", "r")]);
        B.io.to("r").emit("to-room", 1);
        B.io.except("r").emit("except-room", 2);
        await flush(B);
        expect(rec.a1.events()).to.eql(["to-room", "end"]);
        expect(rec.b2.events()).to.eql(["to-room", "end"]);
        expect(rec.a2.events()).to.eql(["except-room", "end"]);
        expect(rec.b1.events()).to.eql(["except-room", "end"]);
      });

      it("socket.broadcast.emit reaches every other client on both nodes but not the sender", async () => {
        a1.emit("broadcast", "from a1");
        await waitFor(() => [rec.a2, rec.b1, rec.b2].every((r) => r.events().includes("broadcasted")));
        await flush();
        expect(rec.a1.events()).to.eql(["end"]);
        for (const r of [rec.a2, rec.b1, rec.b2]) expect(r.args("broadcasted")).to.eql([["from a1"]]);
      });

      it("volatile and compress(false) broadcasts reach the writable clients of both nodes", async () => {
        // past the upgrade, every transport is writable: nothing may be dropped
        await waitFor(
          () => a1.io.engine.transport.name === "websocket" && b1.io.engine.transport.name === "websocket",
        );
        A.io.volatile.emit("volatile", 1);
        B.io.compress(false).to(a2.id).to(b2.id).emit("uncompressed", 2);
        await flush(B);
        await waitFor(() => Object.values(rec).every((r) => r.events().includes("volatile")));
        expect(rec.a2.events()).to.contain("uncompressed");
        expect(rec.b2.events()).to.contain("uncompressed");
        expect(rec.a1.events()).not.to.contain("uncompressed");
      });

      it("io.local.emit only reaches the clients of the local node", async () => {
        A.io.local.emit("local-only");
        await flush();
        expect(rec.a1.events()).to.eql(["local-only", "end"]);
        expect(rec.a2.events()).to.eql(["local-only", "end"]);
        expect(rec.b1.events()).to.eql(["end"]);
        expect(rec.b2.events()).to.eql(["end"]);
      });
    });

    describe("fetchSockets and remote sockets", () => {
      it("fetchSockets() returns the local Socket instances and the other node's sockets as RemoteSocket", async () => {
        const sockets = await A.io.fetchSockets();
        expect(names(sockets)).to.eql(["a1", "a2", "b1", "b2"]);

        const local = sockets.filter((s) => s.data.node === "A");
        for (const s of local) expect(s).to.be.a(Socket);

        const remote = sockets.filter((s) => s.data.node === "B");
        const byName = Object.fromEntries(remote.map((s) => [s.data.name, s]));
        for (const [name, client] of [
          ["b1", b1],
          ["b2", b2],
        ]) {
          const s = byName[name];
          // the reference does not export the class, so its name is what is observable
          expect(s.constructor.name).to.be("RemoteSocket");
          expect(s.id).to.be(client.id);
          expect(s.handshake.auth).to.eql({ name });
          expect(s.handshake.query.EIO).to.be("4");
          expect(s.rooms).to.be.a(Set);
          expect([...s.rooms]).to.eql([client.id]);
          expect(s.data).to.eql({ name, node: "B" });
        }
      });

      it("io.in(room).fetchSockets() filters by room across nodes", async () => {
        await Promise.all([a2.emitWithAck("join", "r"), b1.emitWithAck("join", "r")]);
        const sockets = await B.io.in("r").fetchSockets();
        expect(names(sockets)).to.eql(["a2", "b1"]);
        const remote = sockets.find((s) => s.data.name === "a2");
        expect([...remote.rooms].sort()).to.eql([a2.id, "r"].sort());
      });

      it("a RemoteSocket's emit, join, leave and disconnect act on the socket of the other node", async () => {
        const remote = (await A.io.fetchSockets()).find((s) => s.data.name === "b1");
        const onB = B.io.of("/").sockets.get(b1.id);

        remote.emit("direct", 42);
        await waitFor(() => rec.b1.events().includes("direct"));
        expect(rec.b1.args("direct")).to.eql([[42]]);

        remote.join("vip");
        await waitFor(() => onB.rooms.has("vip"), 3000, "b1 to join 'vip'");
        A.io.to("vip").emit("vip-only");
        await flush();
        expect(rec.b1.events()).to.eql(["direct", "vip-only", "end"]);
        expect(rec.b2.events()).to.eql(["end"]);
        expect(rec.a1.events()).to.eql(["end"]);

        remote.leave("vip");
        await waitFor(() => !onB.rooms.has("vip"), 3000, "b1 to leave 'vip'");

        b1.on("whoami", (ack) => ack("b1"));
        // a single target: the answer itself, not an array
        expect(await remote.timeout(2000).emitWithAck("whoami")).to.be("b1");

        const disconnected = once(b1, "disconnect");
        remote.disconnect();
        const [reason] = await disconnected;
        expect(reason).to.be("io server disconnect");
        expect(b2.connected).to.be(true);
      });
    });

    describe("socketsJoin, socketsLeave, disconnectSockets", () => {
      it("make the matching sockets of both nodes join and leave rooms", async () => {
        await Promise.all([a1.emitWithAck("join", "r"), b1.emitWithAck("join", "r")]);

        A.io.in("r").socketsJoin(["r2", "r3"]);
        await waitFor(
          async () => names(await A.io.in("r2").fetchSockets()).join() === "a1,b1",
          3000,
          "r2 = a1, b1",
        );
        expect(names(await B.io.in("r3").fetchSockets())).to.eql(["a1", "b1"]);
        expect(B.io.of("/").sockets.get(b1.id).rooms.has("r2")).to.be(true);

        B.io.in("r2").socketsLeave("r");
        await waitFor(async () => (await A.io.in("r").fetchSockets()).length === 0, 3000, "r to empty");
        expect(names(await A.io.in("r2").fetchSockets())).to.eql(["a1", "b1"]);

        B.io.socketsJoin("everyone");
        await waitFor(async () => (await A.io.in("everyone").fetchSockets()).length === 4, 3000, "everyone");
      });

      it("disconnectSockets() disconnects the matching sockets of both nodes only", async () => {
        await Promise.all([a2.emitWithAck("join", "gone"), b2.emitWithAck("join", "gone")]);
        const reasons = Promise.all([once(a2, "disconnect"), once(b2, "disconnect")]);
        A.io.in("gone").disconnectSockets();
        expect((await reasons).map((args) => args[0])).to.eql([
          "io server disconnect",
          "io server disconnect",
        ]);
        expect(a1.connected && b1.connected).to.be(true);
        expect(names(await B.io.fetchSockets())).to.eql(["a1", "b1"]);
      });

      it("disconnectSockets(true) closes the underlying connections on both nodes", async () => {
        const closed = Promise.all([a1, a2, b1, b2].map((c) => once(c, "disconnect")));
        B.io.disconnectSockets(true);
        const reasons = (await closed).map((args) => args[0]);
        for (const reason of reasons) expect(reason).to.be("io server disconnect");
        await waitFor(
          () => A.io.engine.clientsCount === 0 && B.io.engine.clientsCount === 0,
          3000,
          "engines to empty",
        );
      });
    });

    describe("server-side emits", () => {
      it("serverSideEmit() reaches the other server, not the emitting one", async () => {
        const seenOnA = [];
        A.io.on("hello", (...args) => seenOnA.push(args));
        const received = once(B.io, "hello");
        A.io.serverSideEmit("hello", "world", { n: 1 }, [2, 3]);
        expect(await received).to.eql(["world", { n: 1 }, [2, 3]]);
        expect(seenOnA).to.eql([]);
      });

      it("serverSideEmitWithAck() resolves with the answers of the other servers", async () => {
        B.io.on("double", (n, cb) => cb(n * 2));
        expect(await A.io.serverSideEmitWithAck("double", 21)).to.eql([42]);
        // the callback form
        const [err, answers] = await new Promise((resolve) =>
          A.io.serverSideEmit("double", 5, (...args) => resolve(args)),
        );
        expect(err).to.be(null);
        expect(answers).to.eql([10]);
      });
    });

    describe("broadcast with acknowledgements", () => {
      it("io.timeout().emitWithAck() collects the answers of the clients of both nodes", async () => {
        for (const [name, client] of Object.entries({ a1, a2, b1, b2 })) {
          client.on("question", (x, cb) => cb(name + ":" + x));
        }
        const answers = await A.io.timeout(2000).emitWithAck("question", "?");
        expect(answers.sort()).to.eql(["a1:?", "a2:?", "b1:?", "b2:?"]);

        await Promise.all([a1.emitWithAck("join", "r"), b2.emitWithAck("join", "r")]);
        const roomAnswers = await B.io.to("r").timeout(2000).emitWithAck("question", "r");
        expect(roomAnswers.sort()).to.eql(["a1:r", "b2:r"]);
      });

      it("a broadcast with an ack times out with the answers received so far when a remote client is silent", async () => {
        for (const [name, client] of Object.entries({ a1, a2, b1 })) {
          client.on("maybe", (cb) => cb(name));
        }
        b2.on("maybe", () => {}); // never acknowledges
        const started = Date.now();
        const [err, answers] = await new Promise((resolve) =>
          A.io.timeout(400).emit("maybe", (...args) => resolve(args)),
        );
        expect(err).to.be.an(Error);
        expect(Date.now() - started).to.be.greaterThan(350);
        expect(answers.sort()).to.eql(["a1", "a2", "b1"]);
      });
    });

    describe("custom namespace", () => {
      it("io.of('/custom') broadcasts, fetches, acks and emits server-side across nodes", async () => {
        const [ca, cb] = await Promise.all([
          A.connect("ca", "/custom"),
          B.connect("cb", "/custom", { transports: ["websocket"] }),
        ]);
        const recA = record(ca);
        const recB = record(cb);
        ca.on("whoami", (ack) => ack("ca"));
        cb.on("whoami", (ack) => ack("cb"));

        A.io.of("/custom").emit("in-custom", 1);
        await waitFor(() => recA.events().includes("in-custom") && recB.events().includes("in-custom"));
        await flush(); // the main namespace's clients never see it
        for (const r of Object.values(rec)) expect(r.events()).to.eql(["end"]);

        const sockets = await B.io.of("/custom").fetchSockets();
        expect(names(sockets)).to.eql(["ca", "cb"]);
        const remote = sockets.find((s) => s.data.name === "ca");
        expect(remote.id).to.be(ca.id);
        expect(remote.data).to.eql({ name: "ca", node: "A" });

        const answers = await B.io.of("/custom").timeout(2000).emitWithAck("whoami");
        expect(answers.sort()).to.eql(["ca", "cb"]);

        B.io.of("/custom").on("ping-custom", (x, ack) => ack("pong " + x));
        expect(await A.io.of("/custom").serverSideEmitWithAck("ping-custom", 1)).to.eql(["pong 1"]);

        const gone = once(cb, "disconnect");
        A.io.of("/custom").disconnectSockets();
        expect((await gone)[0]).to.be("io server disconnect");
        expect(b1.connected).to.be(true);
      });
    });

    describe("dynamic namespaces", () => {
      it("a child of io.of(regex) exists on both nodes once used, and broadcasts from the parent reach it", async () => {
        // every io.of(regex) call makes a new parent: keep each node's one
        const parents = [A, B].map((node) =>
          node.io.of(/^\/dyn-\d+$/).on("connection", (socket) => {
            socket.data = { name: socket.handshake.auth.name };
          }),
        );
        const [da, db] = await Promise.all([A.connect("da", "/dyn-1"), B.connect("db", "/dyn-1")]);
        await waitForCluster([A, B], ["/dyn-1"]);
        const recA = record(da);
        const recB = record(db);

        A.io.of("/dyn-1").emit("child", 1);
        await waitFor(() => recA.events().includes("child") && recB.events().includes("child"));

        parents[1].emit("from-parent", 2);
        await waitFor(() => recA.events().includes("from-parent") && recB.events().includes("from-parent"));
        expect(recB.args("from-parent")).to.eql([[2]]);

        expect(names(await A.io.of("/dyn-1").fetchSockets())).to.eql(["da", "db"]);
      });
    });

    describe("@socket.io/admin-ui on the cluster", () => {
      it("an admin connected to one node sees the sockets and server_stats of both", async () => {
        instrument(A.io, { auth: false, mode: "development", serverId: "server-A" });
        instrument(B.io, { auth: false, mode: "development", serverId: "server-B" });
        await waitForCluster([A, B], ["/admin"]);

        const admin = await A.connect("admin", "/admin");
        const recAdmin = record(admin);
        await waitFor(() => recAdmin.events().includes("all_sockets"), 3000, "all_sockets");
        // the sockets connected before instrument() have no admin bookkeeping: find the others
        const user = await B.connect("late-user", "/", { transports: ["websocket"] });
        const id = user.id;
        const [connected] = await waitFor(
          () => recAdmin.args("socket_connected").find(([s]) => s.id === id),
          3000,
          "socket_connected from node B",
        );
        expect(connected.nsp).to.be("/");
        expect(connected.transport).to.be("websocket");
        expect(connected.clientId).to.be(user.io.engine.id.slice(0, 12));

        const [sockets] = recAdmin.args("all_sockets")[0];
        expect(sockets.map((s) => s.id).sort()).to.eql([a1.id, a2.id, b1.id, b2.id, admin.id].sort());

        // the admin's commands reach the socket on the other node
        admin.emit("emit", "/", id, "from-admin", "hi");
        expect(await once(user, "from-admin")).to.eql(["hi"]);
        admin.emit("_disconnect", "/", false, id);
        expect((await once(user, "disconnect"))[0]).to.be("io server disconnect");
        await waitFor(
          () => recAdmin.args("socket_disconnected").some((args) => args[1] === id),
          3000,
          "disconnected",
        );

        const stats = await waitFor(
          () => {
            const ids = new Set(recAdmin.args("server_stats").map(([st]) => st.serverId));
            return ids.has("server-A") && ids.has("server-B") && recAdmin.args("server_stats");
          },
          3000,
          "server_stats of both servers",
        );
        const fromB = stats.map(([st]) => st).find((st) => st.serverId === "server-B");
        expect(fromB.namespaces.find((n) => n.name === "/").socketsCount).to.be(2);
      });
    });

    describe("server lifecycle", () => {
      it("a closed server unsubscribes: the other node then sees one server and only its own sockets", async () => {
        await B.close();
        await waitFor(async () => (await A.io.of("/").adapter.serverCount()) === 1, 3000, "serverCount 1");
        expect(names(await A.io.fetchSockets())).to.eql(["a1", "a2"]);
        expect(await A.io.serverSideEmitWithAck("anyone")).to.eql([]);
      });
    });
  },
);
