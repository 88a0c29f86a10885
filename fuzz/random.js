"use strict";

// Seeded randomness. Every byte the fuzzer sends comes from one of these generators, so
// that a seed names a run, and (seed, peer, session) names one session's traffic exactly.

/** mulberry32: a fast 32-bit generator; returns a function giving floats in [0, 1). */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One 32-bit seed from several integers (a run's seed, a peer, a session number). */
function mix(...parts) {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/**
 * A generator with the helpers the traffic generators use.
 *
 * @example
 * const r = random(mix(seed, peer, session));
 * r.pick(["a", "b"]); r.int(10); r.chance(0.1);
 */
function random(seed) {
  const next = prng(seed);
  const int = (n) => Math.floor(next() * n);
  return {
    next,
    int,
    /** An integer in [min, max]. */
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)],
    /** Picks from `[[weight, value], ...]`. */
    weighted(table) {
      let total = 0;
      for (const [weight] of table) total += weight;
      let x = next() * total;
      for (const [weight, value] of table) if ((x -= weight) < 0) return value;
      return table[table.length - 1][1];
    },
    bytes(n) {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    },
  };
}

module.exports = { prng, mix, random };
