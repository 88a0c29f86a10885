"use strict";

// Time stamps that mean the same thing in every process of a bench (milliseconds since the
// epoch, with sub-millisecond precision), payloads that carry one, and percentiles.

const { performance } = require("perf_hooks");

/** Now, in epoch milliseconds with microsecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

/** A payload of `size` characters starting with its sequence number and send time: "12 1764100000123.456 xxxx…". */
function stampedPayload(seq, size) {
  return `${seq} ${now().toFixed(3)} `.padEnd(size, "x");
}

/**
 * Reads the stamp of a received frame (`42["m","12 1764…"]`, or the same bytes from the raw
 * ws server): `{ seq, sentAt }`, or null when the frame carries none.
 */
function readStamp(frame) {
  const start = frame.indexOf('"m","');
  if (start === -1) return null;
  const space = frame.indexOf(" ", start + 5);
  const end = frame.indexOf(" ", space + 1);
  if (space === -1 || end === -1) return null;
  return { seq: Number(frame.slice(start + 5, space)), sentAt: Number(frame.slice(space + 1, end)) };
}

/** The p-th percentile (0-100) of ascending `sorted` values, nearest rank. */
function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** `{ p50, p99, max }` of the values (any order; an array of arrays is flattened). */
function summary(values) {
  const sorted = Float64Array.from(values.flat()).sort();
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    count: sorted.length,
  };
}

module.exports = { now, stampedPayload, readStamp, percentile, summary };
