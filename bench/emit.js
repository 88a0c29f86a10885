"use strict";

// Emit with acks: one client sends M "echo" events, each acknowledged by the server
// with the same payload, `window` of them in flight. Measures server CPU per message.
// (The engine and ws targets have no acks: they echo the raw message back.)
//
//   node bench/emit.js [--messages=20000] [--size=64] [--window=50] [--warmup=2000]
//                      [--runs=3] [--repeat=1] [--targets=ours,reference,ws] [--timeout=60]
//                      [--json] [--cpu-prof=DIR]
//
// Each target runs --runs measured rounds after one warm-up round; the round with the
// median server CPU time is reported. --repeat=N runs the whole list of targets N times,
// taking turns, and shows each target's median.

const args = require("./lib/args");
const { runBench, median } = require("./lib/harness");

const settings = {
  messages: args.int("messages", 20000),
  size: args.int("size", 64),
  window: args.int("window", 50),
  warmup: args.int("warmup", 2000),
  runs: args.int("runs", 3),
};

async function measure({ target, port, server, clients }) {
  await clients.request("connect", { target, port, n: 1 });
  const { size, window } = settings;
  await clients.request("echo", { messages: settings.warmup, size, window });
  const rounds = [];
  for (let i = 0; i < settings.runs; i++) {
    await server.request("mark");
    const wallMs = await clients.request("echo", { messages: settings.messages, size, window });
    rounds.push({ wallMs, cpuUs: (await server.request("cpu")).total });
  }
  const { wallMs, cpuUs } = median(rounds, (r) => r.cpuUs);
  return {
    cpuMs: cpuUs / 1000,
    cpuPerMessage: cpuUs / settings.messages,
    wallMs,
    messagesPerSec: settings.messages / (wallMs / 1000),
  };
}

function main() {
  return runBench({
    title: `emit with ack: ${settings.messages} messages of ${settings.size} chars, ${settings.window} in flight`,
    measure,
    columns: [
      { key: "cpuMs", title: "server CPU ms", digits: 1 },
      { key: "cpuPerMessage", title: "CPU us/message", digits: 2 },
      { key: "wallMs", title: "wall ms", digits: 1 },
      { key: "messagesPerSec", title: "messages/s", digits: 0 },
    ],
    compare: { key: "cpuMs", title: "CPU x reference" },
  });
}

module.exports = main;
if (require.main === module) main();
