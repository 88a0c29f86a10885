"use strict";

// HTTP long-polling only. N clients speak Socket.IO over polling, as socket.io-client does
// with `transports: ["polling"]` (one GET pending, one POST at a time, keep-alive), but
// hand-rolled (bench/lib/eio-client.js) so that the client process stays cheap.
//  - client to server: each client keeps --window "echo" emits with an ack in flight,
//    --messages in all; messages/s, round trip p50/p99, server CPU per message (and the
//    client processes' CPU per message: when it nears the server's, they are the bottleneck);
//  - server to client: the server emits --broadcasts messages to all (`io.emit`, --batch per
//    event loop turn), each stamped with its send time; deliveries/s, latency from the
//    server's emit to the client's receipt p50/p99, server CPU per delivery.
// Raw ws has no polling: n/a.
//
//   node bench/polling.js [--clients=50] [--messages=20000] [--window=1] [--broadcasts=1000]
//                         [--batch=10] [--size=64] [--procs=1] [--targets=ours,reference]
//                         [--repeat=1] [--timeout=60] [--json] [--cpu-prof=DIR]
//
// A first round of each direction, a fifth of the size, warms the server up and is not counted.

const path = require("path");
const args = require("./lib/args");
const { runBench } = require("./lib/harness");
const { summary } = require("./lib/timing");

const settings = {
  clients: args.int("clients", 50),
  messages: args.int("messages", 20000),
  window: args.int("window", 1),
  broadcasts: args.int("broadcasts", 1000),
  batch: args.int("batch", 10),
  size: args.int("size", 64),
  procs: args.int("procs", 1),
};

const sum = (values) => values.reduce((s, v) => s + v, 0);
const share = (total, procs, i) => Math.floor(total / procs) + (i < total % procs ? 1 : 0);

async function upstream({ server, clientProcs }, messages) {
  await server.request("mark");
  const clientCpu = await Promise.all(clientProcs.map((c) => c.request("cpu")));
  const results = await Promise.all(
    clientProcs.map((c, i) =>
      c.request(
        "echo",
        { messages: share(messages, clientProcs.length, i), size: settings.size, window: settings.window },
        120000,
      ),
    ),
  );
  const cpu = await server.request("cpu");
  const clientCpuUs = sum(
    await Promise.all(clientProcs.map((c, i) => c.request("cpu").then((us) => us - clientCpu[i]))),
  );
  const rtt = summary(results.map((r) => r.rtts));
  const wallMs = Math.max(...results.map((r) => r.wallMs));
  return {
    upRate: messages / (wallMs / 1000),
    upP50: rtt.p50,
    upP99: rtt.p99,
    upCpu: cpu.total / messages,
    upClientCpu: clientCpuUs / messages,
  };
}

async function downstream({ server, clientProcs }, broadcasts) {
  const counts = await Promise.all(clientProcs.map((c) => c.request("count")));
  await Promise.all(clientProcs.map((c, i) => c.request("arm", { total: broadcasts * counts[i] })));
  await server.request("mark");
  const start = process.hrtime.bigint();
  const [, ...latencies] = await Promise.all([
    server.request(
      "broadcast",
      { messages: broadcasts, size: settings.size, batch: settings.batch, stamp: true },
      120000,
    ),
    ...clientProcs.map((c) => c.request("received", {}, 120000)),
  ]);
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = await server.request("cpu");
  const deliveries = broadcasts * sum(counts);
  const latency = summary(latencies);
  return {
    downRate: deliveries / (wallMs / 1000),
    downP50: latency.p50,
    downP99: latency.p99,
    downCpu: (cpu.total * 1000) / deliveries,
  };
}

async function measure(ctx) {
  const { port, clientProcs } = ctx;
  const opened = await Promise.all(
    clientProcs.map((c, i) =>
      c.request("connect", {
        kind: "sio",
        port,
        transport: "polling",
        n: share(settings.clients, clientProcs.length, i),
      }),
    ),
  );
  const failed = opened.find((r) => r.errors > 0);
  if (failed) throw new Error(`${failed.errors} sessions failed: ${failed.firstError}`);
  await upstream(ctx, Math.ceil(settings.messages / 5));
  const up = await upstream(ctx, settings.messages);
  await downstream(ctx, Math.ceil(settings.broadcasts / 5));
  const down = await downstream(ctx, settings.broadcasts);
  return { ...up, ...down };
}

function main() {
  return runBench({
    title:
      `polling only: ${settings.clients} clients; up: ${settings.messages} emits with ack (${settings.window} in flight per client); ` +
      `down: ${settings.broadcasts} broadcasts (${settings.batch} per loop turn); ${settings.size} chars`,
    measure,
    clientProc: path.join(__dirname, "lib", "eio-client-proc.js"),
    clientProcs: settings.procs,
    targets: ["ours", "reference", "ws"],
    notApplicable: {
      ws: "no polling transport",
      "engine-ours": "sio clients only",
      "engine-reference": "sio clients only",
    },
    columns: [
      { key: "upRate", title: "up msg/s", digits: 0 },
      { key: "upP50", title: "rtt p50 ms", digits: 2 },
      { key: "upP99", title: "rtt p99 ms", digits: 2 },
      { key: "upCpu", title: "CPU us/msg", digits: 1 },
      { key: "upClientCpu", title: "clients' CPU us/msg", digits: 1 },
      { key: "downRate", title: "down deliveries/s", digits: 0 },
      { key: "downP50", title: "latency p50 ms", digits: 2 },
      { key: "downP99", title: "latency p99 ms", digits: 2 },
      { key: "downCpu", title: "CPU ns/delivery", digits: 0 },
    ],
    compare: { key: "upCpu", title: "up CPU x reference" },
  });
}

module.exports = main;
if (require.main === module) main();
