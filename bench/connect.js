"use strict";

// Connection setup rate. Clients open sessions in batches (all of a batch at once, the
// next batch when the whole batch is connected) and stay connected:
//  - websocket only: connected = the Socket.IO CONNECT acknowledged (`40{"sid":…}`), or the
//    WebSocket open for raw ws;
//  - polling handshake + upgrade, as socket.io-client with its default transports: polling
//    handshake, CONNECT, probe, upgrade, and the first ack received over the WebSocket.
//    Raw ws has no equivalent (n/a).
// The clients are hand-rolled (bench/lib/eio-client.js), spread over --procs processes, so
// that the client side costs little next to the server. Reports sessions/s (batch size
// over the time the whole batch took, over all batches), each session's setup time
// p50/p99, and the server's CPU time per session (and, for websocket, the client processes'
// CPU time per session: when it nears the server's, the clients are the bottleneck).
//
//   node bench/connect.js [--batch=200] [--batches=10] [--procs=2] [--targets=ours,reference,ws]
//                         [--repeat=1] [--timeout=60] [--json] [--cpu-prof=DIR] [--websocket-only]
//
// A first batch of each kind warms the server up and is not counted.

const path = require("path");
const args = require("./lib/args");
const { runBench } = require("./lib/harness");
const { TARGETS } = require("./lib/targets");
const { summary } = require("./lib/timing");

const settings = {
  batch: args.int("batch", 200),
  batches: args.int("batches", 10),
  procs: args.int("procs", 2),
  // --websocket-only skips the polling + upgrade series (e.g. to profile the websocket path)
  websocketOnly: args.flag("websocket-only"),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForCount(server, expected) {
  for (let tries = 0; (await server.request("count")) !== expected; tries++) {
    if (tries > 200) throw new Error(`server never reached ${expected} sessions`);
    await sleep(50);
  }
}

/** Opens one batch over the client processes; returns the wall time and each session's setup time. */
async function batch(clientProcs, options) {
  const share = (i) =>
    Math.floor(settings.batch / clientProcs.length) + (i < settings.batch % clientProcs.length ? 1 : 0);
  const start = process.hrtime.bigint();
  const results = await Promise.all(
    clientProcs.map((c, i) => c.request("connect", { ...options, n: share(i) })),
  );
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const failed = results.find((r) => r.errors > 0);
  if (failed) throw new Error(`${failed.errors} sessions failed: ${failed.firstError}`);
  return { wallMs, times: results.map((r) => r.times) };
}

async function series({ server, clientProcs }, options) {
  await batch(clientProcs, options);
  await Promise.all(clientProcs.map((c) => c.request("closeAll")));
  await waitForCount(server, 0);
  let wallMs = 0;
  const times = [];
  await server.request("mark");
  const clientCpu = await Promise.all(clientProcs.map((c) => c.request("cpu")));
  for (let i = 0; i < settings.batches; i++) {
    const b = await batch(clientProcs, options);
    wallMs += b.wallMs;
    times.push(...b.times);
  }
  const cpu = await server.request("cpu");
  const clientCpuUs = (await Promise.all(clientProcs.map((c) => c.request("cpu")))).reduce(
    (sum, us, i) => sum + us - clientCpu[i],
    0,
  );
  const sessions = settings.batch * settings.batches;
  await waitForCount(server, sessions);
  await Promise.all(clientProcs.map((c) => c.request("closeAll")));
  await waitForCount(server, 0);
  const t = summary(times);
  return {
    rate: sessions / (wallMs / 1000),
    p50: t.p50,
    p99: t.p99,
    cpuPerSession: cpu.total / sessions,
    clientCpu: clientCpuUs / sessions,
  };
}

async function measure(ctx) {
  const kind = TARGETS[ctx.target].kind;
  const ws = await series(ctx, { kind, port: ctx.port, transport: "websocket" });
  const row = {
    wsRate: ws.rate,
    wsP50: ws.p50,
    wsP99: ws.p99,
    wsCpu: ws.cpuPerSession,
    wsClientCpu: ws.clientCpu,
  };
  if (kind === "ws" || settings.websocketOnly)
    return { ...row, pollRate: "n/a", pollP50: "n/a", pollP99: "n/a", pollCpu: "n/a" };
  const poll = await series(ctx, { kind, port: ctx.port, transport: "polling", upgrade: true });
  return { ...row, pollRate: poll.rate, pollP50: poll.p50, pollP99: poll.p99, pollCpu: poll.cpuPerSession };
}

function main() {
  return runBench({
    title:
      `connection setup: ${settings.batches} batches of ${settings.batch} sessions (all of a batch at once), ` +
      `clients in ${settings.procs} processes; polling = handshake + CONNECT + upgrade + first ack over WebSocket`,
    measure,
    clientProc: path.join(__dirname, "lib", "eio-client-proc.js"),
    clientProcs: settings.procs,
    targets: ["ours", "reference", "ws"],
    columns: [
      { key: "wsRate", title: "websocket sessions/s", digits: 0 },
      { key: "wsP50", title: "p50 ms", digits: 1 },
      { key: "wsP99", title: "p99 ms", digits: 1 },
      { key: "wsCpu", title: "server CPU us/session", digits: 0 },
      { key: "wsClientCpu", title: "clients' CPU us/session", digits: 0 },
      { key: "pollRate", title: "polling+upgrade sessions/s", digits: 0 },
      { key: "pollP50", title: "p50 ms", digits: 1 },
      { key: "pollP99", title: "p99 ms", digits: 1 },
      { key: "pollCpu", title: "server CPU us/session", digits: 0 },
    ],
    compare: { key: "wsRate", title: "websocket rate x reference" },
  });
}

module.exports = main;
if (require.main === module) main();
