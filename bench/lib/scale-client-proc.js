"use strict";

// Clients of bench/scale.js: hand-rolled websocket sessions (eio-client.js), all bound to
// this process's own loopback source address so that the ~28k ephemeral ports of one
// source address are not exhausted. Records the latency of every stamped broadcast and
// every close (all unexpected while the bench holds the sessions). Driven over IPC.
//
// Each connection gets the next source port of this process (from FIRST_PORT, never
// reused): letting the kernel pick one for a bound address (bind to port 0) searches the
// port range, and with 10,000+ ports in use the ramp spent 90 % of its time in that search.

const { serve } = require("./ipc");
const { Session } = require("./eio-client");
const { now, readStamp } = require("./timing");

const FIRST_PORT = 20000;
let nextPort = FIRST_PORT;
let sessions = [];
// latencies[seq] = the delivery latencies (ms) of broadcast number seq
const latencies = [];
let closes = 0;
const reasons = {};

function onEvent(frame) {
  const stamp = readStamp(frame);
  if (!stamp) return;
  (latencies[stamp.seq] || (latencies[stamp.seq] = [])).push(Math.round((now() - stamp.sentAt) * 100) / 100);
}

function onClose(reason) {
  closes++;
  reasons[reason] = (reasons[reason] || 0) + 1;
}

serve({
  /** Opens `n` websocket sessions from `localAddress`, `concurrency` handshakes at a time. */
  async connect({ kind, port, n, localAddress, concurrency }) {
    let started = 0;
    let errors = 0;
    let firstError;
    async function lane() {
      while (started < n) {
        started++;
        if (nextPort > 65535) throw new Error("this client process ran out of source ports");
        const session = new Session({ kind, port, localAddress, localPort: nextPort++, onEvent, onClose });
        try {
          sessions.push(await session.openWebSocket());
        } catch (err) {
          // a port still held by a socket of an earlier run (closing): take the next one
          if (err.message.includes("EADDRINUSE") && nextPort <= 65535) {
            started--;
            continue;
          }
          errors++;
          firstError = firstError || err.message;
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
    return { connected: sessions.length, errors, firstError };
  },

  /** Closes every session on purpose (the warm-up's); resets the counters. */
  closeAll() {
    for (const session of sessions) session.destroy();
    sessions = [];
    latencies.length = 0;
    return null;
  },

  /** How many sessions got broadcast number `seq`. */
  delivered({ seq }) {
    return latencies[seq] ? latencies[seq].length : 0;
  },

  stats() {
    return { open: sessions.filter((s) => !s.closed).length, closes, reasons, latencies };
  },
});
