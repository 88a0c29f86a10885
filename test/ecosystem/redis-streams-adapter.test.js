"use strict";

// The published @socket.io/redis-streams-adapter (0.3.x) with our server as with the
// reference: two servers share a real redis-server through a Redis stream; clients
// of either node get every broadcast, and with connection state recovery a client
// whose connection drops comes back on the *other* node with its id, rooms, data and
// the packets it missed.
const expect = require("expect.js");
const { createClient } = require("redis");
const { io: ioc } = require("socket.io-client");
const impl = require("../support/impl");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { startNode, waitForCluster, redisStreamsBackend } = require("./support/cluster");
const { startTcpProxy } = require("./support/tcp-proxy");
const { once, waitFor, record } = require("./support/peers");

describe(
  "@socket.io/redis-streams-adapter with a real redis-server" + (impl.REFERENCE ? " (reference)" : ""),
  function () {
    this.timeout(10000);

    let redis, A, B, proxy, spare;

    before(async () => {
      if (!hasRedisServer()) throw missingRedis();
      redis = await startRedis();
    });

    after(async () => {
      if (redis) await redis.stop();
    });

    // Two nodes on an empty Redis: no stream entries nor sessions of an earlier test
    async function startNodes(serverOptions = {}) {
      const client = createClient({ url: redis.url });
      await client.connect();
      await client.flushAll();
      await client.quit();
      const options = { serverOptions, setup: (socket) => socket.on("whoami", (cb) => cb(socket.data.node)) };
      A = await startNode("A", redisStreamsBackend(redis.url), options);
      B = await startNode("B", redisStreamsBackend(redis.url), { ...options, viaMethod: true });
      await waitForCluster([A, B]);
    }

    beforeEach(() => {
      spare = [];
    });

    afterEach(async () => {
      for (const client of spare) client.disconnect();
      if (proxy) await proxy.close();
      await Promise.all([A && A.close(), B && B.close()]);
      for (const node of [A, B]) if (node) expect(node.adapterErrors).to.eql([]);
      A = B = proxy = null;
    });

    describe("broadcasting", () => {
      beforeEach(() => startNodes());

      it("broadcasts reach the clients of both nodes, with rooms, exceptions and binary payloads", async () => {
        const [a1, a2, b1, b2] = await Promise.all([
          A.connect("a1"),
          A.connect("a2", "/", { transports: ["websocket"] }),
          B.connect("b1"),
          B.connect("b2", "/", { transports: ["websocket"] }),
        ]);
        const rec = { a1: record(a1), a2: record(a2), b1: record(b1), b2: record(b2) };
        await Promise.all([a1.emitWithAck("join", "r"), b2.emitWithAck("join", "r")]);

        A.io.emit("hello", Buffer.from([1, 2, 3]), { n: 1 });
        B.io.to("r").emit("to-room", 2);
        B.io.except("r").emit("except-room", 3);
        a2.emit("broadcast", "from a2");
        // the stream keeps the order of each node's entries: "end" from both comes last
        A.io.emit("end");
        B.io.emit("end");
        await waitFor(
          () => Object.values(rec).every((r) => r.args("end").length === 2),
          3000,
          "'end' twice everywhere",
        );

        for (const r of Object.values(rec)) {
          const [bin, obj] = r.args("hello")[0];
          expect(Buffer.from(bin)).to.eql(Buffer.from([1, 2, 3]));
          expect(obj).to.eql({ n: 1 });
        }
        expect(rec.a1.args("to-room")).to.eql([[2]]);
        expect(rec.b2.args("to-room")).to.eql([[2]]);
        expect(rec.a2.args("to-room")).to.eql([]);
        expect(rec.b1.args("to-room")).to.eql([]);
        expect(rec.a2.args("except-room")).to.eql([[3]]);
        expect(rec.b1.args("except-room")).to.eql([[3]]);
        expect(rec.a1.args("except-room")).to.eql([]);
        expect(rec.a2.args("broadcasted")).to.eql([]);
        for (const r of [rec.a1, rec.b1, rec.b2]) expect(r.args("broadcasted")).to.eql([["from a2"]]);
      });

      it("fetchSockets and serverSideEmitWithAck span both nodes", async () => {
        await Promise.all([A.connect("a1"), B.connect("b1", "/", { transports: ["websocket"] })]);
        const sockets = await A.io.fetchSockets();
        expect(sockets.map((s) => s.data.name).sort()).to.eql(["a1", "b1"]);
        B.io.on("double", (n, cb) => cb(n * 2));
        expect(await A.io.serverSideEmitWithAck("double", 21)).to.eql([42]);
      });
    });

    describe("connection state recovery across nodes", () => {
      beforeEach(() => startNodes({ connectionStateRecovery: { maxDisconnectionDuration: 60000 } }));

      // with recovery on, every broadcast event carries the stream offset as its last argument
      const OFFSET = /^\d+-\d+$/;
      function withoutOffset(args) {
        expect(args[args.length - 1]).to.match(OFFSET);
        return args.slice(0, -1);
      }

      // The sessions the adapter has stored in Redis: A stores one when the connection
      // drops, and B can only restore it once it is there.
      async function storedSessions() {
        const client = createClient({ url: redis.url });
        await client.connect();
        try {
          return await client.keys("sio:session:*");
        } finally {
          await client.quit();
        }
      }

      // A client behind the proxy, on node A, in room "r", with one packet received
      async function clientOnA(name) {
        proxy = proxy || (await startTcpProxy(A.port));
        const client = ioc(proxy.url, {
          forceNew: true,
          transports: ["websocket"],
          auth: { name },
          reconnectionDelay: 50,
          reconnectionDelayMax: 50,
        });
        spare.push(client);
        await once(client, "connect");
        expect(client.recovered).to.be(false);
        expect(await client.emitWithAck("whoami")).to.be("A");
        await client.emitWithAck("join", "r");
        A.io.emit("before", 0);
        withoutOffset(await once(client, "before"));
        return client;
      }

      it("a client that lost its connection to A comes back on B with its id, rooms, data and the missed packets", async () => {
        const client = await clientOnA("mover");
        const rec = record(client);
        const id = client.id;

        // the "load balancer" loses the connection and refuses new ones for a while
        const disconnected = once(client, "disconnect");
        proxy.refuse();
        proxy.cut();
        expect((await disconnected)[0]).to.be("transport close");
        await waitFor(async () => (await storedSessions()).length === 1, 3000, "A to store the session");

        // sent while the client is away, from either node
        B.io.to("r").emit("missed", 1);
        A.io.emit("missed", 2);
        B.io.except("r").emit("not-for-r", 3);
        proxy.forwardTo(B.port);
        await once(client, "connect", 5000);

        expect(client.recovered).to.be(true);
        expect(client.id).to.be(id);
        expect(await client.emitWithAck("whoami")).to.be("A"); // socket.data came back with the session
        const onB = B.io.of("/").sockets.get(id);
        expect(onB).to.be.ok();
        expect(onB.recovered).to.be(true);
        expect([...onB.rooms].sort()).to.eql([id, "r"].sort());
        expect(onB.data).to.eql({ name: "mover", node: "A" });
        await waitFor(() => rec.args("missed").length === 2, 3000, "both missed packets");
        expect(rec.args("missed").map(withoutOffset).sort()).to.eql([[1], [2]]);
        expect(rec.args("not-for-r")).to.eql([]);

        // and it is a regular member of B from now on
        A.io.to("r").emit("after", 4);
        expect(withoutOffset(await once(client, "after"))).to.eql([4]);
      });

      // A limit of the adapter (0.3.1), the same with the reference: its restore has no
      // hand-off between the packets it replays and the live ones. restoreSession() reads
      // the stream to its end (XRANGE) on one Redis connection while the node's reader
      // (XREAD, on another) delivers the live entries to the sockets in their rooms; so an
      // entry the reader delivers after the socket is back in its rooms comes twice if the
      // replay had it, and one it delivers between restoreSession()'s last read and the
      // socket's return reaches nobody. Both races last a Redis round trip or less (README,
      // "Deploying without losing messages"); these tests hold each open.
      describe("the adapter's restore race (a known limit of @socket.io/redis-streams-adapter 0.3.1)", () => {
        // B's reader, held: what it reads is delivered on release(), as a reader a
        // round trip behind would
        function holdReader(node) {
          const adapter = node.io.of("/").adapter;
          const deliver = adapter.onRawMessage;
          const held = [];
          adapter.onRawMessage = (...args) => void held.push(args);
          return {
            held: (event) => held.filter(([message]) => String(message.data).includes(JSON.stringify(event))),
            release() {
              adapter.onRawMessage = deliver;
              for (const args of held) deliver.apply(adapter, args);
            },
          };
        }

        async function dropOnA(client) {
          const disconnected = once(client, "disconnect");
          proxy.refuse();
          proxy.cut();
          await disconnected;
          await waitFor(async () => (await storedSessions()).length === 1, 3000, "A to store the session");
        }

        it("a packet the node has read but not delivered when the session is restored comes twice", async () => {
          const client = await clientOnA("twice");
          const rec = record(client);
          await dropOnA(client);
          const reader = holdReader(B);
          A.io.to("r").emit("missed", 1);
          await waitFor(() => reader.held("missed").length === 1, 3000, "B to read the entry");

          proxy.forwardTo(B.port);
          await once(client, "connect", 5000);
          expect(client.recovered).to.be(true);
          // the replay had it...
          await waitFor(() => rec.args("missed").length === 1, 3000, "the replayed packet");
          // ...and the reader delivers it to the socket, back in its rooms
          reader.release();
          A.io.to("r").emit("after", 2);
          await once(client, "after");
          const copies = rec.args("missed");
          expect(copies.length).to.be(2);
          expect(copies[1]).to.eql(copies[0]); // the same stream entry: same offset
        });

        it("a packet the node delivers between the restore's last read and the socket's return is lost", async () => {
          const client = await clientOnA("lost");
          const rec = record(client);
          await dropOnA(client);
          const adapter = B.io.of("/").adapter;
          const restoreSession = adapter.restoreSession;
          const readByB = [];
          const deliver = adapter.onRawMessage;
          adapter.onRawMessage = function (message, offset) {
            readByB.push(String(message.data));
            return deliver.call(this, message, offset);
          };
          adapter.restoreSession = async function (...args) {
            const session = await restoreSession.apply(this, args);
            // added after the last XRANGE, delivered by B's reader before the socket is back
            A.io.to("r").emit("lost", 1);
            await waitFor(() => readByB.some((data) => data.includes('"lost"')), 3000, "B to deliver it");
            return session;
          };

          proxy.forwardTo(B.port);
          await once(client, "connect", 5000);
          expect(client.recovered).to.be(true);
          A.io.to("r").emit("after", 2);
          await once(client, "after");
          expect(rec.events()).to.eql(["after"]);
        });
      });

      it("a client that left on purpose is not recovered: a new session on B", async () => {
        const client = await clientOnA("leaver");
        const id = client.id;
        client.disconnect(); // "client namespace disconnect" is not a recoverable reason
        proxy.forwardTo(B.port);
        client.connect();
        await once(client, "connect", 5000);
        expect(client.recovered).to.be(false);
        expect(client.id).not.to.be(id);
        expect(await client.emitWithAck("whoami")).to.be("B");
      });
    });
  },
);
