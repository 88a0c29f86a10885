"use strict";

// Clients of the connection-rate, polling and upgrade benches: hand-rolled sessions
// (eio-client.js), in their own process so that their CPU time is not charged to the
// server. Driven by the parent over IPC.

const { serve } = require("./ipc");
const { Session } = require("./eio-client");
const { now, readStamp, stampedPayload } = require("./timing");

let sessions = [];
// broadcast deliveries awaited by `received`, with their latencies (ms)
let expected = Infinity;
let latencies = [];
let onAllReceived = null;
// the upgrade bench's checks
let load = null;
let unexpectedCloses = 0;

function onEvent(frame) {
  const stamp = readStamp(frame);
  if (stamp) latencies.push(now() - stamp.sentAt);
  if (latencies.length === expected && onAllReceived) onAllReceived();
}

function onClose() {
  unexpectedCloses++;
}

/** `{ session, ms }` once connected (and, with `upgrade`, upgraded and acknowledged over WebSocket). */
async function open({ kind, port, localAddress, transport, upgrade }, handlers = { onEvent, onClose }) {
  const start = now();
  const session = new Session({ kind, port, localAddress, ...handlers });
  await (transport === "polling" ? session.openPolling() : session.openWebSocket());
  if (upgrade) {
    await session.upgrade();
    // the first ack over the WebSocket proves the upgraded session works end to end
    if (kind === "sio") await session.emitWithAck("echo", "x");
  }
  return { session, ms: now() - start };
}

serve({
  /**
   * Opens `n` sessions at once (kind, port, transport "websocket" or "polling", upgrade,
   * localAddress) and keeps them. Returns the time each took, and the failures.
   */
  async connect(options) {
    const results = await Promise.allSettled(Array.from({ length: options.n }, () => open(options)));
    const times = [];
    const errors = [];
    for (const r of results) {
      if (r.status === "fulfilled") {
        sessions.push(r.value.session);
        times.push(r.value.ms);
      } else errors.push(r.reason.message);
    }
    return { times, errors: errors.length, firstError: errors[0] };
  },

  count: () => sessions.length,

  /** This process's CPU time (user + system, microseconds) since it started. */
  cpu() {
    const { user, system } = process.cpuUsage();
    return user + system;
  },

  closeAll() {
    for (const session of sessions) session.destroy();
    sessions = [];
    return null;
  },

  /**
   * Echo requests spread over the sessions, `window` in flight on each (emits with an ack
   * for sio, messages echoed back for engine and ws); returns round-trip times.
   */
  async echo({ messages, size, window }) {
    const payload = "x".repeat(size);
    const rtts = [];
    let started = 0;
    const start = now();
    async function lane(session) {
      while (started < messages) {
        started++;
        const sent = now();
        await session.echo(payload);
        rtts.push(now() - sent);
      }
    }
    const lanes = [];
    for (const session of sessions) for (let i = 0; i < window; i++) lanes.push(lane(session));
    await Promise.all(lanes);
    return { wallMs: now() - start, rtts };
  },

  /** Expects `total` stamped broadcast deliveries from now on; `received` resolves with their latencies. */
  arm({ total }) {
    expected = total;
    latencies = [];
    return null;
  },

  received() {
    return new Promise((resolve) => {
      onAllReceived = () => {
        onAllReceived = null;
        resolve(latencies);
      };
      if (latencies.length >= expected) onAllReceived();
    });
  },

  /**
   * The upgrade bench: `n` polling sessions, each recording the numbered broadcasts it gets
   * and running a loop of echo requests (one in flight) whose acks must each come back once
   * with the payload sent.
   */
  async openLoaded({ port, n, size }) {
    load = { running: false, size, clients: [] };
    const opening = [];
    for (let i = 0; i < n; i++) {
      const client = { session: null, seen: [], sent: 0, acked: 0, wrongAcks: 0, inFlight: null };
      const onFrame = (frame) => {
        const stamp = readStamp(frame);
        if (stamp) client.seen.push(stamp.seq);
      };
      opening.push(
        open({ kind: "sio", port, transport: "polling" }, { onEvent: onFrame, onClose }).then(
          (r) => (client.session = r.session),
        ),
      );
      load.clients.push(client);
    }
    await Promise.all(opening);
    return null;
  },

  startLoad() {
    load.running = true;
    for (const client of load.clients) {
      client.inFlight = (async () => {
        while (load.running) {
          const payload = stampedPayload(client.sent++, load.size);
          const ack = await client.session.emitWithAck("echo", payload);
          if (ack === JSON.stringify([payload])) client.acked++;
          else client.wrongAcks++;
        }
      })();
    }
    return null;
  },

  /** Upgrades every session, each at a random moment within `spreadMs`; returns the upgrade times (ms). */
  async upgradeAll({ spreadMs }) {
    const times = await Promise.all(
      load.clients.map(
        (client) =>
          new Promise((resolve, reject) => {
            setTimeout(() => client.session.upgrade().then(resolve, reject), Math.random() * spreadMs);
          }),
      ),
    );
    return { times, websocket: load.clients.filter((c) => c.session.polling === null).length };
  },

  /**
   * Stops the echo loops, waits for the acks in flight (up to `waitMs`) and checks each
   * session against the `broadcasts` the server sent: missing, duplicated, out of order.
   */
  async stopLoad({ broadcasts, waitMs }) {
    load.running = false;
    let timer;
    const settled = await Promise.race([
      Promise.all(load.clients.map((c) => c.inFlight)).then(() => true),
      new Promise((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
    ]);
    clearTimeout(timer);
    const totals = {
      emitted: 0,
      acked: 0,
      lostAcks: 0,
      wrongAcks: 0,
      duplicateAcks: 0,
      delivered: 0,
      missing: 0,
      duplicates: 0,
      outOfOrder: 0,
    };
    for (const c of load.clients) {
      totals.emitted += c.sent;
      totals.acked += c.acked;
      totals.lostAcks += c.sent - c.acked - c.wrongAcks;
      totals.wrongAcks += c.wrongAcks;
      totals.duplicateAcks += c.session.strayAcks;
      const counts = new Uint32Array(broadcasts);
      for (let i = 0; i < c.seen.length; i++) {
        if (c.seen[i] < broadcasts) counts[c.seen[i]]++;
        if (i > 0 && c.seen[i] < c.seen[i - 1]) totals.outOfOrder++;
      }
      totals.delivered += c.seen.length;
      for (const n of counts) {
        if (n === 0) totals.missing++;
        if (n > 1) totals.duplicates += n - 1;
      }
    }
    return { ...totals, settled, unexpectedCloses };
  },
});
