"use strict";

// The cost of connectionStateRecovery.persistWhileConnected on
// @socket.io/redis-streams-adapter and a real redis-server, our server only (an option of
// this package). Two figures:
// - at rest: --clients websocket sockets connected and idle for --window seconds with
//   maxDisconnectionDuration = --duration ms: the Redis SETs a second the refresh sends
//   (redis-server's own count, INFO commandstats), against the expected
//   clients / (duration / 2), and this process's CPU over the window;
// - a join: every socket joins --rounds rooms in turn (one join per socket per tick, so each
//   is one store), this process's CPU per join (user + system, the stores included: their
//   encoding and the write to Redis), with the option and without it, on the same adapter.
//
//   node bench/persist-while-connected.js [--clients=1000] [--duration=10000] [--window=10]
//                                         [--rounds=20] [--json]

const http = require("http");
const path = require("path");
const args = require("./lib/args");
const support = path.join(__dirname, "..", "test", "ecosystem", "support");
const { startRedis, hasRedisServer, missingRedis } = require(path.join(support, "redis-server"));

const settings = {
  clients: args.int("clients", 1000),
  duration: args.int("duration", 10000),
  window: args.int("window", 10),
  rounds: args.int("rounds", 20),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function setCalls(redis) {
  const info = await redis.info("commandstats");
  const match = /cmdstat_set:calls=(\d+)/.exec(info);
  return match ? Number(match[1]) : 0;
}

async function node(redisUrl, persist) {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const { Server } = require(path.join(__dirname, "..", "dist"));
  const redisClient = createClient({ url: redisUrl });
  await redisClient.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(redisClient),
    connectionStateRecovery: { maxDisconnectionDuration: settings.duration, persistWhileConnected: persist },
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const { io: ioc } = require("socket.io-client");
  const url = "http://127.0.0.1:" + httpServer.address().port;
  const clients = [];
  for (let i = 0; i < settings.clients; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(i + 100, settings.clients); j++) {
      const client = ioc(url, { forceNew: true, transports: ["websocket"], reconnection: false });
      clients.push(client);
      batch.push(new Promise((resolve) => client.once("connect", resolve)));
    }
    await Promise.all(batch);
  }
  return {
    io,
    async close() {
      for (const client of clients) client.disconnect();
      await io.close();
      await redisClient.quit();
    },
  };
}

async function joinCost(redisUrl, persist) {
  const n = await node(redisUrl, persist);
  await sleep(500);
  const sockets = [...n.io.of("/").sockets.values()];
  const start = process.cpuUsage();
  for (let round = 0; round < settings.rounds; round++) {
    for (const socket of sockets) socket.join("room" + round);
    // the store of this round's joins
    await tick();
    await tick();
  }
  const cpu = process.cpuUsage(start);
  await n.close();
  return (cpu.user + cpu.system) / (sockets.length * settings.rounds);
}

async function main() {
  if (!hasRedisServer()) throw missingRedis();
  const server = await startRedis();
  const { createClient } = require("redis");
  const redis = createClient({ url: server.url });
  await redis.connect();
  try {
    const n = await node(server.url, true);
    // the stores at connection are done; the window holds the refreshes only
    await sleep(1000);
    const setsBefore = await setCalls(redis);
    const cpuBefore = process.cpuUsage();
    await sleep(settings.window * 1000);
    const cpu = process.cpuUsage(cpuBefore);
    const sets = (await setCalls(redis)) - setsBefore;
    const keys = (await redis.keys("sio:session:*")).length;
    await n.close();
    const atRest = {
      clients: settings.clients,
      maxDisconnectionDuration: settings.duration,
      storedSessions: keys,
      setsPerSecond: Math.round(sets / settings.window),
      expectedPerSecond: Math.round(settings.clients / (settings.duration / 2000)),
      cpuPercent: Number((((cpu.user + cpu.system) / 1000 / (settings.window * 1000)) * 100).toFixed(2)),
    };
    await redis.flushAll();
    const off = await joinCost(server.url, false);
    await redis.flushAll();
    const on = await joinCost(server.url, true);
    const join = { microsecondsOff: Number(off.toFixed(1)), microsecondsOn: Number(on.toFixed(1)) };
    const result = { settings, atRest, join };
    if (args.flag("json")) console.log(JSON.stringify(result));
    else {
      console.log("at rest: %j", atRest);
      console.log("CPU per join (this process): %j", join);
    }
  } finally {
    await redis.quit();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err.stack || err);
  process.exit(1);
});
