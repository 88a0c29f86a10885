"use strict";

// Soak: many WebSocket sessions held for minutes with the default heartbeat and a trickle
// of broadcasts. Reports, for each target in turn (fresh processes each): unexpected
// disconnects (seen by the server and by the clients), broadcasts delivered, the server's
// heap over time (after a full gc at each sample), its event-loop delay (p99 of
// perf_hooks.monitorEventLoopDelay, the forced gc of the samples left out) and CPU use.
// Not part of `npm test` nor of `npm run bench`: it takes (duration + ramp) per target.
//
//   node bench/soak.js [--sessions=10000] [--duration=300] [--procs=4] [--interval=1000]
//                      [--size=64] [--sample=15] [--concurrency=50]
//                      [--targets=ours,reference] [--json]
//
// The clients run in --procs processes (a process may hold 20,000 open files; the server,
// one process, holds one per session).

const path = require("path");
const args = require("./lib/args");
const { spawn } = require("./lib/ipc");
const { TARGETS, unavailable } = require("./lib/targets");

const settings = {
  sessions: args.int("sessions", 10000),
  duration: args.int("duration", 300),
  procs: args.int("procs", 4),
  interval: args.int("interval", 1000),
  size: args.int("size", 64),
  sample: args.int("sample", 15),
  concurrency: args.int("concurrency", 50),
};
const targets = args.list("targets", ["ours", "reference"]);
const json = args.flag("json");

const SERVER_PROC = path.join(__dirname, "lib", "soak-server-proc.js");
const CLIENT_PROC = path.join(__dirname, "lib", "soak-client-proc.js");
const MB = 1024 * 1024;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function median(values) {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function soak(target) {
  const server = spawn(SERVER_PROC, ["--expose-gc"]);
  const clients = Array.from({ length: settings.procs }, () => spawn(CLIENT_PROC));
  try {
    const { port } = await server.request("start", { target });
    const rampStart = Date.now();
    const share = (i) =>
      Math.floor(settings.sessions / settings.procs) + (i < settings.sessions % settings.procs ? 1 : 0);
    const opened = await Promise.all(
      clients.map((c, i) =>
        c.request("connect", { port, n: share(i), concurrency: settings.concurrency }, 30 * 60 * 1000),
      ),
    );
    const connectErrors = opened.reduce((s, o) => s + o.connectErrors, 0);
    for (
      let tries = 0;
      (await server.request("count")) < settings.sessions - connectErrors && tries < 600;
      tries++
    ) {
      await sleep(100);
    }
    const rampSec = (Date.now() - rampStart) / 1000;
    const sessions = await server.request("count");
    console.log(
      `${target}: ${sessions} sessions open after ${rampSec.toFixed(1)} s (${connectErrors} connect errors)`,
    );
    await sleep(5000);

    const baseline = await server.request("sample", {}, 120000);
    await server.request("startTrickle", { intervalMs: settings.interval, size: settings.size });
    const start = Date.now();
    const end = start + settings.duration * 1000;
    const samples = [];
    while (Date.now() < end) {
      await sleep(Math.min(settings.sample * 1000, end - Date.now()));
      const s = await server.request("sample", {}, 120000);
      s.t = (Date.now() - start) / 1000;
      samples.push(s);
      console.log(
        `  ${s.t.toFixed(0).padStart(4)} s  heap ${(s.heapUsed / MB).toFixed(1)} MB  rss ${(s.rss / MB).toFixed(0)} MB  ` +
          `loop delay p99 ${s.p99.toFixed(1)} ms (max ${s.max.toFixed(1)})  CPU ${s.cpu.toFixed(1)} %  ` +
          `sessions ${s.clients}  disconnects ${s.disconnects}`,
      );
    }
    const stopped = await server.request("stopTrickle");
    await sleep(2000);
    const stats = await Promise.all(clients.map((c) => c.request("stats")));
    const received = stats.reduce((s, c) => s + c.received, 0);
    const clientDisconnects = stats.reduce((s, c) => s + c.disconnects, 0);
    const clientReasons = {};
    for (const c of stats)
      for (const [r, n] of Object.entries(c.reasons)) clientReasons[r] = (clientReasons[r] || 0) + n;
    const heap = samples.map((s) => ({ x: s.t / 60, y: s.heapUsed / MB }));
    return {
      target,
      sessions,
      rampSec,
      serverDisconnects: stopped.disconnects - baseline.disconnects,
      serverReasons: stopped.reasons,
      clientDisconnects,
      clientReasons,
      sent: stopped.sent,
      delivered: received / (stopped.sent * sessions),
      heapStartMb: heap[0].y,
      heapEndMb: heap[heap.length - 1].y,
      heapSlopeMbPerMin: slope(heap),
      rssEndMb: samples[samples.length - 1].rss / MB,
      p99MaxMs: Math.max(...samples.map((s) => s.p99)),
      p99MedianMs: median(samples.map((s) => s.p99)),
      delayMaxMs: Math.max(...samples.map((s) => s.max)),
      cpuPercent: samples.reduce((sum, s) => sum + s.cpu, 0) / samples.length,
      samples: samples.map((s) => ({ t: s.t, heapMb: s.heapUsed / MB, p99: s.p99, cpu: s.cpu })),
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
    ["ramp s", (r) => r.rampSec.toFixed(0)],
    ["disconnects (server/client)", (r) => `${r.serverDisconnects}/${r.clientDisconnects}`],
    ["broadcasts", (r) => String(r.sent)],
    ["delivered", (r) => `${(r.delivered * 100).toFixed(2)} %`],
    ["heap MB start→end", (r) => `${r.heapStartMb.toFixed(1)}→${r.heapEndMb.toFixed(1)}`],
    ["heap MB/min", (r) => r.heapSlopeMbPerMin.toFixed(2)],
    ["RSS MB", (r) => r.rssEndMb.toFixed(0)],
    ["loop p99 ms (max/median)", (r) => `${r.p99MaxMs.toFixed(1)}/${r.p99MedianMs.toFixed(1)}`],
    ["loop max ms", (r) => r.delayMaxMs.toFixed(1)],
    ["server CPU %", (r) => r.cpuPercent.toFixed(1)],
  ];
  const cells = rows.map((r) =>
    r.error ? [TARGETS[r.target].label, `error: ${r.error}`] : columns.map(([, f]) => f(r)),
  );
  const widths = columns.map(([title], i) =>
    Math.max(title.length, ...cells.map((c) => (c[i] || "").length)),
  );
  console.log(
    `\nsoak: ${settings.sessions} websocket sessions for ${settings.duration} s, default heartbeat, ` +
      `one broadcast of ${settings.size} chars every ${settings.interval} ms`,
  );
  console.log(
    columns.map(([title], i) => (i ? title.padStart(widths[i]) : title.padEnd(widths[i]))).join("  "),
  );
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells)
    console.log(c.map((cell, i) => (i ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  "));
  for (const r of rows) {
    if (r.serverDisconnects || r.clientDisconnects) {
      console.log(
        `${r.target}: server reasons ${JSON.stringify(r.serverReasons)}, client reasons ${JSON.stringify(r.clientReasons)}`,
      );
    }
  }
}

(async () => {
  const rows = [];
  for (const target of targets) {
    const reason = unavailable(target);
    if (reason) {
      console.log(`${target}: skipped (${reason})`);
      continue;
    }
    try {
      rows.push(await soak(target));
    } catch (err) {
      rows.push({ target, error: err.message });
      process.exitCode = 1;
    }
  }
  print(rows);
  if (json) console.log(JSON.stringify({ bench: "soak", settings, rows }));
})();
