"use strict";

// Differential testing: one scripted scenario runs on this package and on the reference
// (socket.io 4.8 / engine.io 6.6, dev dependencies) in the same process, and what it
// observed must be the same on both. A scenario gets an implementation ({ name, engine(),
// sio() }) and returns plain data (event names in order, states, error messages, timings);
// the harness compares the two results. Scenarios run one after the other, never at the
// same time, so that one server's timers do not delay the other's.
const path = require("path");
const expect = require("expect.js");

const dist = path.join(__dirname, "..", "..", "dist");

const OURS = {
  name: "ours",
  engine: () => require(path.join(dist, "engine")),
  sio: () => require(dist),
};

const REFERENCE = {
  name: "reference",
  engine: () => require("engine.io"),
  sio: () => require("socket.io-reference"),
};

/**
 * Runs `scenario` on both implementations and returns `{ ours, reference }`; asserts that
 * both observed the same (deep equality) unless `compare(ours, reference)` is given.
 *
 * @example
 * await differential(async ({ sio }) => {
 *   const io = new (sio().Server)();
 *   ...
 *   return observations;
 * });
 */
async function differential(scenario, { compare } = {}) {
  const reference = await scenario(REFERENCE);
  const ours = await scenario(OURS);
  if (compare) {
    compare(ours, reference);
  } else {
    expect(ours).to.eql(reference);
  }
  return { ours, reference };
}

/**
 * Declares a mocha test that runs `scenario` on both implementations.
 *
 * @example
 * same("the own room is independent of socket.rooms", async ({ sio }) => { ... });
 */
function same(title, scenario, options) {
  it(title, () => differential(scenario, options));
}

/**
 * Records, in order, the events among `names` that `emitter` emits, with their first
 * argument mapped by `map` (default: dropped).
 *
 * @example
 * const log = recordEvents(socket, ["packet", "close"], (arg) => arg && arg.type);
 * ...
 * return log;
 */
function recordEvents(emitter, names, map) {
  const log = [];
  for (const name of names) {
    emitter.on(name, (arg) => log.push(map ? [name, map(arg, name)] : name));
  }
  return log;
}

/**
 * The EventEmitter surface of `emitter`: each event name with its listener count, sorted.
 *
 * @example
 * expect(listenerSurface(socket.conn.transport)).to.eql(...);
 */
function listenerSurface(emitter) {
  return emitter
    .eventNames()
    .map((name) => [String(name), emitter.listenerCount(name)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Asserts that `actual` is within `tolerance` of `expected` (timings).
 *
 * @example
 * expectWithin(gap, 300, 5, "ping gap");
 */
function expectWithin(actual, expected, tolerance, what = "value") {
  if (Math.abs(actual - expected) > tolerance) {
    throw new Error(`${what}: ${actual} is not within ${tolerance} of ${expected}`);
  }
}

module.exports = { OURS, REFERENCE, differential, same, recordEvents, listenerSurface, expectWithin };
