"use strict";

// A rolling restart under load, with the real parts: three node processes on the
// @socket.io/redis-streams-adapter and a real redis-server, behind nginx round-robin with
// `proxy_next_upstream error timeout http_503`, socket.io-client 4.8 with recovery, and
// sequence-numbered broadcasts to rooms and to all while each node in turn gets SIGTERM
// (io.drain(), then exit) and is started again. Counts lost, duplicated and out-of-order
// packets per client, recovered reconnections, the nodes' exit codes and times, and the
// handshake rate the other nodes took. The CI size is small; ROLLING_CLIENTS,
// ROLLING_ROOMS, ROLLING_RATE (broadcasts a second), ROLLING_DRAIN_RATE, ROLLING_ROUNDS
// (restarts of every node) scale it.
// ROLLING_MODE=close (and REFERENCE=1, which has no drain) runs the nodes with io.close() on
// SIGTERM instead: the baseline, whose figures are printed, not asserted.
const path = require("path");
const expect = require("expect.js");
const { createClient } = require("redis");
const { io: ioc } = require("socket.io-client");
const impl = require("../support/impl");
const { until, sleep } = require("../support/wait");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { startNginx, nginxBinary, missingNginx } = require("./support/nginx");
const { freePort, startProcess } = require("./support/processes");
const { RECONNECTED, newSequenceCounts, countSequences } = require("./support/sequences");

const CLIENTS = Number(process.env.ROLLING_CLIENTS || 50);
const ROOMS = Number(process.env.ROLLING_ROOMS || 10);
const BROADCASTS_PER_SECOND = Number(process.env.ROLLING_RATE || 50);
const DRAIN_RATE = Number(process.env.ROLLING_DRAIN_RATE || 25);
// how many times every node is restarted in turn
const ROUNDS = Number(process.env.ROLLING_ROUNDS || 1);
const DRAIN_DEADLINE = 10000;
const NODES = ["A", "B", "C"];
// between two restarts, the load runs on all three nodes for a while
const SETTLE_MS = 1000;

const { Server } = impl.sio();
const MODE = impl.REFERENCE ? "close" : process.env.ROLLING_MODE || "drain";

describe(`rolling restart behind nginx, redis-streams adapter (${MODE}${impl.REFERENCE ? ", reference" : ""})`, function () {
  this.timeout(120000);

  let redis, nginx, broadcaster, broadcasterRedis;
  const nodes = {};
  const clients = [];

  function startNode(name) {
    return startProcess(
      process.execPath,
      [
        path.join(__dirname, "support", "rolling-node.js"),
        name,
        String(nodes[name].port),
        redis.url,
        String(DRAIN_RATE),
        String(DRAIN_DEADLINE),
      ],
      { ready: /^ready$/m, timeoutMs: 20000, env: { ...process.env, ROLLING_MODE: MODE } },
    );
  }

  before(async () => {
    if (!hasRedisServer()) throw missingRedis();
    if (!nginxBinary()) throw missingNginx();
    redis = await startRedis();
    broadcasterRedis = createClient({ url: redis.url });
    await broadcasterRedis.connect();
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    // no http server: it only publishes to the stream, as another node would
    broadcaster = new Server({
      adapter: createAdapter(broadcasterRedis, { blockTimeInMs: 200, heartbeatInterval: 500 }),
    });
    for (const name of NODES) nodes[name] = { port: await freePort(), runs: [] };
    await Promise.all(
      NODES.map(async (name) => {
        nodes[name].proc = await startNode(name);
      }),
    );
    nginx = await startNginx(
      [
        {
          name: "rolling",
          nodes: NODES.map((name) => nodes[name].port),
          // never marked down: a node refusing a handshake (503) or down passes it to the next;
          // a peer nginx marks down comes back only once a request to it *completes*, and a
          // WebSocket request completes when its connection ends (one handshake per fail_timeout)
          serverParams: "max_fails=0",
          location: "proxy_next_upstream error timeout http_503;",
        },
      ],
      { workerConnections: 2 * CLIENTS + 256 },
    );
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    for (const name of NODES) if (nodes[name] && nodes[name].proc) await nodes[name].proc.stop();
    if (nginx) await nginx.stop();
    // the reference's close() rejects on a server without an engine: its adapter is closed first
    if (broadcaster) await Promise.resolve(broadcaster.close()).catch(() => {});
    if (broadcasterRedis) await broadcasterRedis.quit().catch(() => {});
    if (redis) await redis.stop();
  });

  it("loses and reorders nothing while every node drains and restarts; duplicates come only from the adapter's restore race", async () => {
    const url = `http://127.0.0.1:${nginx.ports.rolling}`;
    const stats = [];
    for (let i = 0; i < CLIENTS; i++) {
      const room = "r" + (i % ROOMS);
      const client = ioc(url, {
        forceNew: true,
        transports: ["websocket"],
        query: { room },
        reconnectionDelay: 500,
        reconnectionDelayMax: 2000,
      });
      const s = { room, seqs: { room: [], all: [] }, reconnects: 0, recovered: 0 };
      client.on("room", (seq) => s.seqs.room.push(seq));
      client.on("all", (seq) => s.seqs.all.push(seq));
      client.on("connect", () => {
        if (client.recovered) s.recovered++;
        // a reconnection, in the order of what the client received
        s.seqs.room.push(RECONNECTED);
        s.seqs.all.push(RECONNECTED);
      });
      client.io.on("reconnect", () => s.reconnects++);
      clients.push(client);
      stats.push(s);
    }
    await until(() => clients.every((c) => c.connected), "every client connected", 20000 + CLIENTS * 60);

    // the load: a broadcast to one room per tick, one to all every ROOMS ticks
    const sent = { room: {}, all: 0 };
    let tick = 0;
    const timer = setInterval(() => {
      const room = "r" + (tick % ROOMS);
      sent.room[room] = (sent.room[room] || 0) + 1;
      broadcaster.to(room).emit("room", sent.room[room]);
      if (tick % ROOMS === ROOMS - 1) broadcaster.emit("all", ++sent.all);
      tick++;
    }, 1000 / BROADCASTS_PER_SECOND);

    const exits = [];
    try {
      // the load runs for a while before the first restart
      await sleep(SETTLE_MS);
      for (const name of [].concat(...new Array(ROUNDS).fill(NODES))) {
        const node = nodes[name];
        const signalled = Date.now();
        node.proc.child.kill("SIGTERM");
        const code = await node.proc.exited;
        const exitMs = Date.now() - signalled;
        const output = node.proc.output();
        const drained = /drained \S+ (\{.*\})/.exec(output);
        exits.push({ name, code, exitMs, drain: drained && JSON.parse(drained[1]) });
        node.runs.push(output);
        node.proc = await startNode(name);
        await sleep(SETTLE_MS);
        exits[exits.length - 1].peakOthers = peakHandshakeRate(name, signalled);
      }
    } finally {
      clearInterval(timer);
    }
    await until(
      () => stats.every((s) => s.seqs.room.includes(sent.room[s.room]) && s.seqs.all.includes(sent.all)),
      "every client got the last broadcasts",
      15000,
    ).catch(() => {});

    const counts = newSequenceCounts();
    for (const s of stats) {
      countSequences(s.seqs.room, sent.room[s.room], counts);
      countSequences(s.seqs.all, sent.all, counts);
    }
    const reconnects = stats.reduce((n, s) => n + s.reconnects, 0);
    const recovered = stats.reduce((n, s) => n + s.recovered, 0);
    const report = {
      clients: CLIENTS,
      broadcasts: Object.values(sent.room).reduce((a, b) => a + b, 0) + sent.all,
      ...counts,
      reconnects,
      recovered,
      exits,
    };
    console.log("      rolling restart: %j", report);
    for (const exit of exits) expect(exit.code).to.be(0);
    if (MODE === "close") return;
    for (const exit of exits) {
      expect(exit.exitMs).to.be.lessThan(DRAIN_DEADLINE);
      expect(exit.drain.timedOut).to.be(false);
    }
    // Nothing lost, but for the same adapter race as the duplicates below (README): in about
    // one run out of a hundred, the one packet broadcast while a socket is restored is missed
    // right at its reconnection. Issue 16 keeps that open; a loss anywhere else fails.
    expect(counts.lost - counts.lostAtReconnection).to.be(0);
    expect(counts.lostAtReconnection).to.be.lessThan(2);
    expect(counts.outOfOrder).to.be(0);
    expect(counts.duplicatedAcrossReconnection).to.be(0);
    // The adapter's limit (README): restoreSession reads the stream to its end (XRANGE) while
    // the node's own reader (XREAD) may not have delivered the last entries yet; once the
    // socket is back in its rooms, those come again. Both copies follow the same
    // reconnection, and there are few.
    expect(counts.duplicatedAfterRestore).to.be.lessThan(Math.max(5, reconnects / 5));
    expect(recovered).to.be(reconnects);
    expect(reconnects).to.be.greaterThan(CLIENTS / 2);
  });

  // every "conn <ms> <recovered>" line the nodes printed so far, by node
  function connectionLog() {
    const log = [];
    for (const name of NODES) {
      const text = nodes[name].runs.join("") + nodes[name].proc.output();
      for (const m of text.matchAll(/^conn (\d+) (true|false)$/gm))
        log.push({ node: name, at: Number(m[1]) });
    }
    return log;
  }

  // the most handshakes a second (over sliding 1 s windows) the other nodes took after `since`
  function peakHandshakeRate(drained, since) {
    const times = connectionLog()
      .filter((c) => c.node !== drained && c.at >= since)
      .map((c) => c.at)
      .sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    return peak;
  }
});
