"use strict";

// A flooding client against the `rateLimit` option: one client sends events as fast as
// the server reads them (raw WebSocket frames, or polling POSTs of many packets) against
// a limit of --limit events/s, next to --clients ordinary clients that each send an echo
// with an acknowledgement every --interval ms. Each transport runs two phases of
// --duration seconds: the ordinary clients alone, then with the flooder. Reported: the
// echo p99 of both phases and their ratio, the flooder's rate, the most flood events the
// handler ran in one full second, what the flooder cost the server (retained heap and
// external memory, sampled after a full gc), and in disconnect mode the time until the
// flooder was disconnected. Our server only (the reference has no such option).
//
//   node bench/flood.js [--clients=1000] [--interval=1000] [--duration=10] [--limit=100]
//                       [--transports=websocket,polling] [--per-post=2000]
//                       [--on-limit=drop|disconnect] [--json]

const path = require("path");
const args = require("./lib/args");
const { spawn } = require("./lib/ipc");

const settings = {
  clients: args.int("clients", 1000),
  interval: args.int("interval", 1000),
  duration: args.int("duration", 10),
  limit: args.int("limit", 100),
  perPost: args.int("per-post", 2000),
  transports: args.list("transports", ["websocket", "polling"]),
  onLimit: args.str("on-limit") || "drop",
};

const lib = (name) => path.join(__dirname, "lib", name);

function row(cells, widths) {
  return cells.map((c, i) => String(c).padEnd(widths[i])).join("  ");
}

async function main() {
  const server = spawn(lib("flood-server-proc.js"), ["--expose-gc"]);
  const clients = spawn(lib("flood-clients-proc.js"), [], { nofile: settings.clients + 1024 });
  const flooder = spawn(lib("flood-flooder-proc.js"));
  const results = [];
  try {
    const { port } = await server.request("start", {
      options: { rateLimit: { perSecond: settings.limit, onLimit: settings.onLimit } },
    });
    await clients.request("connect", { port, n: settings.clients }, 120000);
    const ms = settings.duration * 1000;
    const echo = () => clients.request("echo", { ms, intervalMs: settings.interval }, ms + 60000);
    // a first round so that both measured phases run on a warm server
    await clients.request("echo", { ms: 2000, intervalMs: settings.interval }, 60000);
    const flood = (transport) =>
      flooder.request("flood", { port, transport, ms, perPost: settings.perPost }, ms + 60000);
    // the flooder's session gone (a polling one is left to the heartbeat)
    const gone = async (transport) => {
      if (transport !== "websocket") return;
      const deadline = Date.now() + 10000;
      while ((await server.request("clients")) > settings.clients && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    for (const transport of settings.transports) {
      const alone = await echo();
      await server.request("mark", {});
      const [withFlood, flooded] = await Promise.all([echo(), flood(transport)]);
      const stats = await server.request("stats", {}, 60000);
      await gone(transport);
      const floodMs = (flooded.closedAt || flooded.started + ms) - flooded.started;
      // the memory, apart: sampling it takes a full gc each time, which would show in the
      // latencies
      await server.request("mark", { ms: 250 });
      await flood(transport);
      const memory = await server.request("stats", {}, 60000);
      await gone(transport);
      results.push({
        transport,
        p99Alone: alone.p99,
        p99Flood: withFlood.p99,
        ratio: withFlood.p99 / alone.p99,
        echoes: withFlood.count,
        // what the server read of the flood: handled or dropped
        floodReadPerSec: ((stats.handled + stats.dropped) / floodMs) * 1000,
        handledMaxPerSec: stats.maxPerSecond,
        handledPerSec: (stats.handled / floodMs) * 1000,
        disconnectMs: stats.disconnectedAt === null ? null : stats.disconnectedAt - flooded.started,
        serverMB: memory.growth / (1024 * 1024),
        loopDelayP99Ms: stats.loopDelayP99Ms,
        loopDelayMaxMs: stats.loopDelayMaxMs,
      });
    }
  } finally {
    server.kill();
    clients.kill();
    flooder.kill();
  }

  console.log(
    `\nflood: ${settings.clients} clients echoing every ${settings.interval} ms, one flooder, ` +
      `rateLimit ${settings.limit}/s (${settings.onLimit}), ${settings.duration} s per phase`,
  );
  const widths = [10, 12, 15, 6, 13, 10, 14, 14, 10];
  console.log(
    row(
      [
        "flooder",
        "echo p99 ms",
        "p99 flooded ms",
        "ratio",
        "flood read/s",
        "handled/s",
        "handled max/s",
        "disconnect ms",
        "server MB",
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
          r.transport,
          r.p99Alone.toFixed(2),
          r.p99Flood.toFixed(2),
          r.ratio.toFixed(2),
          Math.round(r.floodReadPerSec),
          r.handledPerSec.toFixed(1),
          r.handledMaxPerSec,
          r.disconnectMs === null ? "-" : r.disconnectMs,
          r.serverMB.toFixed(2),
        ],
        widths,
      ),
    );
  }
  if (args.flag("json")) console.log(JSON.stringify({ settings, results }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
