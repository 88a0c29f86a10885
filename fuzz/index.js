"use strict";

// `npm run fuzz`: mutated Engine.IO / Socket.IO traffic from many raw peers against a server
// process running this package (or the reference), with its invariants checked throughout.
// Exits with 1 when a violation was found. See the README ("Fuzzing") for the flags.
//
//   npm run fuzz -- --frames=1000000 --seed=7 --peers=64
//   npm run fuzz -- --target=reference --duration=60
//   npm run fuzz -- --replay=fuzz-results/violation-ours-seed7-1.json [--minimize]

const args = require("../bench/lib/args");
const { run, DEFAULTS } = require("./run");
const { replay, minimize } = require("./replay");
const { CLASSES } = require("./packets");

const MB = 1024 * 1024;
const num = (name) => {
  const value = args.str(name);
  if (value === undefined) return DEFAULTS[name.replace(/-(\w)/g, (_, c) => c.toUpperCase())];
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a non-negative number, got "${value}"`);
    process.exit(2);
  }
  return n;
};

function options() {
  const skip = args.list("skip", []);
  const known = [...Object.keys(CLASSES), "stderr"];
  for (const name of skip) {
    if (!known.includes(name)) {
      console.error(`unknown --skip class "${name}"; known: ${known.join(", ")}`);
      process.exit(2);
    }
  }
  const target = args.str("target") || DEFAULTS.target;
  if (!["ours", "reference"].includes(target)) {
    console.error(`--target must be ours or reference, got "${target}"`);
    process.exit(2);
  }
  return {
    seed: num("seed"),
    peers: num("peers"),
    frames: args.str("frames") === undefined && args.str("duration") !== undefined ? Infinity : num("frames"),
    duration: args.str("duration") === undefined ? Infinity : num("duration"),
    target,
    skip,
    rtt: num("rtt"),
    pingInterval: num("ping-interval"),
    pingTimeout: num("ping-timeout"),
    heapMargin: num("heap-margin"),
    heapLimit: num("heap-limit"),
    settle: num("settle"),
    warmup: num("warmup"),
    history: num("history"),
    out: args.str("out") || DEFAULTS.out,
    heapSnapshots: args.flag("heap-snapshots"),
    progress: args.flag("quiet") ? null : (line) => console.error(`[fuzz] ${line}`),
  };
}

const mb = (bytes) => (bytes === null ? "-" : `${(bytes / MB).toFixed(1)} MB`);

function printViolations(violations) {
  console.log(`violations: ${violations.length === 0 ? "none" : violations.length + " class(es)"}`);
  for (const v of violations) {
    console.log(`  - ${v.kind} (x${v.count}${v.frame !== undefined ? `, first at frame ${v.frame}` : ""})`);
    for (const line of v.message.split("\n").slice(0, 6)) console.log(`      ${line}`);
    if (v.reproducer) console.log(`      reproducer: npm run fuzz -- --replay=${v.reproducer}`);
  }
}

function printReport(r) {
  const s = r.durationMs / 1000;
  const ops = Object.entries(r.byOp)
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");
  console.log(
    `\nfuzz: target=${r.target} seed=${r.seed} peers=${r.peers}${r.skip.length ? ` skip=${r.skip.join(",")}` : ""}`,
  );
  console.log(
    `frames: ${r.frames} in ${s.toFixed(1)} s (${Math.round(r.frames / s)}/s; ${ops}; warm-up ${r.warmupFrames}), sessions ${r.sessions}`,
  );
  console.log(
    `heap: baseline ${mb(r.heap.baseline)}, peak ${mb(r.heap.peak)}, after the run and GC ${mb(r.heap.after)} (margin ${mb(r.heap.margin)})`,
  );
  console.log(
    `bystanders: max round trip ${r.maxRtt} ms over ${r.rttRounds} round trips; server restarts: ${r.restarts}`,
  );
  if (r.reached)
    console.log(
      `reached: ${Object.entries(r.reached)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
  printViolations(r.violations);
}

(async () => {
  const o = options();
  const file = args.str("replay");
  const replayOptions = { skip: o.skip, ...(args.str("target") ? { target: o.target } : {}) };
  if (file && args.flag("minimize")) {
    const result = await minimize(file, { ...replayOptions, log: o.progress || (() => {}) });
    if (!result.file)
      console.log(`${file}: the violation does not reproduce on replay (${result.attempts} attempt)`);
    else
      console.log(
        `minimized to ${result.ops} ops in ${result.attempts} replays: npm run fuzz -- --replay=${result.file}`,
      );
    process.exit(0);
  }
  if (file) {
    const result = await replay(file, replayOptions);
    console.log(`replayed ${result.ops} ops (${result.frames} sent) against ${result.target}`);
    console.log(`recorded: ${result.recorded.kind}: ${result.recorded.message.split("\n")[0]}`);
    printViolations(result.violations.map((v) => ({ ...v, count: 1 })));
    process.exit(result.violations.length ? 1 : 0);
  }
  const report = await run(o);
  printReport(report);
  if (args.flag("json")) console.log(JSON.stringify(report));
  // a raw peer's WebSocket may keep its 30 s closing timer alive: the run is over
  process.exit(report.violations.length ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});
