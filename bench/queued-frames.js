"use strict";

// Queued frames: what one broadcast costs the server while it waits for clients that do
// not read. N websocket clients connect and stop reading (their TCP streams are paused);
// a warm-up of broadcasts fills the kernel's socket buffers, then M more broadcasts stay
// queued in the server. The growth of external memory and heap between the two points,
// after a full gc, divided by M, is the memory of one queued frame (shared by the N
// clients when the server stores it once).
//
//   node bench/queued-frames.js [--clients=1] [--messages=5000] [--size=1024] [--warmup=8000]
//                               [--batch=50] [--settle=300] [--targets=ours,reference]
//                               [--repeat=1] [--timeout=60] [--json]

const args = require("./lib/args");
const { runBench } = require("./lib/harness");

const settings = {
  clients: args.int("clients", 1),
  messages: args.int("messages", 5000),
  size: args.int("size", 1024),
  warmup: args.int("warmup", 8000),
  batch: args.int("batch", 50),
  settle: args.int("settle", 300),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure({ target, port, server, clients }) {
  await clients.request("connect", { target, port, n: settings.clients });
  await clients.request("pauseAll");
  const { size, batch } = settings;
  // the kernel takes a few MB per connection before anything stays in the server
  await server.request("broadcast", { messages: settings.warmup, size, batch }, 60000);
  await sleep(settings.settle);
  const before = await server.request("memory");
  await server.request("broadcast", { messages: settings.messages, size, batch }, 60000);
  await sleep(settings.settle);
  const after = await server.request("memory");
  const perFrame = (key) => (after[key] - before[key]) / settings.messages;
  const external = perFrame("external");
  const heap = perFrame("heapUsed");
  if ((await server.request("count")) !== settings.clients) {
    throw new Error("a paused client was disconnected during the measure");
  }
  // paused clients would hold the server's close: their connections go with their process
  clients.kill();
  return { external, heap, total: external + heap };
}

function main() {
  return runBench({
    title:
      `queued frames: ${settings.clients} paused websocket client(s), broadcasts of ${settings.size} chars ` +
      `(server growth per queued broadcast, after gc)`,
    measure,
    columns: [
      { key: "external", title: "external B/frame", digits: 0 },
      { key: "heap", title: "heap B/frame", digits: 0 },
      { key: "total", title: "total B/frame", digits: 0 },
    ],
    compare: { key: "total", title: "total x reference" },
    // the paused clients must stay connected: our bound would close them (the reference has none)
    serverOptions: { maxBufferedAmount: 0 },
    targets: ["ours", "reference"],
  });
}

module.exports = main;
if (require.main === module) main();
