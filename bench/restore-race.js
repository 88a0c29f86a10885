"use strict";

// Connection state recovery under churn on @socket.io/redis-streams-adapter, ours against
// socket.io 4.8: whether the packets lost or duplicated at a recovery come from the server
// or from the adapter. Two node processes of a target share a real redis-server; --clients
// socket.io-client sockets (websocket, each in one of --rooms rooms) get sequence-numbered
// broadcasts (--rate a second: one to a room per tick, one to all every --rooms ticks) from
// this process; for --duration seconds the nodes close --churn Engine.IO connections a
// second between them, picked at random ("forced close"), and each client reconnects to the
// other node (after 100 ms ± 50 %), where its session is restored. Reported per target:
// the recoveries, and the packets lost (at a reconnection or not), duplicated (both copies
// after the same recovery: the adapter's replay and its live delivery; or across it) and
// out of order, with the rate per 1,000 recoveries; then each node's own count of the
// sessions it restored, could not restore (and the adapter's reason) and closed.
//
//   node bench/restore-race.js [--targets=ours,reference] [--clients=200] [--rooms=20]
//                              [--rate=200] [--churn=100] [--duration=30] [--json]

const path = require("path");
const args = require("./lib/args");
const support = path.join(__dirname, "..", "test", "ecosystem", "support");
const { startRedis, hasRedisServer, missingRedis } = require(path.join(support, "redis-server"));
const { freePort, startProcess } = require(path.join(support, "processes"));
const { recordSequences, newCounts, countSequence } = require(path.join(support, "sequences"));

const settings = {
  targets: args.list("targets", ["ours", "reference"]),
  clients: args.int("clients", 200),
  rooms: args.int("rooms", 20),
  rate: args.int("rate", 200),
  churn: args.int("churn", 100),
  duration: args.int("duration", 30),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await sleep(50);
  return predicate();
}

async function runTarget(target) {
  const { io: ioc } = require("socket.io-client");
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  // the same publisher for both targets: only the nodes differ
  const { Server } = require("socket.io-reference");
  const redis = await startRedis();
  const env = { ...process.env, REFERENCE: target === "reference" ? "1" : "0" };
  const nodes = [];
  const clients = [];
  let publisherRedis, publisher;
  try {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const proc = await startProcess(
        process.execPath,
        [
          path.join(__dirname, "lib", "restore-race-node.js"),
          String(port),
          redis.url,
          String(settings.churn / 2),
          String(settings.duration * 1000),
        ],
        { ready: /^ready$/m, timeoutMs: 20000, env },
      );
      nodes.push({ port, proc });
    }
    publisherRedis = createClient({ url: redis.url });
    await publisherRedis.connect();
    publisher = new Server({ adapter: createAdapter(publisherRedis, { blockTimeInMs: 200 }) });

    const received = [];
    for (let i = 0; i < settings.clients; i++) {
      const room = "r" + (i % settings.rooms);
      let node = i % 2;
      const client = ioc(`http://127.0.0.1:${nodes[node].port}`, {
        forceNew: true,
        transports: ["websocket"],
        query: { room },
        reconnectionDelay: 100,
        reconnectionDelayMax: 200,
      });
      // a load balancer sending the reconnection to the other node
      client.io.on("reconnect_attempt", () => {
        node = 1 - node;
        client.io.uri = `http://127.0.0.1:${nodes[node].port}`;
        client.io.opts.port = String(nodes[node].port);
      });
      received.push({ room, rec: recordSequences(client, ["room", "all"]) });
      clients.push(client);
    }
    if (!(await until(() => clients.every((c) => c.connected), 30000)))
      throw new Error("clients not connected");

    const sent = { room: {}, all: 0 };
    let tick = 0;
    const timer = setInterval(() => {
      const room = "r" + (tick % settings.rooms);
      sent.room[room] = (sent.room[room] || 0) + 1;
      publisher.to(room).emit("room", sent.room[room]);
      if (tick % settings.rooms === settings.rooms - 1) publisher.emit("all", ++sent.all);
      tick++;
    }, 1000 / settings.rate);
    for (const node of nodes) node.proc.child.kill("SIGUSR2");
    await sleep(settings.duration * 1000 + 1000);
    clearInterval(timer);
    await until(
      () =>
        clients.every((c) => c.connected) &&
        received.every(
          (r) => r.rec.lists.room.includes(sent.room[r.room]) && r.rec.lists.all.includes(sent.all),
        ),
      15000,
    );

    const counts = newCounts();
    for (const r of received) {
      countSequence(r.rec.lists.room, sent.room[r.room], counts);
      countSequence(r.rec.lists.all, sent.all, counts);
    }
    const recovered = received.reduce((n, r) => n + r.rec.recovered, 0);
    const reconnections = received.reduce((n, r) => n + r.rec.reconnects, 0);
    for (const client of clients) client.disconnect();
    const stats = [];
    for (const node of nodes) {
      await node.proc.stop();
      const m = /^stats (.*)$/m.exec(node.proc.output());
      stats.push(m ? JSON.parse(m[1]) : null);
    }
    return { target, reconnections, recovered, ...counts, nodes: stats };
  } finally {
    for (const client of clients) client.disconnect();
    for (const node of nodes) await node.proc.stop();
    if (publisher) await Promise.resolve(publisher.close()).catch(() => {});
    if (publisherRedis) await publisherRedis.quit().catch(() => {});
    await redis.stop();
  }
}

async function main() {
  if (!hasRedisServer()) throw missingRedis();
  console.log(
    `restore race: ${settings.clients} clients, ${settings.rooms} rooms, ${settings.rate} broadcasts/s, ` +
      `${settings.churn} forced closes/s for ${settings.duration} s`,
  );
  const rows = [];
  for (const target of settings.targets) rows.push(await runTarget(target));
  const per1000 = (n, row) => ((1000 * n) / Math.max(1, row.recovered)).toFixed(2);
  const header = [
    "target",
    "recovered / reconnections",
    "lost at a recovery (‰ of recoveries)",
    "lost at a new session",
    "lost elsewhere",
    "duplicated after a recovery (‰)",
    "duplicated across",
    "out of order",
  ];
  console.log("| " + header.join(" | ") + " |");
  console.log("|" + header.map(() => " --- |").join(""));
  for (const row of rows) {
    const cells = [
      row.target,
      `${row.recovered} / ${row.reconnections}`,
      `${row.lostAtRecovery} (${per1000(row.lostAtRecovery, row)})`,
      row.lostAtNewSession,
      row.lost - row.lostAtRecovery - row.lostAtNewSession,
      `${row.duplicatedAfterRestore} (${per1000(row.duplicatedAfterRestore, row)})`,
      row.duplicatedAcrossReconnection,
      row.outOfOrder,
    ];
    console.log("| " + cells.join(" | ") + " |");
  }
  for (const row of rows) console.log(`${row.target} nodes: ${JSON.stringify(row.nodes)}`);
  if (args.str("json") !== undefined || process.argv.includes("--json")) console.log(JSON.stringify(rows));
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
