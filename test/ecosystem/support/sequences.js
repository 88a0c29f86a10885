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
 * Adds to `counts`, for one channel of one client, what is missing from 1..last (and
 * whether at a reconnection: the packet after the gap came after a reconnection the one
 * before it did not), seen twice (both copies after the same reconnection, or not), or
 * seen after a larger one.
 * @example
 *   const counts = newSequenceCounts();
 *   countSequences([RECONNECTED, 1, 2, RECONNECTED, 4], 4, counts); // counts.lostAtReconnection === 1
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
  for (let seq = 1; seq <= last; seq++) {
    if (seen.has(seq)) continue;
    counts.lost++;
    const before = seen.get(seq - 1);
    let next = seq + 1;
    while (next <= last && !seen.has(next)) next++;
    if (before !== undefined && seen.has(next) && seen.get(next) !== before) counts.lostAtReconnection++;
  }
  return counts;
}

module.exports = { RECONNECTED, newSequenceCounts, countSequences };
