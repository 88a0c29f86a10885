"use strict";

// Broadcast: N websocket clients connected; the server broadcasts M messages to all.
// Measures the server's CPU time and the wall time until every client got every message.
//
//   node bench/broadcast.js [--clients=100] [--messages=1000] [--size=64] [--batch=50]
//                           [--warmup=500] [--runs=3] [--repeat=1] [--targets=ours,reference,ws]
//                           [--timeout=60] [--json] [--cpu-prof=DIR]
//
// Each target runs --runs measured rounds after one warm-up round; the round with the
// median server CPU time is reported. --repeat=N runs the whole list of targets N times,
// taking turns, and shows each target's median.

const args = require("./lib/args");
const { runBench, median } = require("./lib/harness");

const settings = {
  clients: args.int("clients", 100),
  messages: args.int("messages", 1000),
  size: args.int("size", 64),
  batch: args.int("batch", 50),
  warmup: args.int("warmup", 500),
  runs: args.int("runs", 3),
};

async function broadcastRound({ server, clients }, messages) {
  await clients.request("arm", { total: messages * settings.clients });
  const start = process.hrtime.bigint();
  await server.request("mark");
  await Promise.all([
    server.request("broadcast", { messages, size: settings.size, batch: settings.batch }),
    clients.request("received"),
  ]);
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = await server.request("cpu");
  return { wallMs, cpuUs: cpu.total };
}

async function measure(ctx) {
  await ctx.clients.request("connect", { target: ctx.target, port: ctx.port, n: settings.clients });
  // A first round lets the JIT compile the hot paths before anything is counted.
  await broadcastRound(ctx, settings.warmup);
  const rounds = [];
  for (let i = 0; i < settings.runs; i++) rounds.push(await broadcastRound(ctx, settings.messages));
  const { wallMs, cpuUs } = median(rounds, (r) => r.cpuUs);
  const deliveries = settings.messages * settings.clients;
  return {
    cpuMs: cpuUs / 1000,
    cpuPerDelivery: (cpuUs * 1000) / deliveries,
    wallMs,
    deliveriesPerSec: deliveries / (wallMs / 1000),
  };
}

function main() {
  return runBench({
    title:
      `broadcast: ${settings.clients} clients x ${settings.messages} messages of ${settings.size} chars ` +
      `(${settings.batch} per event loop turn)`,
    measure,
    columns: [
      { key: "cpuMs", title: "server CPU ms", digits: 1 },
      { key: "cpuPerDelivery", title: "CPU ns/delivery", digits: 0 },
      { key: "wallMs", title: "wall ms", digits: 1 },
      { key: "deliveriesPerSec", title: "deliveries/s", digits: 0 },
    ],
    compare: { key: "cpuMs", title: "CPU x reference" },
  });
}

module.exports = main;
if (require.main === module) main();
