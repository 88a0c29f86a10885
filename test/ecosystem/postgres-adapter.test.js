"use strict";

// The published @socket.io/postgres-adapter (0.5.x, on `pg`) with our server as with
// the reference: two servers share a real PostgreSQL started by the test (LISTEN/NOTIFY,
// and the attachments table for binary payloads and those over NOTIFY's 8000 bytes).
const expect = require("expect.js");
const { Pool } = require("pg");
const impl = require("../support/impl");
const { startPostgres } = require("./support/postgres-server");
const { startNode, waitForCluster, postgresBackend } = require("./support/cluster");
const { once, waitFor, record } = require("./support/peers");

describe(
  "@socket.io/postgres-adapter with a real PostgreSQL" + (impl.REFERENCE ? " (reference)" : ""),
  function () {
    this.timeout(10000);

    let pg, A, B, a1, a2, b1, b2, rec;

    before(async function () {
      this.timeout(30000); // initdb
      pg = await startPostgres();
      const pool = new Pool(pg.config);
      try {
        // the table the adapter's README has the user create
        await pool.query(`
        CREATE TABLE IF NOT EXISTS socket_io_attachments (
          id          bigserial UNIQUE,
          created_at  timestamptz DEFAULT NOW(),
          payload     bytea
        );
      `);
      } finally {
        await pool.end();
      }
    });

    after(async () => {
      if (pg) await pg.stop();
    });

    beforeEach(async () => {
      A = await startNode("A", postgresBackend(pg.config));
      B = await startNode("B", postgresBackend(pg.config), { viaMethod: true });
      await waitForCluster([A, B]);
      [a1, a2, b1, b2] = await Promise.all([
        A.connect("a1"),
        A.connect("a2", "/", { transports: ["websocket"] }),
        B.connect("b1"),
        B.connect("b2", "/", { transports: ["websocket"] }),
      ]);
      rec = { a1: record(a1), a2: record(a2), b1: record(b1), b2: record(b2) };
    });

    afterEach(async () => {
      await Promise.all([A.close(), B.close()]);
      for (const node of [A, B]) expect(node.adapterErrors).to.eql([]);
    });

    // The pool sends one node's notifications over several connections, so their order
    // is not kept; but a broadcast is one notification per node, delivered to all the
    // node's matching sockets at once: once the expected events are there, an event a
    // socket should not get would be there too.
    const sorted = (r) => r.events().slice().sort();
    const settled = (expected) =>
      waitFor(() =>
        Object.entries(expected).every(([name, events]) => rec[name].events().length >= events.length),
      );

    it("broadcasts reach the clients of both nodes: rooms, binary and large payloads", async () => {
      await Promise.all([a1.emitWithAck("join", "r"), b2.emitWithAck("join", "r")]);
      const large = "x".repeat(20000);
      A.io.emit("text", "hello");
      A.io.to("r").emit("room", 1);
      A.io.emit("binary", Buffer.from([1, 2, 3]));
      A.io.except("r").emit("large", large);
      const expected = {
        a1: ["binary", "room", "text"],
        b2: ["binary", "room", "text"],
        a2: ["binary", "large", "text"],
        b1: ["binary", "large", "text"],
      };
      await settled(expected);
      for (const [name, events] of Object.entries(expected)) expect(sorted(rec[name])).to.eql(events);
      for (const r of Object.values(rec)) {
        expect(r.args("text")).to.eql([["hello"]]);
        expect(Buffer.from(r.args("binary")[0][0])).to.eql(Buffer.from([1, 2, 3]));
      }
      expect(rec.b1.args("large")).to.eql([[large]]);
    });

    it("fetchSockets, socketsJoin, disconnectSockets and serverSideEmitWithAck span both nodes", async () => {
      const names = (sockets) => sockets.map((s) => s.data.name).sort();
      const sockets = await B.io.fetchSockets();
      expect(names(sockets)).to.eql(["a1", "a2", "b1", "b2"]);
      const remote = sockets.find((s) => s.data.name === "a1");
      expect(remote.data).to.eql({ name: "a1", node: "A" });
      expect(remote.handshake.auth).to.eql({ name: "a1" });

      B.io.in(a2.id).socketsJoin("vip");
      await waitFor(() => A.io.of("/").sockets.get(a2.id).rooms.has("vip"), 3000, "a2 to join 'vip'");
      B.io.to("vip").emit("vip-only");
      await settled({ a2: ["vip-only"] });
      expect(rec.a2.events()).to.eql(["vip-only"]);
      expect(rec.a1.events()).to.eql([]);

      A.io.on("double", (n, cb) => cb(n * 2));
      expect(await B.io.serverSideEmitWithAck("double", 21)).to.eql([42]);

      const gone = once(a2, "disconnect");
      B.io.in("vip").disconnectSockets();
      expect((await gone)[0]).to.be("io server disconnect");
      expect(a1.connected && b1.connected && b2.connected).to.be(true);
    });

    it("a broadcast with acks collects the answers of the clients of both nodes", async () => {
      for (const [name, client] of Object.entries({ a1, a2, b1, b2 }))
        client.on("question", (cb) => cb(name));
      const answers = await B.io.timeout(3000).emitWithAck("question");
      expect(answers.sort()).to.eql(["a1", "a2", "b1", "b2"]);
    });

    // The adapter's limit, the same with the reference: 0.5.x has no session store
    // (persistSession and restoreSession are the in-memory base's no-ops), so with
    // connection state recovery on, a client whose node goes away starts afresh on another
    // node and misses what was broadcast meanwhile (README, "Deploying without losing messages").
    it("does not recover a session on another node (0.5.x stores none)", async () => {
      const recovery = { serverOptions: { connectionStateRecovery: {} } };
      const C = await startNode("C", postgresBackend(pg.config), recovery);
      const D = await startNode("D", postgresBackend(pg.config), recovery);
      try {
        await waitForCluster([A, B, C, D]);
        const client = await C.connect("c1", "/", {
          transports: ["websocket"],
          reconnection: true,
          reconnectionDelay: 50,
          randomizationFactor: 0,
        });
        const got = record(client);
        C.io.emit("before", 1);
        await waitFor(() => got.events().includes("before"));
        // the client's next handshake goes to D, as a load balancer would send it
        client.io.on("reconnect_attempt", () => {
          client.io.uri = D.url;
          client.io.opts.port = String(D.port);
        });
        const firstId = client.id;
        const dropped = once(client, "disconnect");
        client.io.engine.close();
        await dropped;
        D.io.emit("missed", 2);
        await once(client, "connect");
        expect(client.recovered).to.be(false);
        expect(client.id).not.to.be(firstId);
        D.io.emit("after", 3);
        await waitFor(() => got.events().includes("after"));
        expect(got.events().filter((e) => e !== "before")).to.eql(["after"]);
      } finally {
        await Promise.all([C.close(), D.close()]);
      }
    });
  },
);
