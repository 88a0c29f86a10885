"use strict";

// A flooding client against the `rateLimit` option: one client sends events as fast as
// the server reads them (raw WebSocket frames, or polling POSTs of many packets) against
// a limit of --limit events/s, next to --clients ordinary clients that each send an echo
// with an acknowledgement every --interval ms. Each target and transport runs two phases
// of --duration seconds: the ordinary clients alone, then with the flooder. Reported: the
// echo p99 of both phases and their ratio, what the server read of the flood, what the
// handler ran (per second on average, the most in one full calendar second, the most in
// any one-second window), what the flooder cost the server (retained heap and external
// memory, sampled after a full gc, in a third phase), the server's CPU time per second
// without and with the flooder, the WebSocket flooder's reads (how many, and the ms the
// server spent over one, median/max: how long the flood held the event loop; less noisy
// than latencies on a shared machine), and in disconnect mode the time until the flooder
// was disconnected.
//
// Targets: ours (with the limit), baseline (another build of ours, BENCH_BASELINE, with
// the limit; only when named), reference (socket.io 4.8: no such option, the flood reaches
// the handler), ws (a raw ws server that counts the flood and echoes the rest; WebSocket
// only).
//
//   node bench/flood.js [--targets=ours,reference,ws] [--clients=1000] [--interval=1000]
//                       [--duration=10] [--limit=100] [--burst=N]
//                       [--transports=websocket,polling] [--per-post=2000]
//                       [--on-limit=drop|disconnect] [--repeat=N] [--json] [--cpu-prof=DIR]
//
// --repeat=N: the two echo phases (alone, with the flooder) take turns N times; the row
// shows the last pair, and the ratio of every pair is listed after the table.

const path = require("path");
const args = require("./lib/args");
const { spawn } = require("./lib/ipc");
const { TARGETS, unavailable } = require("./lib/targets");

const settings = {
  targets: args.list("targets", ["ours", "reference", "ws"]),
  clients: args.int("clients", 1000),
  interval: args.int("interval", 1000),
  duration: args.int("duration", 10),
  limit: args.int("limit", 100),
  burst: args.str("burst") === undefined ? undefined : args.int("burst", 1),
  perPost: args.int("per-post", 2000),
  transports: args.list("transports", ["websocket", "polling"]),
  onLimit: args.str("on-limit") || "drop",
  repeat: args.int("repeat", 1),
};

const lib = (name) => path.join(__dirname, "lib", name);

function row(cells, widths) {
  return cells.map((c, i) => String(c).padEnd(widths[i])).join("  ");
}

/** Whether the target has the `rateLimit` option (this package, any build). */
const limited = (target) => target === "ours" || target === "baseline";

async function run(target, results) {
  const kind = TARGETS[target].kind;
  // --cpu-prof=DIR writes a V8 CPU profile of each server process (open it in Chrome DevTools)
  const cpuProf = args.str("cpu-prof");
  const execArgv = cpuProf
    ? ["--expose-gc", "--cpu-prof", `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=flood-${target}.cpuprofile`]
    : ["--expose-gc"];
  const server = spawn(lib("flood-server-proc.js"), execArgv);
  const clients = spawn(lib("flood-clients-proc.js"), [], { nofile: settings.clients + 1024 });
  const flooder = spawn(lib("flood-flooder-proc.js"));
  try {
    const rateLimit = { perSecond: settings.limit, onLimit: settings.onLimit };
    if (settings.burst !== undefined) rateLimit.burst = settings.burst;
    const { port } = await server.request("start", { target, options: limited(target) ? { rateLimit } : {} });
    await clients.request("connect", { port, n: settings.clients, kind }, 120000);
    const ms = settings.duration * 1000;
    const echo = () => clients.request("echo", { ms, intervalMs: settings.interval }, ms + 60000);
    // a first round so that both measured phases run on a warm server
    await clients.request("echo", { ms: 2000, intervalMs: settings.interval }, 60000);
    const flood = (transport) =>
      flooder.request(
        "flood",
        { port, transport, ms, perPost: settings.perPost, raw: kind === "ws" },
        ms + 60000,
      );
    // the flooder's session gone (a polling one is left to the heartbeat)
    const gone = async (transport) => {
      if (transport !== "websocket") return;
      const deadline = Date.now() + 10000;
      while ((await server.request("clients")) > settings.clients && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    // the raw ws baseline has no polling
    const transports =
      kind === "ws" ? settings.transports.filter((t) => t === "websocket") : settings.transports;
    for (const transport of transports) {
      // --repeat: the two phases take turns, so that a change in the machine's other load
      // shows as a spread of the ratios rather than as one ratio
      const ratios = [];
      let alone, quiet, withFlood, flooded, stats;
      for (let k = 0; k < settings.repeat; k++) {
        await server.request("mark", {});
        alone = await echo();
        quiet = await server.request("stats", {}, 60000);
        await server.request("mark", {});
        [withFlood, flooded] = await Promise.all([echo(), flood(transport)]);
        stats = await server.request("stats", {}, 60000);
        await gone(transport);
        ratios.push(withFlood.p99 / alone.p99);
      }
      // the flood, or longer when the server went on reading its backlog after it
      const floodMs = Math.max(
        (flooded.closedAt || flooded.started + ms) - flooded.started,
        stats.handledSpanMs,
      );
      // the memory, apart: sampling it takes a full gc each time, which would show in the
      // latencies
      await server.request("mark", { ms: 250 });
      await flood(transport);
      const memory = await server.request("stats", {}, 60000);
      await gone(transport);
      results.push({
        target,
        transport,
        p99Alone: alone.p99,
        p99Flood: withFlood.p99,
        ratio: withFlood.p99 / alone.p99,
        ratios,
        echoes: withFlood.count,
        // what the server read of the flood: handled or dropped
        floodReadPerSec: ((stats.handled + stats.dropped) / floodMs) * 1000,
        handledPerSec: (stats.handled / floodMs) * 1000,
        handledMaxPerSec: stats.maxPerSecond,
        handledMaxAnySecond: stats.maxInAnySecond,
        disconnectMs: stats.disconnectedAt === null ? null : stats.disconnectedAt - flooded.started,
        serverMB: memory.growth / (1024 * 1024),
        loopDelayP99Ms: stats.loopDelayP99Ms,
        loopDelayMaxMs: stats.loopDelayMaxMs,
        cpuAlone: quiet.cpuMsPerSec,
        cpuFlood: stats.cpuMsPerSec,
        floodReads: stats.reads,
      });
    }
  } finally {
    if (cpuProf) await server.end();
    server.kill();
    clients.kill();
    flooder.kill();
  }
}

async function main() {
  const results = [];
  for (const target of settings.targets) {
    const why = unavailable(target);
    if (why) {
      console.log(`${target}: skipped (${why})`);
      continue;
    }
    await run(target, results);
  }

  const burst = settings.burst === undefined ? "burst: default" : `burst ${settings.burst}`;
  console.log(
    `\nflood: ${settings.clients} clients echoing every ${settings.interval} ms, one flooder, ` +
      `rateLimit ${settings.limit}/s, ${burst} (${settings.onLimit}; ours only), ${settings.duration} s per phase`,
  );
  const widths = [10, 10, 12, 15, 6, 13, 10, 12, 12, 14, 10, 12, 16];
  console.log(
    row(
      [
        "target",
        "flooder",
        "echo p99 ms",
        "p99 flooded ms",
        "ratio",
        "flood read/s",
        "handled/s",
        "max in a s",
        "max any 1 s",
        "disconnect ms",
        "server MB",
        "CPU ms/s",
        "flooder's reads",
      ],
      widths,
    ),
  );
  console.log(
    row(
      widths.map((w) => "-".repeat(w)),
      widths,
    ),
  );
  for (const r of results) {
    console.log(
      row(
        [
          r.target,
          r.transport,
          r.p99Alone.toFixed(2),
          r.p99Flood.toFixed(2),
          r.ratio.toFixed(2),
          Math.round(r.floodReadPerSec),
          r.handledPerSec.toFixed(1),
          r.handledMaxPerSec,
          r.handledMaxAnySecond,
          r.disconnectMs === null ? "-" : r.disconnectMs,
          r.serverMB.toFixed(2),
          `${r.cpuAlone.toFixed(0)}/${r.cpuFlood.toFixed(0)}`,
          r.floodReads.count === 0
            ? "-"
            : `${r.floodReads.count} ${r.floodReads.medianMs.toFixed(2)}/${r.floodReads.maxMs.toFixed(1)}`,
        ],
        widths,
      ),
    );
  }
  if (settings.repeat > 1) {
    console.log("\necho p99 with the flooder / alone, each pair in turn (median):");
    for (const r of results) {
      const sorted = r.ratios.slice().sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      console.log(
        `${r.target} ${r.transport}: ${r.ratios.map((x) => x.toFixed(2)).join(", ")} (${median.toFixed(2)})`,
      );
    }
  }
  if (args.flag("json")) console.log(JSON.stringify({ settings, results }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
