"use strict";

// Where the bytes of an idle websocket session go. For each target, a fresh server process
// (with --expose-gc) takes a heap snapshot after a warm-up, then another once N idle
// socket.io-client (websocket) sessions are connected, both after a full gc. The difference
// is divided by N and shown two ways:
//  - by kind: constructor name (`WebSocket`, `Object`…), closure name (`onclose()`),
//    "(string)", "(array) (object properties)" (a dictionary-mode object's backing store)…
//  - by owner: the nearest object of a named class up the retainer path, with the field
//    that leads to the bytes: `IncomingMessage .rawHeaders` sums that array and its strings,
//    `WebSocket ._events` the listeners' table and closures; the owner's own object counts
//    under its bare name (`IncomingMessage`);
//  - by retainer path: the last --depth steps of the shortest path from the GC roots,
//    e.g. `IncomingMessage .rawHeaders -> Array .[] -> (string)`.
// A row with count 2.00 means two such objects per session.
//
//   node bench/heap-breakdown.js [--sessions=1000] [--targets=ours,reference,ws] [--top=40]
//                                [--depth=2] [--min-bytes=8] [--keep=DIR] [--timeout=60] [--json]
//
// --keep=DIR keeps the snapshots there (<target>-before/after.heapsnapshot, for DevTools'
// Comparison view); otherwise they go to the system's temp directory and are deleted.
// Targets: any of bench/lib/targets.js, e.g. ours-no-request (rawSocket.request = null).

const fs = require("fs");
const os = require("os");
const path = require("path");
const args = require("./lib/args");
const { runBench } = require("./lib/harness");
const { summarize, diff } = require("./lib/heap-snapshot");
const { TARGETS } = require("./lib/targets");

const settings = {
  sessions: args.int("sessions", 1000),
  top: args.int("top", 40),
  depth: args.int("depth", 2),
  minBytes: args.int("min-bytes", 8),
};
const keep = args.str("keep");
const WARMUP_CLIENTS = 20;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForCount(server, expected) {
  for (let tries = 0; (await server.request("count")) !== expected; tries++) {
    if (tries > 400) throw new Error(`server never reached ${expected} clients`);
    await sleep(50);
  }
}

async function measure({ target, port, server, clients }) {
  const dir = keep || fs.mkdtempSync(path.join(os.tmpdir(), "heap-breakdown-"));
  fs.mkdirSync(dir, { recursive: true });
  const before = path.join(dir, `${target}-before.heapsnapshot`);
  const after = path.join(dir, `${target}-after.heapsnapshot`);
  try {
    // Code loaded on the first connections is not the sessions' (as in memory.js)
    await clients.request("connect", { target, port, n: WARMUP_CLIENTS });
    await clients.request("closeAll");
    await waitForCount(server, 0);
    await sleep(500);
    await server.request("snapshot", { file: before }, 120000);
    const heapBefore = await server.request("memory");

    await clients.request("connect", { target, port, n: settings.sessions }, 120000);
    await waitForCount(server, settings.sessions);
    await sleep(1000);
    await server.request("snapshot", { file: after }, 120000);
    const heapAfter = await server.request("memory");

    const a = summarize(before, settings.depth);
    const b = summarize(after, settings.depth);
    return {
      heapPerSession: (heapAfter.heapUsed - heapBefore.heapUsed) / settings.sessions,
      snapshotPerSession: (b.totalSize - a.totalSize) / settings.sessions,
      nodesPerSession: (b.nodeCount - a.nodeCount) / settings.sessions,
      byKind: diff(a.byKind, b.byKind, settings.sessions, settings.minBytes),
      byOwner: diff(a.byOwner, b.byOwner, settings.sessions, settings.minBytes),
      byPath: diff(a.byPath, b.byPath, settings.sessions, settings.minBytes),
    };
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function printBreakdown(title, rows, total) {
  const shown = rows.slice(0, settings.top);
  const sum = shown.reduce((s, r) => s + r.size, 0);
  console.log(
    `\n  ${title} (top ${shown.length} of ${rows.length} rows >= ${settings.minBytes} B; they add up to ${sum.toFixed(0)} of ${total.toFixed(0)} B)`,
  );
  console.log("   B/session  count  what");
  for (const r of shown)
    console.log(`  ${r.size.toFixed(0).padStart(10)}  ${r.count.toFixed(2).padStart(5)}  ${r.key}`);
}

async function main() {
  const rows = await runBench({
    title: `heap per idle websocket session: ${settings.sessions} sessions (snapshots after a full gc)`,
    measure,
    targets: ["ours", "reference", "ws"],
    columns: [
      { key: "heapPerSession", title: "heapUsed B/session", digits: 0 },
      { key: "snapshotPerSession", title: "snapshot B/session", digits: 0 },
      { key: "nodesPerSession", title: "objects/session", digits: 1 },
    ],
    compare: { key: "heapPerSession", title: "heap x reference" },
  });
  for (const row of rows) {
    if (!row.byKind) continue;
    console.log(
      `\n${TARGETS[row.target].label}: ${row.snapshotPerSession.toFixed(0)} B and ${row.nodesPerSession.toFixed(1)} objects per session`,
    );
    printBreakdown("by kind", row.byKind, row.snapshotPerSession);
    printBreakdown("by owner", row.byOwner, row.snapshotPerSession);
    printBreakdown(`by retainer path (last ${settings.depth} steps)`, row.byPath, row.snapshotPerSession);
  }
}

module.exports = main;
if (require.main === module) main();
