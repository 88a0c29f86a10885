"use strict";

// One slow client under a stream of broadcasts: what it costs the server, and when it is
// closed. A websocket client gets the stream for `--warmup` ms (so that the code it runs is
// compiled before the baseline), then stops reading: over websocket its TCP stream is
// paused; over polling it leaves, and a polling client joins and never polls again. The server broadcasts `--size`-character
// messages, one every `--interval` ms, for at most `--duration` seconds; every `--sample` ms
// the server reports the growth of its heap + external memory after a full gc (external
// counts the Buffers: process.memoryUsage's arrayBuffers is a part of it). The row gives
// the time from the first broadcast to the close of the client, the growth at the close
// (measured by the server when it closes the client, what it held for it still in memory;
// at the end, when it was not closed), the peak growth, and the peak over
// `maxBufferedAmount`.
//
//   node bench/slow-client.js [--transports=websocket,polling] [--bound=BYTES] [--size=1024]
//                             [--interval=1] [--duration=30] [--sample=250] [--warmup=2000]
//                             [--targets=ours,reference] [--repeat=1] [--json]
//
// Without --bound our server keeps its default maxBufferedAmount (1e7 bytes); the
// reference has no such bound and ignores the option.

const http = require("http");
const args = require("./lib/args");
const { runBench } = require("./lib/harness");

const DEFAULT_BOUND = 1e7;
const MB = 1e6;

const settings = {
  transports: args.list("transports", ["websocket", "polling"]),
  bound: args.int("bound", 0),
  size: args.int("size", 1024),
  interval: args.int("interval", 1),
  duration: args.int("duration", 30),
  sample: args.int("sample", 250),
  warmup: args.int("warmup", 2000),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function request(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A polling client that joins "/" and then never polls again. */
async function neverPollingClient(port) {
  const base = "/socket.io/?EIO=4&transport=polling";
  const open = await request(port, "GET", base);
  const sid = JSON.parse(open.slice(1)).sid;
  await request(port, "POST", `${base}&sid=${sid}`, "40");
  const connected = await request(port, "GET", `${base}&sid=${sid}`);
  if (!connected.startsWith("40")) throw new Error(`no CONNECT answer: ${connected.slice(0, 40)}`);
}

function measureWith(transport) {
  return async ({ target, port, server, clients }) => {
    await server.request("probeSlowCloses");
    // a client that reads gets broadcasts first, so that the code they run is compiled before
    // the baseline: the growth is then what the slow client holds
    await clients.request("connect", { target, port, n: 1 });
    await server.request("startTrickle", { intervalMs: settings.interval, size: settings.size });
    await sleep(settings.warmup);
    await server.request("stopTrickle");
    await sleep(100);
    if (transport === "websocket") {
      await clients.request("pauseAll");
    } else {
      await clients.request("closeAll");
      await neverPollingClient(port);
    }
    const base = await server.request("memory");
    const growth = (m) => (m.heapUsed + m.external - base.heapUsed - base.external) / MB;
    await server.request("startTrickle", { intervalMs: settings.interval, size: settings.size });
    const start = Date.now();
    let last = 0;
    let peak = 0;
    let closedAfter = null;
    while (Date.now() - start < settings.duration * 1000) {
      await sleep(settings.sample);
      const now = growth(await server.request("memory"));
      const [close] = await server.request("slowCloses");
      if (close !== undefined) {
        // measured by the server at the close itself, what the client held still in memory
        closedAfter = (close.at - start) / 1000;
        last = growth(close);
        peak = Math.max(peak, last);
        break;
      }
      if ((await server.request("count")) === 0) throw new Error("the client was closed for another reason");
      last = now;
      peak = Math.max(peak, now);
    }
    const { sent } = await server.request("stopTrickle");
    // a paused client would hold the server's close: its connection goes with its process
    clients.kill();
    const bound = target === "reference" ? undefined : (settings.bound || DEFAULT_BOUND) / MB;
    return {
      closedAfter: closedAfter === null ? "open" : closedAfter,
      atClose: last,
      peak,
      overBound: bound === undefined ? "n/a" : peak / bound,
      rate: sent / ((Date.now() - start) / 1000),
    };
  };
}

async function main() {
  const bound = settings.bound ? `maxBufferedAmount ${settings.bound}` : "default options";
  for (const transport of settings.transports) {
    await runBench({
      title:
        `slow client: one ${transport} client that stops reading, broadcasts of ${settings.size} chars ` +
        `every ${settings.interval} ms for at most ${settings.duration} s, ${bound} ` +
        `(server heap + external growth after gc, MB = 10^6 bytes)`,
      measure: measureWith(transport),
      columns: [
        { key: "closedAfter", title: "closed after s", digits: 1 },
        { key: "atClose", title: "MB at close", digits: 1 },
        { key: "peak", title: "peak MB", digits: 1 },
        { key: "overBound", title: "peak / bound", digits: 2 },
        { key: "rate", title: "broadcasts/s", digits: 0 },
      ],
      serverOptions: settings.bound ? { maxBufferedAmount: settings.bound } : {},
      targets: ["ours", "reference"],
    });
  }
}

module.exports = main;
if (require.main === module) main();
