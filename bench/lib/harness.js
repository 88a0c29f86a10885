"use strict";

// Runs one bench against each requested target in turn, each with a fresh server
// process and a fresh client process, then prints the results side by side.

const path = require("path");
const { spawn } = require("./ipc");
const args = require("./args");
const { NAMES, TARGETS, unavailable } = require("./targets");

const SERVER_PROC = path.join(__dirname, "server-proc.js");
const CLIENT_PROC = path.join(__dirname, "client-proc.js");

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function runOne(
  name,
  measure,
  timeoutMs,
  cpuProf,
  { serverOptions, clientProc = CLIENT_PROC, clientProcs = 1 },
) {
  // --cpu-prof=DIR writes a V8 CPU profile of each server process (open it in Chrome DevTools)
  const execArgv = cpuProf
    ? ["--expose-gc", "--cpu-prof", `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=${name}.cpuprofile`]
    : ["--expose-gc"];
  const server = spawn(SERVER_PROC, execArgv);
  const procs = Array.from({ length: clientProcs }, () => spawn(clientProc));
  try {
    const { port } = await server.request("start", { target: name, options: serverOptions });
    const result = await withTimeout(
      measure({ target: name, port, server, clients: procs[0], clientProcs: procs }),
      timeoutMs,
      name,
    );
    await server.request("close", {}, 5000);
    if (cpuProf) await server.end();
    return result;
  } finally {
    for (const proc of procs) proc.kill();
    server.kill();
  }
}

function pad(text, width, right) {
  return right ? text.padStart(width) : text.padEnd(width);
}

/**
 * Prints rows as an aligned table. `columns` are `{ key, title, digits }`; the
 * label and a status column come first; a row with `na`, `skipped` or `error` shows that instead.
 */
function printTable(title, columns, rows) {
  const header = ["server", ...columns.map((c) => c.title)];
  const lines = rows.map((row) => {
    const label = TARGETS[row.target] ? TARGETS[row.target].label : row.target;
    if (row.na) return [label, `n/a: ${row.na}`];
    if (row.skipped || row.error)
      return [label, row.skipped ? `skipped: ${row.skipped}` : `error: ${row.error}`];
    // a string value (such as "n/a") is shown as it is
    const cell = (value, digits) =>
      value === undefined ? "-" : typeof value === "string" ? value : value.toFixed(digits);
    return [label, ...columns.map((c) => cell(row[c.key], c.digits))];
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.filter((l) => l.length > 2 || i < 1).map((l) => (l[i] || "").length)),
  );
  console.log(`\n${title}`);
  console.log(header.map((h, i) => pad(h, widths[i], i > 0)).join("  "));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) {
    if (line.length === 2 && columns.length > 1) console.log(`${pad(line[0], widths[0])}  ${line[1]}`);
    else console.log(line.map((cell, i) => pad(cell, widths[i], i > 0)).join("  "));
  }
}

/**
 * Runs `measure` for each target and prints one table.
 *
 * @param {object} bench
 * @param {string} bench.title first line of the table (say what was measured, with the settings)
 * @param {Function} bench.measure async ({ target, port, server, clients }) => row fields
 * @param {{ key: string, title: string, digits: number }[]} bench.columns
 * @param {{ key: string, title: string }} [bench.compare] row field to divide by the reference's
 * @param {object} [bench.serverOptions] options given to every socket.io / engine server
 * @param {string[]} [bench.targets] the targets run without --targets; default all
 * @param {string} [bench.clientProc] the client process script; default client-proc.js
 * @param {number} [bench.clientProcs] client processes per target (measure gets them as
 *   `clientProcs`, the first one also as `clients`); default 1
 * @param {object} [bench.notApplicable] target name -> why the bench means nothing for it
 *   (shown as `n/a: reason`, not run)
 *
 * The settings every bench shares come from the command line: --targets (names from
 * targets.js), --timeout (seconds for one target), --json (also print the rows as one
 * JSON line), --cpu-prof (directory where each server process writes a CPU profile) and
 * --repeat (times every target runs, taking turns; the median row is shown).
 * @example
 * await runBench({ title: "emit", measure, columns });
 */
async function runBench({
  title,
  measure,
  columns,
  compare,
  serverOptions,
  clientProc,
  clientProcs,
  notApplicable = {},
  targets: defaultTargets = NAMES,
}) {
  const targets = args.list("targets", defaultTargets);
  const timeoutMs = args.int("timeout", 60) * 1000;
  const json = args.flag("json");
  const cpuProf = args.str("cpu-prof");
  const repeat = args.int("repeat", 1);
  // Targets take turns, `repeat` times over: a slow spell of the machine then hits every
  // target alike instead of whichever happened to run during it.
  const results = new Map();
  for (const target of targets) {
    const reason = unavailable(target);
    if (notApplicable[target]) results.set(target, { target, na: notApplicable[target] });
    else results.set(target, reason ? { target, skipped: reason } : []);
  }
  for (let round = 0; round < repeat; round++) {
    for (const target of targets) {
      const runs = results.get(target);
      if (!Array.isArray(runs)) continue;
      try {
        runs.push({
          target,
          ...(await runOne(target, measure, timeoutMs, cpuProf, { serverOptions, clientProc, clientProcs })),
        });
      } catch (err) {
        results.set(target, { target, error: err.message });
        process.exitCode = 1;
      }
    }
  }
  const key = (compare || columns[0]).key;
  const rows = targets.map((target) => {
    const runs = results.get(target);
    return Array.isArray(runs) ? median(runs, (row) => row[key]) : runs;
  });

  const cols = columns.slice();
  const reference = rows.find((r) => r.target === "reference" && !r.error && !r.skipped);
  if (compare && reference) {
    for (const row of rows)
      if (row[compare.key] !== undefined) row.vsReference = row[compare.key] / reference[compare.key];
    cols.push({ key: "vsReference", title: compare.title, digits: 2 });
  }
  printTable(title, cols, rows);
  if (json) console.log(JSON.stringify({ bench: title, rows }));
  return rows;
}

/** The element whose `key` is the median: one real round, not a blend of several. */
function median(items, key) {
  const sorted = items.slice().sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

module.exports = { runBench, median };
