"use strict";

// The flooding client of the flood bench (bench/flood.js), in its own process: one
// Socket.IO client that sends '42["flood"]' as fast as the server reads, over a raw
// WebSocket (frames built once, written on "drain") or over HTTP long-polling (POSTs of
// `perPost` packets back to back). Against the raw ws baseline (`raw`), the same frames
// over a plain WebSocket on "/".

const http = require("http");
const net = require("net");
const { serve } = require("./ipc");

const PACKET = '42["flood"]';

/** Masked client text frames of `text` (mask key 0: the payload goes as it is), repeated to fill ~1 MB. */
function frames(text) {
  const payload = Buffer.from(text);
  const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
  const count = Math.floor(1e6 / frame.length);
  return { buffer: Buffer.concat(new Array(count).fill(frame)), count };
}

// A WebSocket client by hand over a TCP socket: the frames are built once, and written as
// fast as the server reads them (on "drain"), so that the flooder costs its machine next
// to nothing, as one on another machine would.
function wsFlood(port, ms, raw) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const flood = frames(PACKET);
    let seen = "";
    let sent = 0;
    let started = 0;
    let closedAt = null;
    socket.on("error", () => {
      closedAt = closedAt || Date.now();
    });
    socket.on("close", () => {
      closedAt = closedAt || Date.now();
    });
    socket.write(
      `GET ${raw ? "/" : "/socket.io/?EIO=4&transport=websocket"} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const onData = async (data) => {
      seen += data.toString("latin1");
      // a raw WebSocket is open once upgraded; a Socket.IO one once connected to "/"
      if (raw) seen = seen.includes("\r\n\r\n") ? '40{"sid"' : seen;
      if (started === 0 && seen.includes('0{"sid"') && !seen.includes('40{"sid"')) {
        if (!seen.includes("sent-connect")) {
          seen += "sent-connect";
          socket.write(frames("40").buffer.subarray(0, 8));
        }
        return;
      }
      if (started !== 0 || !seen.includes('40{"sid"')) return;
      socket.off("data", onData);
      // the server's pings and the rest are not read any more: nothing of the test needs them
      socket.resume();
      started = Date.now();
      const end = started + ms;
      while (Date.now() < end && closedAt === null) {
        sent += flood.count;
        if (!socket.write(flood.buffer)) {
          await new Promise((done) => {
            const finish = () => {
              clearTimeout(timer);
              socket.off("drain", finish);
              socket.off("close", finish);
              done();
            };
            const timer = setTimeout(finish, end - Date.now());
            socket.once("drain", finish);
            socket.once("close", finish);
          });
        }
      }
      // a reset: the server drops what it has not read yet, rather than read it all first
      socket.resetAndDestroy();
      resolve({ sent, started, closedAt });
    };
    socket.on("data", onData);
    socket.setTimeout(ms + 30000, () => reject(new Error("the flooder got no answer")));
  });
}

function request(agent, port, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function pollingFlood(port, ms, perPost) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const base = "/socket.io/?EIO=4&transport=polling";
  const open = await request(agent, port, "GET", base);
  const sid = JSON.parse(open.body.slice(1)).sid;
  const path = `${base}&sid=${sid}`;
  await request(agent, port, "POST", path, "40");
  await request(agent, port, "GET", path);
  const body = new Array(perPost).fill(PACKET).join("\x1e");
  const started = Date.now();
  const end = started + ms;
  let sent = 0;
  let closedAt = null;
  while (Date.now() < end) {
    // refused, or the connection closed: the session is over for this client
    const res = await request(agent, port, "POST", path, body).catch(() => null);
    if (res === null || res.status !== 200) {
      closedAt = Date.now();
      break;
    }
    sent += perPost;
  }
  agent.destroy();
  return { sent, started, closedAt };
}

serve({
  flood({ port, transport, ms, perPost, raw }) {
    return transport === "polling" ? pollingFlood(port, ms, perPost) : wsFlood(port, ms, raw);
  },
});
