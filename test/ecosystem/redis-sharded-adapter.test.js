"use strict";

// The sharded adapter of @socket.io/redis-adapter (createShardedAdapter: Redis 7
// sharded pub/sub, SPUBLISH/SSUBSCRIBE) with our server as with the reference, in
// its "static" mode (one channel per namespace) and its "dynamic" mode (one more
// channel per public room): two servers on one real redis-server.
const expect = require("expect.js");
const impl = require("../support/impl");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { startNode, waitForCluster, redisBackend } = require("./support/cluster");
const { once, waitFor, record } = require("./support/peers");

describe(
  "@socket.io/redis-adapter, sharded, on Redis 7" + (impl.REFERENCE ? " (reference)" : ""),
  function () {
    this.timeout(10000);

    let redis;

    before(async () => {
      if (!hasRedisServer()) throw missingRedis();
      redis = await startRedis();
      if (redis.version[0] < 7)
        throw new Error("sharded pub/sub needs Redis 7, found " + redis.version.join("."));
    });

    after(async () => {
      if (redis) await redis.stop();
    });

    for (const subscriptionMode of ["static", "dynamic"]) {
      describe("subscriptionMode: " + subscriptionMode, () => {
        let A, B, a1, a2, b1, b2, rec;

        beforeEach(async () => {
          const backend = redisBackend(redis.url, { sharded: true, adapterOptions: { subscriptionMode } });
          A = await startNode("A", backend, { namespaces: ["/", "/custom"] });
          B = await startNode("B", backend, { namespaces: ["/", "/custom"], viaMethod: true });
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

        // "end" to everyone from `node`: one publisher's messages keep their order
        async function flush(node) {
          node.io.emit("end");
          await waitFor(
            () => Object.values(rec).every((r) => r.events().includes("end")),
            3000,
            "'end' everywhere",
          );
        }

        it("broadcasts to all, to rooms and except rooms reach the right clients of both nodes", async () => {
          await Promise.all([a1.emitWithAck("join", "r"), b2.emitWithAck("join", "r")]);
          A.io.emit("all", Buffer.from([4, 5]));
          A.io.to("r").emit("room", 1);
          A.io.except("r").emit("not-room", 2);
          b1.emit("broadcast", "from b1");
          await waitFor(() => [rec.a1, rec.a2, rec.b2].every((r) => r.events().includes("broadcasted")));
          await flush(A);
          for (const r of Object.values(rec))
            expect(Buffer.from(r.args("all")[0][0])).to.eql(Buffer.from([4, 5]));
          // A's own packets keep their order; b1's broadcast comes from B, in between somewhere
          const fromA = (r) => r.events().filter((event) => event !== "broadcasted");
          expect(fromA(rec.a1)).to.eql(["all", "room", "end"]);
          expect(fromA(rec.b2)).to.eql(["all", "room", "end"]);
          expect(fromA(rec.a2)).to.eql(["all", "not-room", "end"]);
          expect(fromA(rec.b1)).to.eql(["all", "not-room", "end"]);
          for (const r of [rec.a1, rec.a2, rec.b2]) expect(r.args("broadcasted")).to.eql([["from b1"]]);
          expect(rec.b1.args("broadcasted")).to.eql([]);
        });

        it("fetchSockets, socketsJoin, disconnectSockets and serverSideEmitWithAck span both nodes", async () => {
          const names = (sockets) => sockets.map((s) => s.data.name).sort();
          expect(names(await A.io.fetchSockets())).to.eql(["a1", "a2", "b1", "b2"]);

          A.io.in(b1.id).socketsJoin("vip");
          await waitFor(() => B.io.of("/").sockets.get(b1.id).rooms.has("vip"), 3000, "b1 to join 'vip'");
          expect(names(await B.io.in("vip").fetchSockets())).to.eql(["b1"]);
          A.io.to("vip").emit("vip-only");
          await flush(A);
          expect(rec.b1.events()).to.eql(["vip-only", "end"]);
          expect(rec.a1.events()).to.eql(["end"]);

          B.io.on("double", (n, cb) => cb(n * 2));
          expect(await A.io.serverSideEmitWithAck("double", 21)).to.eql([42]);

          const gone = once(b1, "disconnect");
          A.io.in("vip").disconnectSockets();
          expect((await gone)[0]).to.be("io server disconnect");
          expect(b2.connected).to.be(true);
        });

        it("a custom namespace has its own channel", async () => {
          const [ca, cb] = await Promise.all([A.connect("ca", "/custom"), B.connect("cb", "/custom")]);
          const received = Promise.all([once(ca, "in-custom"), once(cb, "in-custom")]);
          B.io.of("/custom").emit("in-custom", 1);
          expect(await received).to.eql([[1], [1]]);
          await flush(B);
          for (const r of Object.values(rec)) expect(r.events()).to.eql(["end"]);
        });
      });
    }
  },
);
