"use strict";

// Soak clients: socket.io-client sessions over WebSocket, without reconnection so that
// any disconnect stays visible. Driven by the parent over IPC.

const { io: ioc } = require("socket.io-client");
const { serve } = require("./ipc");

const sockets = [];
let received = 0;
let disconnects = 0;
let connectErrors = 0;
const reasons = {};

function open(url) {
  const socket = ioc(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 60000 });
  socket.on("tick", () => received++);
  return new Promise((resolve) => {
    socket.once("connect", () => {
      socket.on("disconnect", (reason) => {
        disconnects++;
        reasons[reason] = (reasons[reason] || 0) + 1;
      });
      sockets.push(socket);
      resolve();
    });
    socket.once("connect_error", () => {
      connectErrors++;
      socket.close();
      resolve();
    });
  });
}

serve({
  /** Opens `n` sessions, `concurrency` handshakes at a time. */
  async connect({ port, n, concurrency }) {
    const url = `http://127.0.0.1:${port}`;
    let started = 0;
    async function lane() {
      while (started < n) {
        started++;
        await open(url);
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
    return { connected: sockets.length, connectErrors };
  },

  stats() {
    return {
      connected: sockets.filter((s) => s.connected).length,
      received,
      disconnects,
      reasons,
      connectErrors,
    };
  },
});
