"use strict";

// What a socket.io-client socket received of sequence-numbered streams of broadcasts
// (1, 2, 3... per event name), compared with what was sent: packets lost (and whether at a
// reconnection, recovered or not), received twice (both copies after the same
// reconnection: replayed and delivered live; or on either side of one), or after a larger
// one. Shared by the rolling-restart test and bench/restore-race.js.

// Where a connection is ready: socket.io-client emits the packets a recovery replays after
// the disconnection but before its "connect" event, the live ones after it.
const CONNECTED = "connected";

/**
 * Records, for each event of `events`, the numbers `client` receives as the event's first
 * argument, in order, with markers at each disconnection and connection; counts its
 * reconnections and recoveries.
 * @example
 * const rec = recordSequences(client, ["room", "all"]);
 * // later: countSequence(rec.lists.room, lastSentToItsRoom, counts); rec.reconnects
 */
function recordSequences(client, events) {
  let connection = { recovered: false }; // the marker of the connection under way
  const first = connection;
  const rec = { lists: {}, reconnects: 0, recovered: 0 };
  const mark = (marker) => {
    for (const event of events) rec.lists[event].push(marker);
  };
  for (const event of events) {
    rec.lists[event] = [first];
    client.on(event, (seq) => rec.lists[event].push(seq));
  }
  client.on("disconnect", () => {
    connection = { recovered: false };
    mark(connection);
  });
  client.on("connect", () => {
    connection.recovered = client.recovered;
    mark(CONNECTED);
    if (connection === first) return;
    rec.reconnects++;
    if (client.recovered) rec.recovered++;
  });
  return rec;
}

/** Zeroed counts for countSequence(). */
function newCounts() {
  return {
    lost: 0,
    // missing, with the packets received around it on either side of a recovery (or
    // between a recovery's replay and its live packets)
    lostAtRecovery: 0,
    // the same around a reconnection that got a new session: what was sent meanwhile is
    // lost by design
    lostAtNewSession: 0,
    // both copies after the same disconnection: a replayed packet delivered live too
    duplicatedAfterRestore: 0,
    // one copy before a disconnection, one after: replayed although received
    duplicatedAcrossReconnection: 0,
    outOfOrder: 0,
  };
}

/**
 * Adds to `counts` what one list of recordSequences() shows against the numbers 1..last
 * that were sent.
 * @example
 * const counts = newCounts();
 * countSequence([{ recovered: false }, "connected", 1, 2, { recovered: true }, 2, "connected", 4], 4, counts);
 * // counts: 1 lost (3, at a recovery), 1 duplicated across a reconnection (2)
 */
function countSequence(received, last, counts) {
  const seen = new Map(); // number => { connection, part } it came in
  const recovered = [false]; // by connection
  let connection = 0;
  let part = 0; // a connection has two parts: before "connect" (the replay) and after
  let max = 0;
  for (const seq of received) {
    if (seq === CONNECTED) {
      part++;
      continue;
    }
    if (typeof seq === "object") {
      connection++;
      part++;
      recovered.push(seq.recovered);
      continue;
    }
    if (seen.has(seq)) {
      if (seen.get(seq).connection === connection) counts.duplicatedAfterRestore++;
      else counts.duplicatedAcrossReconnection++;
    } else {
      if (seq < max) counts.outOfOrder++;
      seen.set(seq, { connection, part });
    }
    max = Math.max(max, seq);
  }
  // a run of missing numbers is at a reconnection when the numbers received right before
  // and right after it came in different parts of the connections
  const start = { connection: 1, part: 2 }; // the clients connect before the first broadcast
  const end = { connection, part };
  for (let seq = 1; seq <= last; seq++) {
    if (seen.has(seq)) continue;
    let stop = seq;
    while (stop + 1 <= last && !seen.has(stop + 1)) stop++;
    const run = stop - seq + 1;
    counts.lost += run;
    const before = seq > 1 ? seen.get(seq - 1) : start;
    const after = stop < last ? seen.get(stop + 1) : end;
    if (before.part !== after.part) {
      // a new session among the connections begun since the number received before the run
      const since = recovered.slice(Math.min(before.connection + 1, after.connection), after.connection + 1);
      if (since.every(Boolean)) counts.lostAtRecovery += run;
      else counts.lostAtNewSession += run;
    }
    seq = stop;
  }
}

// The any-node test's simpler record: what is missing, seen twice or seen late. A client's record of one channel is the list of the sequence numbers it
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

module.exports = {
  recordSequences,
  newCounts,
  countSequence,
  RECONNECTED,
  newSequenceCounts,
  countSequences,
};
