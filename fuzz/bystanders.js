"use strict";

// Well-behaved clients sharing the server with the fuzzing peers: real socket.io-client
// (v4, over polling and over WebSocket, on both servers) and socket.io-client 2 (Engine.IO v3,
// on the server that allows it). Each sends an "echo" with an ack every `interval` ms; an
// answer slower than `bound` ms, or a disconnection, is reported to the parent as a violation.
// They run in their own process so that the fuzzer's own load does not delay them.

const { io } = require("socket.io-client");
const ioV2 = require("socket.io-client-v2");
const { serve, notify } = require("../bench/lib/ipc");

const clients = [];
let maxRtt = 0;
let rounds = 0;

// what the client library says of a transport error: an Error whose `description` is the
// cause (an Error, an HTTP status, 0 for a network failure) and `context` the request
function describe(details) {
  if (!details) return "";
  const cause = details.description;
  const causeText =
    cause instanceof Error
      ? `${cause.code || ""} ${cause.message}`
      : cause && cause.type
        ? cause.type
        : String(cause);
  const status =
    details.context && details.context.status !== undefined ? ` status ${details.context.status}` : "";
  return ` (${details.message || ""}: ${causeText}${status})`;
}

function bystander(label, socket, { interval, bound }) {
  const state = { label, socket, timer: null, stopped: false };
  let sent = 0;
  socket.on("disconnect", (reason, details) => {
    if (state.stopped) return;
    notify("violation", { kind: "bystander-disconnect", message: `${label}: ${reason}${describe(details)}` });
  });
  const round = () => {
    if (state.stopped) return;
    if (!socket.connected) {
      state.timer = setTimeout(round, interval);
      return;
    }
    const id = ++sent;
    const start = Date.now();
    let answered = false;
    const late = setTimeout(() => {
      if (!answered && !state.stopped)
        notify("violation", { kind: "bystander-rtt", message: `${label}: no answer within ${bound} ms` });
    }, bound);
    socket.emit("echo", id, (echoed) => {
      answered = true;
      clearTimeout(late);
      const rtt = Date.now() - start;
      maxRtt = Math.max(maxRtt, rtt);
      rounds++;
      if (echoed !== id)
        notify("violation", { kind: "bystander-echo", message: `${label}: sent ${id}, got ${echoed}` });
      state.timer = setTimeout(round, interval);
    });
  };
  state.start = round;
  return state;
}

function connected(socket, label) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bystander ${label} could not connect`)), 10000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

serve({
  /** Connects the bystanders to `ports` (server A, server B) and starts their rounds. */
  async start({ ports, interval, bound }) {
    const url = (i) => `http://127.0.0.1:${ports[i]}`;
    const v4 = (i, transports) =>
      io(url(i), { path: i === 0 ? "/socket.io" : "/live", transports, forceNew: true });
    const sockets = {
      "A polling": v4(0, ["polling"]),
      "A websocket": v4(0, ["websocket"]),
      "A v2 (EIO3)": ioV2(url(0), { forceNew: true }),
      "B polling": v4(1, ["polling"]),
      "B websocket": v4(1, ["websocket"]),
    };
    await Promise.all(Object.entries(sockets).map(([label, socket]) => connected(socket, label)));
    for (const [label, socket] of Object.entries(sockets))
      clients.push(bystander(label, socket, { interval, bound }));
    for (const client of clients) client.start();
    return { counts: [3, 2] };
  },

  stats: () => ({ maxRtt, rounds }),

  stop() {
    for (const client of clients) {
      client.stopped = true;
      clearTimeout(client.timer);
      client.socket.close();
    }
    return null;
  },
});
