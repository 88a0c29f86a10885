"use strict";

// Emit with acks: one client sends M "echo" events, each acknowledged by the server
// with the same payload, `window` of them in flight. Measures server CPU per message.
// (The engine and ws targets have no acks: they echo the raw message back.)
//
//   node bench/emit.js [--messages=20000] [--size=64] [--window=50] [--warmup=2000]
//                      [--runs=3] [--repeat=1] [--targets=ours,reference,ws] [--timeout=60]
//                      [--json] [--cpu-prof=DIR] [--client=light]
//
// Each target runs --runs measured rounds after one warm-up round; the round with the
// median server CPU time is reported. --repeat=N runs the whole list of targets N times,
// taking turns, and shows each target's median.

const args = require("./lib/args");
const path = require("path");
const { runBench, median } = require("./lib/harness");
const { TARGETS } = require("./lib/targets");

const settings = {
  messages: args.int("messages", 20000),
  size: args.int("size", 64),
  window: args.int("window", 50),
  warmup: args.int("warmup", 2000),
  runs: args.int("runs", 3),
};

// --client=light: a hand-rolled client (lib/eio-client.js) instead of socket.io-client,
// engine.io-client or ws's client, so that the client process does not bound messages/s
const light = args.str("client") === "light";

async function measure({ target, port, server, clients }) {
  if (light) {
    const { errors, firstError } = await clients.request("connect", {
      kind: TARGETS[target].kind,
      port,
      transport: "websocket",
      n: 1,
    });
    if (errors > 0) throw new Error(firstError);
  } else {
    await clients.request("connect", { target, port, n: 1 });
  }
  const { size, window } = settings;
  await clients.request("echo", { messages: settings.warmup, size, window });
  const rounds = [];
  for (let i = 0; i < settings.runs; i++) {
    await server.request("mark");
    const clientStart = await clients.request("cpu");
    const echoed = await clients.request("echo", { messages: settings.messages, size, window });
    // the hand-rolled client also returns the round-trip times
    const wallMs = typeof echoed === "number" ? echoed : echoed.wallMs;
    const clientUs = (await clients.request("cpu")) - clientStart;
    rounds.push({ wallMs, cpuUs: (await server.request("cpu")).total, clientUs });
  }
  const { wallMs, cpuUs, clientUs } = median(rounds, (r) => r.cpuUs);
  return {
    cpuMs: cpuUs / 1000,
    cpuPerMessage: cpuUs / settings.messages,
    clientCpuPerMessage: clientUs / settings.messages,
    wallMs,
    messagesPerSec: settings.messages / (wallMs / 1000),
  };
}

function main() {
  return runBench({
    title:
      `emit with ack: ${settings.messages} messages of ${settings.size} chars, ${settings.window} in flight` +
      (light ? ", hand-rolled client" : ""),
    measure,
    ...(light ? { clientProc: path.join(__dirname, "lib", "eio-client-proc.js") } : {}),
    columns: [
      { key: "cpuMs", title: "server CPU ms", digits: 1 },
      { key: "cpuPerMessage", title: "CPU us/message", digits: 2 },
      // the client process (socket.io-client, engine.io-client or a ws client): when its CPU
      // per message exceeds the server's, the client is what bounds messages/s
      { key: "clientCpuPerMessage", title: "client CPU us/message", digits: 2 },
      { key: "wallMs", title: "wall ms", digits: 1 },
      { key: "messagesPerSec", title: "messages/s", digits: 0 },
    ],
    compare: { key: "cpuMs", title: "CPU x reference" },
  });
}

module.exports = main;
if (require.main === module) main();
