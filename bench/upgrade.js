"use strict";

// The upgrade from HTTP long-polling to WebSocket while traffic flows. N clients open
// their sessions over polling (hand-rolled, bench/lib/eio-client.js) and, all along, each
// keeps one "echo" emit with an ack in flight (numbered payloads) while the server emits
// a numbered broadcast every --interval ms. After --before ms, every client upgrades, at a
// random moment within --spread ms, as socket.io-client does (probe, pause polling, upgrade
// packet, then what was queued meanwhile over the WebSocket); the traffic runs --after ms
// more. Reports the time each upgrade took (from opening the WebSocket to sending the
// upgrade packet) and checks every message: each ack back once with its payload, each
// broadcast received once by every client, in order. Lost, duplicated and out-of-order
// messages must all be 0. Raw ws has no polling: n/a.
//
//   node bench/upgrade.js [--clients=200] [--interval=10] [--before=1000] [--spread=1000]
//                         [--after=1000] [--size=64] [--targets=ours,reference]
//                         [--repeat=1] [--timeout=60] [--json]

const path = require("path");
const args = require("./lib/args");
const { runBench } = require("./lib/harness");
const { summary } = require("./lib/timing");

const settings = {
  clients: args.int("clients", 200),
  interval: args.int("interval", 10),
  before: args.int("before", 1000),
  spread: args.int("spread", 1000),
  after: args.int("after", 1000),
  size: args.int("size", 64),
};
// time for the last broadcasts and acks to arrive after the traffic stops
const DRAIN_MS = 1000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure({ port, server, clients }) {
  await clients.request("openLoaded", { port, n: settings.clients, size: settings.size }, 60000);
  await server.request("startTrickle", { intervalMs: settings.interval, size: settings.size });
  await clients.request("startLoad");
  await sleep(settings.before);
  const upgraded = await clients.request("upgradeAll", { spreadMs: settings.spread }, 60000);
  await sleep(settings.after);
  const { sent } = await server.request("stopTrickle");
  await sleep(DRAIN_MS);
  const check = await clients.request("stopLoad", { broadcasts: sent, waitMs: 5000 }, 10000);
  const sessions = await server.request("count");
  const times = summary(upgraded.times);
  return {
    p50: times.p50,
    p99: times.p99,
    max: times.max,
    upgraded: upgraded.websocket,
    sessions,
    emits: check.emitted,
    delivered: check.delivered,
    expected: sent * settings.clients,
    lost: check.lostAcks + check.missing,
    duplicated: check.duplicateAcks + check.duplicates,
    outOfOrder: check.outOfOrder,
    wrong: check.wrongAcks,
    closes: check.unexpectedCloses,
  };
}

function main() {
  return runBench({
    title:
      `upgrade under load: ${settings.clients} polling clients upgrade within ${settings.spread} ms while each keeps an emit ` +
      `with ack in flight and the server broadcasts every ${settings.interval} ms (${settings.size} chars)`,
    measure,
    clientProc: path.join(__dirname, "lib", "eio-client-proc.js"),
    targets: ["ours", "reference", "ws"],
    notApplicable: {
      ws: "no polling transport",
      "engine-ours": "sio clients only",
      "engine-reference": "sio clients only",
    },
    columns: [
      { key: "p50", title: "upgrade p50 ms", digits: 1 },
      { key: "p99", title: "p99 ms", digits: 1 },
      { key: "max", title: "max ms", digits: 1 },
      { key: "upgraded", title: "upgraded", digits: 0 },
      { key: "sessions", title: "sessions at end", digits: 0 },
      { key: "emits", title: "emits", digits: 0 },
      { key: "delivered", title: "broadcast deliveries", digits: 0 },
      { key: "expected", title: "expected", digits: 0 },
      { key: "lost", title: "lost", digits: 0 },
      { key: "duplicated", title: "duplicated", digits: 0 },
      { key: "outOfOrder", title: "out of order", digits: 0 },
      { key: "wrong", title: "wrong ack", digits: 0 },
      { key: "closes", title: "disconnects", digits: 0 },
    ],
    compare: { key: "p50", title: "p50 x reference" },
  });
}

module.exports = main;
if (require.main === module) main();
