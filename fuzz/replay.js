"use strict";

// Reproducers: a violation file holds the ops sent just before the violation. `replay` sends
// them again, in their recorded order, one op at a time, against a fresh server; `minimize`
// keeps removing sessions (then single ops) while the same violation still happens, and
// writes what is left next to the file, as "<file>.min.json".

const fs = require("fs");
const { DEFAULTS, Processes, signature } = require("./run");
const { Session, closeIdle } = require("./peer");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Revives the Buffers of a reproducer file (JSON writes them as { type, data }). */
const revive = (key, value) =>
  value && value.type === "Buffer" && Array.isArray(value.data) ? Buffer.from(value.data) : value;

const load = (file) => JSON.parse(fs.readFileSync(file, "utf8"), revive);
const sessionKey = (op) => `${op.peer}.${op.session}`;

/** Sends `ops` against a fresh server; stops early once a violation with signature `until` is seen. */
async function replayOps(ops, o, until) {
  const violations = [];
  let matched = null;
  const seen = new Promise((resolve) => (matched = resolve));
  const onViolation = (v) => {
    violations.push(v);
    if (until && signature(v) === until) matched();
  };
  const procs = new Processes(o, onViolation);
  const onInvalidFrame = (message) => onViolation({ kind: "invalid-frame", message });
  const sessions = new Map();
  let frames = 0;
  try {
    await procs.start();
    for (const op of ops) {
      if (!procs.alive || (until && violations.some((v) => signature(v) === until))) break;
      if (!sessions.has(sessionKey(op)))
        sessions.set(sessionKey(op), new Session(procs.ports, onInvalidFrame));
      if (await sessions.get(sessionKey(op)).exec(op)) frames++;
    }
    // what the last ops started (a timeout, a reset) has time to happen
    await Promise.race([seen, sleep(1500)]);
  } finally {
    for (const session of sessions.values()) session.end();
    closeIdle();
    await procs.stop();
  }
  return { frames, violations };
}

function settings(recorded, options) {
  const o = { ...DEFAULTS, target: recorded.target, ...options };
  const skip = new Set([...recorded.skip, ...(options.skip || [])]);
  o.checkStderr = !skip.has("stderr") && !process.env.DEBUG;
  return o;
}

/**
 * Replays a reproducer file and resolves with the violations seen.
 *
 * @example
 * const { violations } = await replay("fuzz-results/violation-ours-seed1-1.json");
 */
async function replay(file, options = {}) {
  const recorded = load(file);
  const o = settings(recorded, options);
  const { frames, violations } = await replayOps(recorded.ops, o);
  return { target: o.target, ops: recorded.ops.length, frames, recorded: recorded.violation, violations };
}

/** Delta debugging over `items`: the smallest list found for which `fails(list)` holds. */
async function ddmin(items, fails) {
  let n = 2;
  while (items.length >= 2) {
    const size = Math.ceil(items.length / n);
    const chunks = [];
    for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
    let reduced = false;
    for (let i = 0; i < chunks.length && !reduced; i++) {
      if (await fails(chunks[i])) {
        items = chunks[i];
        n = 2;
        reduced = true;
      } else if (chunks.length > 2) {
        const rest = chunks.filter((_, j) => j !== i).flat();
        if (await fails(rest)) {
          items = rest;
          n = Math.max(n - 1, 2);
          reduced = true;
        }
      }
    }
    if (!reduced) {
      if (n >= items.length) break;
      n = Math.min(n * 2, items.length);
    }
  }
  return items;
}

/**
 * Shrinks a reproducer to the sessions, then the ops, still needed for its violation.
 *
 * @example
 * const { file, ops } = await minimize("fuzz-results/violation-ours-seed1-3.json", { log: console.log });
 */
async function minimize(file, options = {}) {
  const recorded = load(file);
  const o = settings(recorded, options);
  const wanted = signature(recorded.violation);
  const log = options.log || (() => {});
  let attempts = 0;
  const fails = async (ops) => {
    attempts++;
    const { violations } = await replayOps(ops, o, wanted);
    const hit = violations.some((v) => signature(v) === wanted);
    log(`attempt ${attempts}: ${ops.length} ops -> ${hit ? "reproduced" : "not reproduced"}`);
    return hit;
  };
  if (!(await fails(recorded.ops))) return { file: null, ops: recorded.ops.length, attempts };
  const keys = [...new Set(recorded.ops.map(sessionKey))];
  const kept = new Set(
    await ddmin(keys, (subset) => fails(recorded.ops.filter((op) => subset.includes(sessionKey(op))))),
  );
  const ops = await ddmin(
    recorded.ops.filter((op) => kept.has(sessionKey(op))),
    fails,
  );
  const out = file.replace(/\.json$/, "") + ".min.json";
  fs.writeFileSync(out, JSON.stringify({ ...recorded, ops }, null, 1));
  return { file: out, ops: ops.length, attempts };
}

module.exports = { replay, minimize };
