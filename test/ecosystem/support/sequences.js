"use strict";

// Sequence-numbered broadcasts as a client received them: what is missing, seen twice or
// seen late. A client's record of one channel is the list of the sequence numbers it
// received, in order, with RECONNECTED pushed at each of its (re)connections.

const RECONNECTED = "reconnected";

/** Zeroed counts for countSequences(). */
function newSequenceCounts() {
  return {
    lost: 0,
    lostAtReconnection: 0,
    duplicatedAcrossReconnection: 0,
    duplicatedAfterRestore: 0,
    outOfOrder: 0,
  };
}

/**
 * Adds to `counts`, for one channel of one client, what is missing from 1..last, and of
 * that how much was missed while away (the packet after the gap, or the client's current
 * connection when the gap runs to the end, came after a reconnection the packet before it
 * did not), what was seen twice (both copies after the same reconnection, or not), and what
 * was seen after a larger one.
 * @example
 *   const counts = newSequenceCounts();
 *   countSequences([RECONNECTED, 1, 2, RECONNECTED, 5], 5, counts); // lost 2, lostAtReconnection 2
 */
function countSequences(seqs, last, counts) {
  const seen = new Map(); // seq => the reconnection it came after
  let connection = 0;
  let max = 0;
  for (const seq of seqs) {
    if (seq === RECONNECTED) {
      connection++;
      continue;
    }
    if (seen.has(seq)) {
      if (seen.get(seq) === connection) counts.duplicatedAfterRestore++;
      else counts.duplicatedAcrossReconnection++;
    } else if (seq < max) counts.outOfOrder++;
    seen.set(seq, connection);
    max = Math.max(max, seq);
  }
  for (let first = 1; first <= last; first++) {
    if (seen.has(first)) continue;
    // the gap first..next-1
    let next = first + 1;
    while (next <= last && !seen.has(next)) next++;
    counts.lost += next - first;
    const before = seen.get(first - 1);
    // the gap ends at a packet received after a reconnection, or runs to the end with the
    // client reconnected since the packet before it
    const after = next <= last ? seen.get(next) : connection;
    if (before !== undefined && after !== undefined && after !== before) {
      counts.lostAtReconnection += next - first;
    }
    first = next;
  }
  return counts;
}

module.exports = { RECONNECTED, newSequenceCounts, countSequences };
