"use strict";

// @socket.io/redis-emitter (5.x) in a separate process, without any Socket.IO server,
// publishes to Redis; two of our servers (or the reference's) with the
// @socket.io/redis-adapter deliver its packets and act on its commands, as they do for
// the reference: broadcasts with rooms and binary payloads, other namespaces,
// socketsJoin/socketsLeave/disconnectSockets and serverSideEmit.
const path = require("path");
const expect = require("expect.js");
const impl = require("../support/impl");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { startNode, waitForCluster, redisBackend } = require("./support/cluster");
const { startProcess } = require("./support/processes");
const { once, waitFor, record } = require("./support/peers");

describe(
  "@socket.io/redis-emitter from another process" + (impl.REFERENCE ? " (reference)" : ""),
  function () {
    this.timeout(10000);

    let redis, emitter, nextId;
    let A, B, a1, a2, b1, b2, rec;

    before(async () => {
      if (!hasRedisServer()) throw missingRedis();
      redis = await startRedis();
      emitter = await startProcess(
        process.execPath,
        [path.join(__dirname, "support", "emitter-process.js"), redis.url],
        {
          ready: /^ready$/m,
          stdin: true,
        },
      );
      nextId = 1;
    });

    after(async () => {
      if (emitter) {
        emitter.child.stdin.end();
        await emitter.stop();
      }
      if (redis) await redis.stop();
    });

    beforeEach(async () => {
      A = await startNode("A", redisBackend(redis.url), { namespaces: ["/", "/custom"] });
      B = await startNode("B", redisBackend(redis.url), { namespaces: ["/", "/custom"] });
      await waitForCluster([A, B], ["/", "/custom"]);
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

    // Runs one emitter command in the other process; resolves once Redis has it
    async function emit(command) {
      const id = nextId++;
      emitter.child.stdin.write(JSON.stringify({ id, ...command }) + "\n");
      await waitFor(
        () => emitter.output().includes("done " + id + "\n"),
        3000,
        "the emitter's command " + id,
      );
    }

    // Everything published before "end" has been delivered once every client has "end"
    async function flush() {
      await emit({ op: "emit", args: ["end"] });
      await waitFor(
        () => Object.values(rec).every((r) => r.events().includes("end")),
        3000,
        "'end' everywhere",
      );
    }

    it("emit reaches the clients of both nodes, with binary payloads, rooms and exceptions", async () => {
      await Promise.all([
        a1.emitWithAck("join", "r"),
        b2.emitWithAck("join", "r"),
        b1.emitWithAck("join", "x"),
      ]);
      await emit({
        op: "emit",
        args: ["all", { $bin: Buffer.from([1, 2, 3]).toString("base64") }, { n: 1 }],
      });
      await emit({ op: "emit", to: ["r"], args: ["room", 1] });
      await emit({ op: "emit", to: ["r", "x"], except: ["x"], args: ["r-not-x", 2] });
      await flush();

      for (const r of Object.values(rec)) {
        const [bin, obj] = r.args("all")[0];
        expect(Buffer.from(bin)).to.eql(Buffer.from([1, 2, 3]));
        expect(obj).to.eql({ n: 1 });
      }
      expect(rec.a1.events()).to.eql(["all", "room", "r-not-x", "end"]);
      expect(rec.b2.events()).to.eql(["all", "room", "r-not-x", "end"]);
      expect(rec.a2.events()).to.eql(["all", "end"]);
      expect(rec.b1.events()).to.eql(["all", "end"]);
    });

    it("of('/custom') reaches that namespace only", async () => {
      const [ca, cb] = await Promise.all([A.connect("ca", "/custom"), B.connect("cb", "/custom")]);
      const received = Promise.all([once(ca, "custom"), once(cb, "custom")]);
      await emit({ nsp: "/custom", op: "emit", args: ["custom", "x"] });
      expect(await received).to.eql([["x"], ["x"]]);
      await flush();
      for (const r of Object.values(rec)) expect(r.events()).to.eql(["end"]);
    });

    it("socketsJoin, socketsLeave and disconnectSockets act on the sockets of both nodes", async () => {
      await emit({ op: "socketsJoin", to: [a2.id, b1.id], args: [["vip"]] });
      await waitFor(
        () =>
          A.io.of("/").sockets.get(a2.id).rooms.has("vip") &&
          B.io.of("/").sockets.get(b1.id).rooms.has("vip"),
        3000,
        "a2 and b1 to join 'vip'",
      );
      await emit({ op: "emit", to: ["vip"], args: ["vip-only"] });
      await flush();
      expect(rec.a2.events()).to.eql(["vip-only", "end"]);
      expect(rec.b1.events()).to.eql(["vip-only", "end"]);
      expect(rec.a1.events()).to.eql(["end"]);

      await emit({ op: "socketsLeave", to: [b1.id], args: ["vip"] });
      await waitFor(() => !B.io.of("/").sockets.get(b1.id).rooms.has("vip"), 3000, "b1 to leave 'vip'");
      expect(A.io.of("/").sockets.get(a2.id).rooms.has("vip")).to.be(true);

      const gone = once(a2, "disconnect");
      await emit({ op: "disconnectSockets", to: ["vip"], args: [] });
      expect((await gone)[0]).to.be("io server disconnect");
      expect(a1.connected && b1.connected && b2.connected).to.be(true);
    });

    it("serverSideEmit reaches every server", async () => {
      const received = Promise.all([once(A.io, "hello-servers"), once(B.io, "hello-servers")]);
      await emit({ op: "serverSideEmit", args: ["hello-servers", "from the emitter", { n: 2 }] });
      expect(await received).to.eql([
        ["from the emitter", { n: 2 }],
        ["from the emitter", { n: 2 }],
      ]);
    });
  },
);
