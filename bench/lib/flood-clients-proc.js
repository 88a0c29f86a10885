"use strict";

// The ordinary clients of the flood bench (bench/flood.js): hand-rolled Socket.IO sessions
// over WebSocket (eio-client.js), each sending an "echo" with an acknowledgement every
// `intervalMs` (raw ws sessions, against the ws baseline: a message echoed back), the round
// trips timed.

const { serve } = require("./ipc");
const { Session } = require("./eio-client");
const { now, summary } = require("./timing");

let sessions = [];

serve({
  async connect({ port, n, kind }) {
    const onClose = () => {};
    const onEvent = () => {};
    for (let i = 0; i < n; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 50); j++) {
        const session = new Session({ kind, port, onEvent, onClose });
        batch.push(session.openWebSocket());
        sessions.push(session);
      }
      await Promise.all(batch);
    }
    return { connected: sessions.length };
  },
  async echo({ ms, intervalMs }) {
    const latencies = [];
    const end = now() + ms;
    await Promise.all(
      sessions.map(async (session, i) => {
        // spread over the interval, so that the server sees an even load
        await new Promise((resolve) => setTimeout(resolve, (i * intervalMs) / sessions.length));
        while (now() < end) {
          const sent = now();
          await session.echo("x");
          latencies.push(now() - sent);
          const wait = intervalMs - (now() - sent);
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }),
    );
    return summary(latencies);
  },
});
