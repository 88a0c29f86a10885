"use strict";

// Probe of issue 6: parallel chunked polling POSTs of one-byte chunks against an engine
// server in its own process, its heap capped at 256 MB. Prints each request's status and
// time, and the server's heap growth (peak heapUsed minus the baseline after a GC).
//
//   node scripts/probe-chunked-post.js                      # ours (npm run build first)
//   REFERENCE=1 node scripts/probe-chunked-post.js          # engine.io (dev dependency)
//   CHUNKS=600000 PARALLEL=3 OPTS='{"maxBufferedChunks":1e9}' node scripts/probe-chunked-post.js
const path = require("path");
const net = require("net");
const http = require("http");
const { fork } = require("child_process");

if (process.argv[2] === "--server") {
  const eio = require(path.join(__dirname, "..", "test", "support", "impl")).engine();
  const engine = eio.listen(0, JSON.parse(process.env.OPTS || "{}"), () => {
    global.gc();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 5).unref();
    const closes = [];
    engine.on("connection", (socket) =>
      socket.on("close", (reason, desc) => closes.push([reason, desc && desc.message])),
    );
    process.on("message", () => process.send({ base, peak, closes }));
    process.send({ port: engine.httpServer.address().port });
  });
  return;
}

const CHUNKS = Number(process.env.CHUNKS || 600000);
const PARALLEL = Number(process.env.PARALLEL || 3);
const server = fork(__filename, ["--server"], { execArgv: ["--max-old-space-size=256", "--expose-gc"] });
let done = false;
server.on("exit", (code, signal) => !done && console.log(`server died: ${code || signal}`));

const get = (port, p) =>
  new Promise((resolve, reject) =>
    http
      .get({ port, path: p, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve(body));
      })
      .on("error", reject),
  );

function post(port, sid) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1");
    let head = "";
    let status = null;
    socket.on("data", (d) => {
      head += d;
      const m = status === null && /^HTTP\/1\.1 (\d+)/.exec(head);
      if (m) status = `${m[1]} after ${Date.now() - started} ms`;
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(status || `no answer, closed after ${Date.now() - started} ms`));
    socket.write(
      `POST /engine.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n` +
        "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    const piece = "1\r\nx\r\n".repeat(1000);
    let sent = 0;
    (function pump() {
      while (sent < CHUNKS && !socket.destroyed) {
        sent += 1000;
        if (!socket.write(piece)) return socket.once("drain", pump);
      }
      if (!socket.destroyed) socket.end("0\r\n\r\n");
    })();
  });
}

server.once("message", async ({ port }) => {
  const sids = [];
  for (let i = 0; i < PARALLEL; i++) {
    sids.push(JSON.parse((await get(port, "/engine.io/?EIO=4&transport=polling")).slice(1)).sid);
  }
  const statuses = await Promise.all(sids.map((sid) => post(port, sid)));
  console.log(
    `${process.env.REFERENCE === "1" ? "engine.io" : "ours"}: ${PARALLEL} x ${CHUNKS} one-byte chunks`,
  );
  statuses.forEach((s, i) => console.log(`  POST ${i + 1}: ${s}`));
  if (!server.connected) return;
  server.send("report");
  server.once("message", ({ base, peak, closes }) => {
    const mb = (n) => (n / 1048576).toFixed(1) + " MB";
    console.log(`  heap: baseline ${mb(base)}, peak ${mb(peak)}, growth ${mb(peak - base)}`);
    console.log(`  sessions closed: ${JSON.stringify(closes)}`);
    done = true;
    server.kill();
  });
});
