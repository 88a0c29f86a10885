"use strict";

// The cost of the `sessionForwarding` option (issue 15). Three nodes, each this package's
// Socket.IO server in its own process with the same secret; --clients sessions opened over
// polling, spread over the three (hand-rolled clients, bench/lib/eio-client.js, in this
// process: keep-alive HTTP, one GET pending, one POST at a time, as socket.io-client).
// Each client keeps one "echo" emit with an ack in flight (or, with --interval, sends one
// every --interval ms, at most one in flight: a load under saturation), --messages in all, and:
//  - polling, local:      every request to the node owning the session;
//  - polling, forwarded:  every request to the next node, which forwards it to the owner;
//  - websocket, direct:   upgraded on the owner;
//  - websocket, tunnel:   upgraded through the next node, which tunnels it to the owner.
// Reported per row: emits/s, round trip p50/p99 (emit to ack), and the CPU time of the three
// server processes together per emit; then what forwarding adds at p50/p99.
//
//   node bench/forwarding.js [--clients=10] [--messages=5000] [--ws-messages=20000]
//                            [--interval=0] [--size=64] [--rounds=3] [--rows=polling]
//                            [--cpu-prof=DIR] [--json]
//
// --rows=TEXT runs the rows whose name has TEXT only (polling, websocket, forwarded...); --cpu-prof=DIR writes a V8 CPU
// profile of each node process into DIR (node-0, the owner of the first client's session;
// node-1, the node its requests are forwarded to...) when the bench ends.
//
// A first round of each row, a fifth of the size, warms the servers up and is not counted;
// the rows then take turns --rounds times and each row's median round (by p99) is shown.

const path = require("path");
const args = require("./lib/args");
const { spawn } = require("./lib/ipc");
const { Session } = require("./lib/eio-client");
const { now, summary } = require("./lib/timing");

const settings = {
  clients: args.int("clients", 10),
  messages: args.int("messages", 5000),
  wsMessages: args.int("ws-messages", 20000),
  size: args.int("size", 64),
  rounds: args.int("rounds", 3),
  interval: Number(args.str("interval") || 0),
};
const SECRET = "the secret of the forwarding bench";
const ALL_ROWS = [
  { name: "polling, local", transport: "polling", forwarded: false },
  { name: "polling, forwarded", transport: "polling", forwarded: true },
  { name: "websocket, direct", transport: "websocket", forwarded: false },
  { name: "websocket, tunnel", transport: "websocket", forwarded: true },
];
const onlyRows = args.str("rows");
const ROWS = onlyRows ? ALL_ROWS.filter((r) => r.name.includes(onlyRows)) : ALL_ROWS;
if (ROWS.length === 0) {
  console.error(`--rows: no row's name has "${onlyRows}"`);
  process.exit(2);
}
const cpuProf = args.str("cpu-prof");

const sum = (values) => values.reduce((s, v) => s + v, 0);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens the clients of a row: sessions on nodes 0, 1, 2, 0...; requests to the owner or the next node. */
async function open(ports, row) {
  const sessions = [];
  for (let i = 0; i < settings.clients; i++) {
    const owner = i % ports.length;
    const session = new Session({ kind: "sio", port: ports[owner], onEvent() {}, onClose() {} });
    await session.openPolling();
    if (row.forwarded) session.port = ports[(owner + 1) % ports.length];
    if (row.transport === "websocket") await session.upgrade();
    sessions.push(session);
  }
  return sessions;
}

/** Each session sends its share of `messages` echoes, one in flight; resolves the round trips (ms). */
async function echoes(sessions, messages) {
  const payload = "x".repeat(settings.size);
  const share = Math.ceil(messages / sessions.length);
  const rtts = await Promise.all(
    sessions.map(async (session) => {
      const times = [];
      // the clients' sends spread over the interval rather than all at once
      let next = now() + Math.random() * settings.interval;
      for (let i = 0; i < share; i++) {
        if (settings.interval > 0) {
          await sleep(Math.max(0, next - now()));
          next += settings.interval;
        }
        const start = now();
        await session.echo(payload);
        times.push(now() - start);
      }
      return times;
    }),
  );
  return { rtts: rtts.flat(), sent: share * sessions.length };
}

async function measureRow(nodes, ports, row) {
  const upgradesBefore = sum(
    (await Promise.all(nodes.map((n) => n.request("stats")))).map((s) => s.forwardedUpgrades),
  );
  const sessions = await open(ports, row);
  try {
    const messages = row.transport === "polling" ? settings.messages : settings.wsMessages;
    await echoes(sessions, Math.ceil(messages / 5));
    const before = await Promise.all(nodes.map((n) => n.request("mark")));
    const start = now();
    const { rtts, sent } = await echoes(sessions, messages);
    const wallMs = now() - start;
    const after = await Promise.all(nodes.map((n) => n.request("stats")));
    const counted = (key) => sum(after.map((s) => s[key])) - sum(before.map((s) => s[key]));
    const rtt = summary(rtts);
    return {
      row: row.name,
      rate: sent / (wallMs / 1000),
      p50: rtt.p50,
      p99: rtt.p99,
      cpu: sum(after.map((s) => s.cpu)) / sent,
      // the upgrades happened before the measure: counted since the row's sessions opened
      forwardedRequests: counted("forwardedRequests"),
      forwardedUpgrades: sum(after.map((s) => s.forwardedUpgrades)) - upgradesBefore,
      failures: counted("forwardingFailures"),
    };
  } finally {
    for (const session of sessions) session.destroy();
  }
}

function median(results) {
  const sorted = [...results].sort((a, b) => a.p99 - b.p99);
  return sorted[Math.floor(sorted.length / 2)];
}

function row(cells, widths) {
  return cells.map((c, i) => String(c).padEnd(widths[i])).join("  ");
}

async function main() {
  const nodes = [0, 1, 2].map((i) =>
    spawn(
      path.join(__dirname, "lib", "forwarding-node-proc.js"),
      cpuProf
        ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(cpuProf)}`, `--cpu-prof-name=node-${i}.cpuprofile`]
        : [],
    ),
  );
  const results = new Map(ROWS.map((r) => [r.name, []]));
  try {
    const ports = (await Promise.all(nodes.map((n) => n.request("start", { secret: SECRET })))).map(
      (r) => r.port,
    );
    for (let round = 0; round < settings.rounds; round++) {
      for (const r of ROWS) results.get(r.name).push(await measureRow(nodes, ports, r));
    }
  } finally {
    // a profiled node writes its profile as it exits: asked to exit rather than killed
    if (cpuProf) await Promise.all(nodes.map((n) => n.end()));
    nodes.forEach((n) => n.kill());
  }

  const shown = ROWS.map((r) => median(results.get(r.name)));
  console.log(
    `\nsessionForwarding: 3 nodes, ${settings.clients} clients, one echo with ack in flight each; ` +
      `${settings.messages} (polling) / ${settings.wsMessages} (websocket) emits, ${settings.size} chars, ` +
      `${settings.interval > 0 ? `one every ${settings.interval} ms per client` : "back to back"}; ` +
      `median of ${settings.rounds} rounds`,
  );
  const widths = [20, 9, 11, 11, 14, 12, 9];
  console.log(
    row(["", "emits/s", "rtt p50 ms", "rtt p99 ms", "CPU us/emit", "forwarded", "failures"], widths),
  );
  console.log(
    row(
      widths.map((w) => "-".repeat(w)),
      widths,
    ),
  );
  for (const r of shown) {
    console.log(
      row(
        [
          r.row,
          Math.round(r.rate),
          r.p50.toFixed(2),
          r.p99.toFixed(2),
          r.cpu.toFixed(1),
          r.row.startsWith("polling") ? r.forwardedRequests : r.forwardedUpgrades,
          r.failures,
        ],
        widths,
      ),
    );
  }
  const byName = new Map(shown.map((r) => [r.row, r]));
  const adds = (what, base, extra) =>
    `${what} adds ${(extra.p50 - base.p50).toFixed(2)} ms at p50, ${(extra.p99 - base.p99).toFixed(2)} ms at p99, ` +
    `${(extra.cpu - base.cpu).toFixed(1)} us of CPU per emit`;
  const said = [];
  if (byName.has("polling, local") && byName.has("polling, forwarded")) {
    said.push(adds("forwarded polling", byName.get("polling, local"), byName.get("polling, forwarded")));
  }
  if (byName.has("websocket, direct") && byName.has("websocket, tunnel")) {
    said.push(adds("the tunnel", byName.get("websocket, direct"), byName.get("websocket, tunnel")));
  }
  console.log(`\n${said.join("; ")}`);
  if (args.flag("json")) console.log(JSON.stringify({ settings, results: shown }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
