"use strict";

// connectionStateRecovery.persistWhileConnected with @socket.io/redis-streams-adapter and a
// real redis-server: a node killed with SIGKILL (its own process) stored nothing at
// disconnect, yet its clients recover on another node with their id, rooms, data and every
// packet broadcast while they were away, because each session was stored while connected.
// Without the option the same client comes back as a new session (the baseline).
const expect = require("expect.js");
const path = require("path");
const { createClient } = require("redis");
const { io: ioc } = require("socket.io-client");
const impl = require("../support/impl");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { startNode, waitForCluster, redisStreamsBackend } = require("./support/cluster");
const { startTcpProxy } = require("./support/tcp-proxy");
const { startProcess } = require("./support/processes");
const { once, waitFor, record } = require("./support/peers");

const OFFSET = /^\d+-\d+$/;
function withoutOffset(args) {
  expect(args[args.length - 1]).to.match(OFFSET);
  return args.slice(0, -1);
}

describe("connectionStateRecovery.persistWhileConnected (redis-streams, a node killed with SIGKILL)", function () {
  this.timeout(15000);
  if (impl.REFERENCE) return; // an option of this package only

  let redis, A, B, proxy, clients;

  before(async () => {
    if (!hasRedisServer()) throw missingRedis();
    redis = await startRedis();
  });

  after(async () => {
    if (redis) await redis.stop();
  });

  async function redisDo(fn) {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.quit();
    }
  }

  beforeEach(async () => {
    clients = [];
    await redisDo((c) => c.flushAll());
  });

  afterEach(async () => {
    for (const client of clients) client.disconnect();
    if (proxy) await proxy.close();
    if (A) await A.stop();
    if (B) await B.close();
    if (B) expect(B.adapterErrors).to.eql([]);
    A = B = proxy = null;
  });

  const recovery = (extra) => ({ connectionStateRecovery: { maxDisconnectionDuration: 60000, ...extra } });

  function client(url, name, opts = {}) {
    const c = ioc(url, {
      forceNew: true,
      transports: ["websocket"],
      auth: { name },
      reconnectionDelay: 50,
      reconnectionDelayMax: 50,
      ...opts,
    });
    clients.push(c);
    return c;
  }

  // node A in its own process, node B in this one, a client on A through the proxy, in
  // "welcome" (joined by the connection listener) and "r" (joined afterwards), with one
  // broadcast received (the offset it will present)
  async function clientOnKillableA(persist) {
    A = await startProcess(
      process.execPath,
      [path.join(__dirname, "support/crash-node.js"), "A", redis.url, persist ? "1" : "0"],
      { ready: /ready \d+/, timeoutMs: 10000 },
    );
    A.port = Number(/ready (\d+)/.exec(A.output())[1]);
    B = await startNode("B", redisStreamsBackend(redis.url), {
      serverOptions: recovery({ persistWhileConnected: persist }),
      setup: (socket) => socket.on("whoami", (cb) => cb(socket.data.node)),
    });
    await waitForCluster([B], ["/"], 3000, 2);
    proxy = await startTcpProxy(A.port);
    const c = client(proxy.url, "mover");
    await once(c, "connect", 5000);
    expect(await c.emitWithAck("whoami")).to.be("A");
    await c.emitWithAck("join", "r");
    B.io.emit("before", 0);
    withoutOffset(await once(c, "before"));
    return c;
  }

  async function killA(c) {
    const disconnected = once(c, "disconnect", 5000);
    proxy.refuse();
    A.child.kill("SIGKILL");
    await A.exited;
    expect((await disconnected)[0]).to.be("transport close");
    // sent while the client is away
    B.io.to("r").emit("missed", 1);
    B.io.to("welcome").emit("missed", 2);
    B.io.emit("missed", 3);
    B.io.except("r").emit("not-for-r", 4);
    proxy.forwardTo(B.port);
    await once(c, "connect", 5000);
  }

  it("the client of a killed node recovers on another node: id, rooms, data, every missed packet", async () => {
    const c = await clientOnKillableA(true);
    const rec = record(c);
    const id = c.id;
    await killA(c);

    expect(c.recovered).to.be(true);
    expect(c.id).to.be(id);
    expect(await c.emitWithAck("whoami")).to.be("A"); // socket.data came back with the session
    const onB = B.io.of("/").sockets.get(id);
    expect([...onB.rooms].sort()).to.eql([id, "r", "welcome"].sort());
    await waitFor(() => rec.args("missed").length === 3, 3000, "the three missed packets");
    expect(rec.args("missed").map(withoutOffset)).to.eql([[1], [2], [3]]);
    expect(rec.args("not-for-r")).to.eql([]);
    // a member of "r" on B from now on
    B.io.to("r").emit("after", 5);
    expect(withoutOffset(await once(c, "after"))).to.eql([5]);
  });

  it("without the option, the same client comes back as a new session (the baseline)", async () => {
    const c = await clientOnKillableA(false);
    const rec = record(c);
    const id = c.id;
    await killA(c);
    expect(c.recovered).to.be(false);
    expect(c.id).not.to.be(id);
    expect(rec.args("missed")).to.eql([]);
  });

  describe("on a live node", () => {
    const persisted = [];
    beforeEach(async () => {
      persisted.length = 0;
      B = await startNode("B", redisStreamsBackend(redis.url), {
        serverOptions: recovery({ persistWhileConnected: true }),
        setup: (socket) =>
          socket.on("many", (rooms, cb) => {
            for (const room of rooms) socket.join(room);
            socket.leave(rooms[0]);
            socket.data.more = true; // stored with the joins of the same tick
            cb();
          }),
      });
      await waitForCluster([B]);
      const adapter = B.io.of("/").adapter;
      const persist = adapter.persistSession;
      adapter.persistSession = function (session) {
        persisted.push(session);
        return persist.call(this, session);
      };
      proxy = await startTcpProxy(B.port);
    });

    async function stored(pid) {
      const raw = await redisDo((c) => c.get("sio:session:" + pid));
      return raw && require("@msgpack/msgpack").decode(Buffer.from(raw, "base64"));
    }

    it("stores a session once connected and once per tick of joins and leaves, with its rooms and data", async () => {
      const c = client(proxy.url, "s");
      await once(c, "connect");
      await waitFor(() => persisted.length === 1, 3000, "the store at connection");
      expect(persisted[0].rooms).to.eql([c.id]);
      await c.emitWithAck("many", ["x", "y", "z"]);
      await waitFor(() => persisted.length === 2, 3000, "one store for the three joins and the leave");
      const session = await stored(c._pid);
      expect(session.sid).to.be(c.id);
      expect(session.rooms.sort()).to.eql([c.id, "y", "z"].sort());
      expect(session.data).to.eql({ name: "s", node: "B", more: true });
      const pttl = await redisDo((r) => r.pTTL("sio:session:" + c._pid));
      expect(pttl).to.be.within(1, 60000);
    });

    it("a client back on the same node after a cut recovers as without the option", async () => {
      const c = client(proxy.url, "same");
      await once(c, "connect");
      await c.emitWithAck("join", "r");
      B.io.emit("before", 0);
      await once(c, "before");
      await waitFor(() => persisted.length === 2, 3000, "the stores");
      const rec = record(c);
      const id = c.id;
      const disconnected = once(c, "disconnect");
      proxy.refuse();
      proxy.cut();
      await disconnected;
      B.io.to("r").emit("missed", 1);
      proxy.forwardTo(B.port);
      await once(c, "connect", 5000);
      expect(c.recovered).to.be(true);
      expect(c.id).to.be(id);
      await waitFor(() => rec.args("missed").length === 1, 3000, "the missed packet");
      // the restored socket is stored again: it would survive a crash of this node too
      await waitFor(async () => (await stored(c._pid)) !== null, 3000, "the restored session stored");
    });

    it("a client that disconnected on purpose does not recover its stored session", async () => {
      const c = client(proxy.url, "leaver");
      await once(c, "connect");
      B.io.emit("before", 0);
      await once(c, "before");
      await waitFor(async () => (await stored(c._pid)) !== null, 3000, "the session stored");
      const id = c.id;
      c.disconnect();
      await waitFor(async () => (await stored(c._pid)).closed === true, 3000, "the marker stored");
      c.connect();
      await once(c, "connect");
      expect(c.recovered).to.be(false);
      expect(c.id).not.to.be(id);
    });
  });

  it("refreshes the stored session so that it outlives maxDisconnectionDuration while connected", async () => {
    B = await startNode("B", redisStreamsBackend(redis.url), {
      serverOptions: {
        connectionStateRecovery: { maxDisconnectionDuration: 600, persistWhileConnected: true },
      },
    });
    await waitForCluster([B]);
    let stores = 0;
    const adapter = B.io.of("/").adapter;
    const persist = adapter.persistSession;
    adapter.persistSession = function (session) {
      stores++;
      return persist.call(this, session);
    };
    const c = client(B.url, "long");
    await once(c, "connect");
    const connectedAt = Date.now();
    // 1 store at connection, then one every 300 ms
    await waitFor(() => stores >= 5, 5000, "four refreshes");
    expect(Date.now() - connectedAt).to.be.greaterThan(600);
    const pttl = await redisDo((r) => r.pTTL("sio:session:" + c._pid));
    expect(pttl).to.be.within(1, 600);
  });
});
