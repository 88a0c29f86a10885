"use strict";

// Many idle websocket sessions on one machine, held with the default heartbeat (a ping every
// 25 s, 20 s to answer), then broadcasts to all. For each target in turn (fresh processes):
//  1. the server starts: one process (--workers=0), or a cluster primary and --workers
//     processes (see lib/scale-server-proc.js: round-robin, @socket.io/cluster-adapter);
//  2. --procs client processes (default: one per 18,000 sessions) open --sessions websocket
//     sessions, each process from its own loopback address (127.0.0.2, .3…);
//  3. after --settle s, the server's CPU time (user + system of every server process, from
//     /proc) over --idle s while nothing but heartbeats happens: % of one core (and the
//     share of it spent in the kernel), and µs per session per heartbeat (CPU time /
//     (sessions x idle / 25 s));
//  4. memory per session: growth of heap and RSS (all server processes, each after a full
//     gc) since before the sessions opened, divided by the sessions;
//  5. --broadcasts broadcasts, each stamped with its send time, each sent --interval s after
//     the previous one reached every client (or after 60 s), so that they do not overlap:
//     the delay until each client got it (p50/p99/max over all deliveries), the time one
//     took to reach every client (median over the broadcasts of the last delivery's delay),
//     and deliveries missing;
//  6. disconnects seen by the server and by the clients during all that (must be 0).
// The sessions are held for about settle + idle + broadcasts x interval seconds (3 minutes
// by default) after the ramp.
//
//   node bench/scale.js [--sessions=19000] [--workers=0] [--procs=N] [--settle=30] [--idle=125]
//                       [--broadcasts=5] [--interval=5] [--size=64] [--concurrency=100]
//                       [--targets=ours,reference,ws] [--ping-batch-window=MS] [--json]
//
//   node bench/scale.js                                  # (a) 19,000 sessions, one process
//   node bench/scale.js --sessions=100000 --workers=6    # (b) 100,000 over 6 workers
//
// A process may hold at most `ulimit -n` open files (20,000 on the reference machine, a hard
// limit): a server process holds one per session, so --sessions / max(1, --workers) and the
// clients per process must stay below it. When the soft limit is lower than needed and the
// hard one allows, the processes are started through `sh -c "ulimit -n …"`.

const fs = require("fs");
const path = require("path");
const { execSync } = require("child_process");
const args = require("./lib/args");
const { spawn } = require("./lib/ipc");
const { TARGETS, unavailable } = require("./lib/targets");
const { percentile, summary } = require("./lib/timing");

const settings = {
  sessions: args.int("sessions", 19000),
  workers: Number(args.str("workers") || 0),
  settle: args.int("settle", 30),
  idle: args.int("idle", 125),
  broadcasts: args.int("broadcasts", 5),
  interval: args.int("interval", 5),
  size: args.int("size", 64),
  concurrency: args.int("concurrency", 100),
};
settings.procs = args.int("procs", Math.ceil(settings.sessions / 18000));
const targets = args.list("targets", ["ours", "reference", "ws"]);
// the engine option pingBatchWindow for the Socket.IO targets (0, the default: every ping on
// time); the server processes read it from the environment they inherit
const pingBatchWindow = args.str("ping-batch-window");
if (pingBatchWindow !== undefined) process.env.BENCH_PING_BATCH_WINDOW = pingBatchWindow;
const json = args.flag("json");

const SERVER_PROC = path.join(__dirname, "lib", "scale-server-proc.js");
const CLIENT_PROC = path.join(__dirname, "lib", "scale-client-proc.js");
const HEARTBEAT_S = 25;
const KB = 1024;
const CLOCK_TICK = Number(execSync("getconf CLK_TCK").toString()) || 100;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (values) => values.reduce((s, v) => s + v, 0);
const share = (i) =>
  Math.floor(settings.sessions / settings.procs) + (i < settings.sessions % settings.procs ? 1 : 0);

/** The open-files limit the children need, raised in their shell when the soft limit is lower. */
function openFilesLimit() {
  const soft = Number(execSync("ulimit -Sn", { shell: "/bin/sh" }).toString());
  const hard = execSync("ulimit -Hn", { shell: "/bin/sh" }).toString().trim();
  const perServer = Math.ceil(settings.sessions / Math.max(1, settings.workers));
  const needed = Math.max(perServer, share(0)) + 200;
  const hardLimit = hard === "unlimited" ? Infinity : Number(hard);
  if (needed > hardLimit) {
    throw new Error(
      `a process would hold ${needed} files, over the hard limit ${hard}: raise --workers / --procs`,
    );
  }
  return soft >= needed ? undefined : needed;
}

/** CPU time (µs) of the processes, from /proc, every thread: `{ user, system }`. */
function cpuMicros(pids) {
  const total = { user: 0, system: 0 };
  for (const pid of pids) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11] and [12] are utime and stime (fields 14 and 15 of proc(5))
    total.user += (Number(fields[11]) * 1e6) / CLOCK_TICK;
    total.system += (Number(fields[12]) * 1e6) / CLOCK_TICK;
  }
  return total;
}

async function waitFor(what, check, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function run(target, nofile) {
  const kind = TARGETS[target].kind;
  const server = spawn(SERVER_PROC, ["--expose-gc"], { nofile });
  const clients = Array.from({ length: settings.procs }, () => spawn(CLIENT_PROC, [], { nofile }));
  const log = (text) => console.log(`${target}: ${text}`);
  try {
    const { port, pids } = await server.request("start", { target, workers: settings.workers }, 60000);
    const sessionsNow = async () => sum((await server.request("stats")).map((s) => s.count));
    // a few sessions first, so that code loaded on the first ones is not charged to the others
    const warm = 20 * Math.max(1, settings.workers);
    await clients[0].request("connect", { kind, port, n: warm, localAddress: "127.0.0.2", concurrency: 20 });
    await clients[0].request("closeAll");
    await waitFor("the warm-up sessions to close", async () => (await sessionsNow()) === 0, 30000);
    const before = await server.request("memory", {}, 60000);
    const warmDisconnects = sum((await server.request("stats")).map((s) => s.disconnects));

    const rampStart = Date.now();
    const opened = await Promise.all(
      clients.map((c, i) =>
        c.request(
          "connect",
          { kind, port, n: share(i), localAddress: `127.0.0.${2 + i}`, concurrency: settings.concurrency },
          30 * 60000,
        ),
      ),
    );
    const connectErrors = sum(opened.map((o) => o.errors));
    if (connectErrors)
      log(`${connectErrors} sessions failed to open: ${opened.find((o) => o.errors).firstError}`);
    await waitFor(
      "the server to count the sessions",
      async () => (await sessionsNow()) >= settings.sessions - connectErrors,
      60000,
    );
    const rampSec = (Date.now() - rampStart) / 1000;
    const perProcess = (await server.request("stats")).map((s) => s.count);
    const sessions = sum(perProcess);
    log(
      `${sessions} sessions open in ${rampSec.toFixed(1)} s (per server process: ${perProcess.join(", ")}); settling ${settings.settle} s`,
    );
    await sleep(settings.settle * 1000);

    log(`measuring idle CPU over ${settings.idle} s`);
    const cpuStart = cpuMicros(pids);
    const idleStart = process.hrtime.bigint();
    await sleep(settings.idle * 1000);
    const cpuEnd = cpuMicros(pids);
    const idleUs = cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system;
    const idleSystemUs = cpuEnd.system - cpuStart.system;
    const idleWallUs = Number(process.hrtime.bigint() - idleStart) / 1000;
    const after = await server.request("memory", {}, 120000);

    log(`${settings.broadcasts} broadcasts, ${settings.interval} s apart`);
    for (let seq = 0; seq < settings.broadcasts; seq++) {
      await server.request("broadcast", { seq, size: settings.size });
      // the next broadcast waits for this one to reach everyone (or for 60 s): they do not overlap
      const reached = async () =>
        sum(await Promise.all(clients.map((c) => c.request("delivered", { seq })))) >= sessions;
      await waitFor(`broadcast ${seq} to reach every session`, reached, 60000).catch((err) =>
        log(err.message),
      );
      await sleep(settings.interval * 1000);
    }
    const stats = await Promise.all(clients.map((c) => c.request("stats", {}, 120000)));
    const serverStats = await server.request("stats");

    const perBroadcast = Array.from({ length: settings.broadcasts }, (_, seq) =>
      stats.map((s) => s.latencies[seq] || []).flat(),
    );
    const delays = summary(perBroadcast);
    const reachAll = perBroadcast.map((l) => l.reduce((m, v) => Math.max(m, v), 0)).sort((a, b) => a - b);
    const clientReasons = {};
    for (const s of stats)
      for (const [r, n] of Object.entries(s.reasons)) clientReasons[r] = (clientReasons[r] || 0) + n;
    // (the reasons include the warm-up's closes)
    const serverReasons = {};
    for (const s of serverStats)
      for (const [r, n] of Object.entries(s.reasons)) serverReasons[r] = (serverReasons[r] || 0) + n;
    const growth = (key) => (sum(after.map((m) => m[key])) - sum(before.map((m) => m[key]))) / sessions / KB;
    return {
      target,
      sessions,
      processes: pids.length,
      rampSec,
      heapKb: growth("heapUsed"),
      rssKb: growth("rss"),
      idleCpuPercent: (idleUs / idleWallUs) * 100,
      idleSystemShare: idleUs ? (idleSystemUs / idleUs) * 100 : 0,
      usPerHeartbeat: idleUs / (sessions * (idleWallUs / 1e6 / HEARTBEAT_S)),
      p50: delays.p50,
      p99: delays.p99,
      max: delays.max,
      reachAll: percentile(reachAll, 50),
      missing: settings.broadcasts * sessions - delays.count,
      serverDisconnects: sum(serverStats.map((s) => s.disconnects)) - warmDisconnects,
      clientDisconnects: sum(stats.map((s) => s.closes)),
      connectErrors,
      serverReasons,
      clientReasons,
    };
  } finally {
    for (const c of clients) c.kill();
    server.kill();
  }
}

function print(rows) {
  const columns = [
    ["server", (r) => TARGETS[r.target].label],
    ["sessions", (r) => String(r.sessions)],
    ["server procs", (r) => String(r.processes)],
    ["ramp s", (r) => r.rampSec.toFixed(0)],
    ["heap KB/session", (r) => r.heapKb.toFixed(2)],
    ["RSS KB/session", (r) => r.rssKb.toFixed(2)],
    ["idle CPU % core", (r) => r.idleCpuPercent.toFixed(2)],
    ["of it system %", (r) => r.idleSystemShare.toFixed(0)],
    ["us/session/heartbeat", (r) => r.usPerHeartbeat.toFixed(1)],
    ["broadcast p50 ms", (r) => r.p50.toFixed(1)],
    ["p99 ms", (r) => r.p99.toFixed(1)],
    ["max ms", (r) => r.max.toFixed(1)],
    ["reach-all ms (median)", (r) => r.reachAll.toFixed(1)],
    ["missing", (r) => String(r.missing)],
    ["disconnects (server/client)", (r) => `${r.serverDisconnects}/${r.clientDisconnects}`],
  ];
  const cells = rows.map((r) =>
    r.error ? [TARGETS[r.target].label, `error: ${r.error}`] : columns.map(([, f]) => f(r)),
  );
  const widths = columns.map(([title], i) =>
    Math.max(title.length, ...cells.map((c) => (c.length > 2 || i === 0 ? (c[i] || "").length : 0))),
  );
  const line = (c) => c.map((cell, i) => (i ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ");
  console.log(
    `\nscale: ${settings.sessions} idle websocket sessions, ${settings.workers ? `${settings.workers} cluster workers` : "one server process"}, ` +
      `clients in ${settings.procs} processes; idle CPU over ${settings.idle} s; ${settings.broadcasts} broadcasts of ${settings.size} chars`,
  );
  console.log(line(columns.map(([title]) => title)));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(c.length === 2 ? `${c[0].padEnd(widths[0])}  ${c[1]}` : line(c));
  for (const r of rows) {
    if (r.serverDisconnects || r.clientDisconnects || r.connectErrors) {
      console.log(
        `${r.target}: ${r.connectErrors} failed to open; server reasons ${JSON.stringify(r.serverReasons)}, ` +
          `client reasons ${JSON.stringify(r.clientReasons)}`,
      );
    }
  }
}

(async () => {
  const nofile = openFilesLimit();
  if (nofile) console.log(`open files: the soft limit is raised to ${nofile} in the bench's processes`);
  const rows = [];
  for (const target of targets) {
    const reason = unavailable(target);
    if (reason) {
      console.log(`${target}: skipped (${reason})`);
      continue;
    }
    try {
      rows.push(await run(target, nofile));
    } catch (err) {
      rows.push({ target, error: err.message });
      process.exitCode = 1;
    }
  }
  print(rows);
  if (json) console.log(JSON.stringify({ bench: "scale", settings, rows }));
})();
