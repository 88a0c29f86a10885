"use strict";

// The clients of a bench, in their own process so that their CPU time is not charged
// to the server being measured. Driven by the parent over IPC.

const { serve } = require("./ipc");
const { connectClient } = require("./targets");

const CONNECT_CONCURRENCY = 50;

let clients = [];
let received = 0;
let expected = Infinity;
let onAllReceived = null;

function onMessage() {
  received++;
  if (received === expected && onAllReceived) onAllReceived();
}

serve({
  /** Opens `n` more clients, a few handshakes at a time rather than all at once. */
  async connect({ target, port, n }) {
    for (let opened = 0; opened < n;) {
      const wave = Math.min(CONNECT_CONCURRENCY, n - opened);
      const batch = [];
      for (let i = 0; i < wave; i++) batch.push(connectClient(target, port, onMessage));
      clients.push(...(await Promise.all(batch)));
      opened += wave;
    }
    return clients.length;
  },

  /** Every client stops reading (its TCP stream is paused). */
  pauseAll() {
    clients.forEach((client) => client.pause());
    return null;
  },

  closeAll() {
    clients.forEach((client) => client.close());
    clients = [];
    return null;
  },

  /** Resets the count; `received` then resolves once `total` messages have arrived in all. */
  arm({ total }) {
    received = 0;
    expected = total;
    return null;
  },

  received() {
    if (received >= expected) return received;
    return new Promise((resolve) => {
      onAllReceived = () => {
        onAllReceived = null;
        resolve(received);
      };
    });
  },

  /** This process's CPU time (user + system, microseconds) since it started. */
  cpu() {
    const { user, system } = process.cpuUsage();
    return user + system;
  },

  /** The first client sends `messages` echo requests, keeping `window` of them in flight. */
  async echo({ messages, size, window }) {
    const client = clients[0];
    const payload = "x".repeat(size);
    let sent = 0;
    const start = process.hrtime.bigint();
    async function lane() {
      while (sent < messages) {
        sent++;
        await client.echo(payload);
      }
    }
    await Promise.all(Array.from({ length: Math.min(window, messages) }, lane));
    return Number(process.hrtime.bigint() - start) / 1e6;
  },
});
