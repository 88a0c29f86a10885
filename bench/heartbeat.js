"use strict";

// How exactly each server keeps its heartbeat, with many sessions: for each
// pingInterval/pingTimeout pair, --sessions raw websocket clients (Engine.IO v4 and a
// Socket.IO CONNECT, answering every ping at once) held for --cycles pings. Reported per
// server and pair: the sessions still open at the end, and how late each ping left after the
// pong it follows (on the server, from its own "packet" and "packetCreate" events: what the
// heartbeat controls) and how late it reached the client after its previous one (the same
// plus a round trip), as p50 / p99 / max of (delay - pingInterval) in ms; and the pings
// that reached a client later than its patience (pingInterval + pingTimeout after the
// previous one: a real client disconnects then; these raw clients keep counting).
//
//   node bench/heartbeat.js [--sessions=1000] [--pairs=300/200,300/20,1000/50] [--cycles=4]
//                           [--targets=ours,reference] [--json]
//
// Server and clients share this process, so the run measures the timers' precision under
// the load of its own sessions; targets run one after the other.

const http = require("http");
const WebSocket = require("ws");
const args = require("./lib/args");
const { TARGETS, unavailable } = require("./lib/targets");
const { summary } = require("./lib/timing");

const sessions = args.int("sessions", 1000);
const cycles = args.int("cycles", 4);
const pairs = args.list("pairs", ["300/200", "300/20", "1000/50"]).map((p) => p.split("/").map(Number));
const targets = args.list("targets", ["ours", "reference"]);
const json = args.flag("json");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(target, pingInterval, pingTimeout) {
  const httpServer = http.createServer();
  const io = new (TARGETS[target].load())(httpServer, {
    pingInterval,
    pingTimeout,
    transports: ["websocket"],
  });
  const serverLate = [];
  io.engine.on("connection", (conn) => {
    let pongAt = -1;
    conn.on("packet", (packet) => {
      if (packet.type === "pong") pongAt = performance.now();
    });
    conn.on("packetCreate", (packet) => {
      if (packet.type === "ping" && pongAt !== -1) serverLate.push(performance.now() - pongAt - pingInterval);
    });
  });
  let serverDisconnects = 0;
  io.on("connection", (socket) => socket.on("disconnect", () => serverDisconnects++));
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const url = `ws://127.0.0.1:${httpServer.address().port}/socket.io/?EIO=4&transport=websocket`;
  const clientLate = [];
  const clients = [];
  let clientCloses = 0;
  for (let i = 0; i < sessions; i++) {
    const ws = new WebSocket(url);
    let lastPing = -1;
    ws.on("error", () => {});
    ws.on("close", () => clientCloses++);
    ws.on("message", (data) => {
      const frame = data.toString();
      if (frame === "2") {
        const at = performance.now();
        if (lastPing !== -1) clientLate.push(at - lastPing - pingInterval);
        lastPing = at;
        ws.send("3");
      } else if (frame[0] === "0") {
        ws.send("40");
      }
    });
    clients.push(ws);
    if (i % 100 === 99) await sleep(5);
  }
  const deadline = Date.now() + 20000;
  while (io.of("/").sockets.size + serverDisconnects < sessions && Date.now() < deadline) await sleep(20);
  await sleep(cycles * pingInterval + pingTimeout);
  const open = io.of("/").sockets.size;
  for (const ws of clients) ws.terminate();
  io.close();
  await new Promise((resolve) => httpServer.close(resolve));
  // a real client gives up after pingInterval + pingTimeout without a ping
  const tooLate = clientLate.filter((late) => late > pingTimeout).length;
  return { open, tooLate, serverLate: summary(serverLate), clientLate: summary(clientLate), clientCloses };
}

(async () => {
  const rows = [];
  for (const [pingInterval, pingTimeout] of pairs) {
    for (const target of targets) {
      const why = unavailable(target);
      if (why || TARGETS[target].kind !== "sio") {
        rows.push({ target, pair: `${pingInterval}/${pingTimeout}`, error: why || "not a Socket.IO server" });
        continue;
      }
      rows.push({
        target,
        pair: `${pingInterval}/${pingTimeout}`,
        ...(await run(target, pingInterval, pingTimeout)),
      });
    }
  }
  const f = (n) => (n === undefined ? "-" : n.toFixed(1));
  console.log(
    `\nheartbeat: ${sessions} websocket sessions, ${cycles} pings each; lateness in ms (p50 / p99 / max)`,
  );
  const header = [
    "server",
    "pair",
    "open at end",
    "server: ping after pong",
    "client: ping after ping",
    "pings past the client's patience",
  ];
  const lines = rows.map((r) =>
    r.error
      ? [TARGETS[r.target] ? TARGETS[r.target].label : r.target, r.pair, `error: ${r.error}`, "", "", ""]
      : [
          TARGETS[r.target].label,
          r.pair,
          `${r.open}/${sessions}`,
          `${f(r.serverLate.p50)} / ${f(r.serverLate.p99)} / ${f(r.serverLate.max)}`,
          `${f(r.clientLate.p50)} / ${f(r.clientLate.p99)} / ${f(r.clientLate.max)}`,
          r.tooLate,
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const fmt = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join("  ");
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  lines.forEach((l) => console.log(fmt(l)));
  if (json) console.log(JSON.stringify(rows));
  process.exit(0);
})();
