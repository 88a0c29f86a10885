"use strict";

// Memory: N idle websocket clients connected. Reports the server's heap and RSS growth
// per client, taken after a full garbage collection (the server runs with --expose-gc)
// before and after connecting them.
//
//   node bench/memory.js [--clients=1000] [--settle=500] [--targets=ours,reference,ws]
//                        [--repeat=1] [--timeout=60] [--json]
//
// Besides the five targets, it runs by default the variants `ours-no-request` and
// `reference-no-request`: the same servers with the trick of the reference's memory guide,
//   io.engine.on("connection", (rawSocket) => { rawSocket.request = null; })
// which lets the HTTP request of the handshake go (an app that needs it, e.g. with
// express-session, cannot).

const args = require("./lib/args");
const { runBench } = require("./lib/harness");

const settings = {
  clients: args.int("clients", 1000),
  settle: args.int("settle", 500),
};
const WARMUP_CLIENTS = 20;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForCount({ server }, expected) {
  for (let tries = 0; (await server.request("count")) !== expected; tries++) {
    if (tries > 200) throw new Error(`server never reached ${expected} clients`);
    await sleep(50);
  }
}

async function measure(ctx) {
  const { target, port, server, clients } = ctx;
  // Connecting and dropping a few clients first loads the code paths lazily required
  // on the first connection, so the baseline does not charge them to the N clients.
  await clients.request("connect", { target, port, n: WARMUP_CLIENTS });
  await clients.request("closeAll");
  await waitForCount(ctx, 0);
  const before = await server.request("memory");

  await clients.request("connect", { target, port, n: settings.clients }, 60000);
  await waitForCount(ctx, settings.clients);
  await sleep(settings.settle);
  const after = await server.request("memory");

  const perClient = (key) => (after[key] - before[key]) / settings.clients / 1024;
  return {
    heapPerClient: perClient("heapUsed"),
    rssPerClient: perClient("rss"),
    externalPerClient: perClient("external"),
    heapTotalMb: after.heapUsed / 1024 / 1024,
  };
}

function main() {
  return runBench({
    title: `memory: ${settings.clients} idle websocket clients (server growth per client, after gc)`,
    measure,
    columns: [
      { key: "heapPerClient", title: "heap KiB/client", digits: 2 },
      { key: "rssPerClient", title: "RSS KiB/client", digits: 2 },
      { key: "externalPerClient", title: "external KiB/client", digits: 2 },
      { key: "heapTotalMb", title: "heap MiB total", digits: 1 },
    ],
    compare: { key: "heapPerClient", title: "heap x reference" },
    targets: [
      "ours",
      "ours-no-request",
      "reference",
      "reference-no-request",
      "engine-ours",
      "engine-reference",
      "ws",
    ],
  });
}

module.exports = main;
if (require.main === module) main();
