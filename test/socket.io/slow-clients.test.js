"use strict";

// Slow clients under a stream of broadcasts: one websocket client that stops reading
// (its TCP stream is paused) and one polling client that never polls again, next to
// a fast websocket client and a fast polling client. With the bound (maxBufferedAmount)
// the server's memory stays near the bound instead of growing with time, the slow
// clients are closed with "write buffer full", and the fast ones get every broadcast.
// With the bound disabled the server behaves as the reference: it keeps everything.
// The server runs in a child process so that its memory is its own.
const path = require("path");
const http = require("http");
const { fork } = require("child_process");
const expect = require("expect.js");
const { io: ioc } = require("socket.io-client");
const impl = require("../support/impl");
const { useHarness } = require("./support/util");

const SERVER = path.join(__dirname, "support", "stream-server.js");

const MESSAGES = 8000;
const SIZE = 1000;
const BOUND = 1e6;
const MB = 1024 * 1024;

function startChild() {
  const child = fork(SERVER, [], {
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const request = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      const onMessage = (msg) => {
        if (msg.reply !== cmd) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(msg);
      };
      const onExit = (code) => reject(new Error(`server process exited (${code})`));
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ cmd, ...args });
    });
  return { child, request };
}

function httpRequest(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A polling client that joins "/" by hand, then never polls again. */
async function idlePollingClient(port) {
  const base = "/socket.io/?EIO=4&transport=polling";
  const open = await httpRequest(port, "GET", base);
  const sid = JSON.parse(open.slice(1)).sid;
  await httpRequest(port, "POST", `${base}&sid=${sid}`, "40");
  const connect = await httpRequest(port, "GET", `${base}&sid=${sid}`);
  expect(connect.slice(0, 2)).to.be("40");
}

/** A socket.io client that records the sequence numbers it gets; resolves once connected. */
function fastClient(port, transport) {
  const socket = ioc(`http://127.0.0.1:${port}`, {
    transports: [transport],
    forceNew: true,
    reconnection: false,
  });
  const client = { socket, received: [], inOrder: true };
  socket.on("m", (seq) => {
    if (seq !== client.received.length) client.inOrder = false;
    client.received.push(seq);
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(client));
    socket.once("connect_error", reject);
  });
}

const { sleep, until: waitUntil } = require("../support/wait");

const until = (check, ms, what) => waitUntil(check, what, ms);

describe("slow clients under a stream of broadcasts", function () {
  this.timeout(30000);
  let server;
  let sockets;

  afterEach(() => {
    for (const socket of sockets) socket.close();
    server.child.kill();
  });

  /**
   * Runs the scenario; resolves the memory growth (heap + external, MB) sampled every
   * 500 ms during the stream and at its end, and the server's stats.
   */
  async function run(options) {
    server = startChild();
    sockets = [];
    const { port } = await server.request("start", { options });
    const fast = [await fastClient(port, "websocket"), await fastClient(port, "polling")];
    sockets.push(...fast.map((c) => c.socket));
    const paused = await fastClient(port, "websocket");
    sockets.push(paused.socket);
    paused.socket.io.engine.transport.ws._socket.pause();
    await idlePollingClient(port);

    const before = await server.request("memory");
    const growth = (m) => (m.heapUsed + m.external - before.heapUsed - before.external) / MB;
    // 1000-byte messages at about 2 MB/s for 4 s
    let streaming = true;
    const streamed = server
      .request("stream", { count: MESSAGES, size: SIZE, perTick: 20, intervalMs: 10 })
      .then(() => (streaming = false));
    const samples = [];
    while (streaming) {
      await sleep(500);
      samples.push(growth(await server.request("memory")));
    }
    await streamed;
    const end = growth(await server.request("memory"));
    for (const client of fast) {
      await until(() => client.received.length === MESSAGES, 10000, "the fast clients");
      expect(client.inOrder).to.be(true);
    }
    const stats = await server.request("stats");
    // measured by the server as it closes a slow client, with what it held still in memory
    samples.push(...stats.closes.map(growth));
    return { samples, end, stats, fast };
  }

  it("with the bound: memory stays near it, the slow clients are closed, the fast ones get everything", async () => {
    const { samples, end, stats } = await run({ maxBufferedAmount: BOUND });
    if (impl.REFERENCE) {
      // no bound: the slow clients stay, and what they did not read keeps piling up
      expect(stats.reasons).to.eql([]);
      expect(end).to.be.greaterThan(samples[1] + 2);
      return;
    }
    expect(stats.reasons).to.eql(["write buffer full", "write buffer full"]);
    expect(stats.slowClientsClosedCount).to.be(2);
    expect(stats.clientsCount).to.be(2);
    // 8 MB were broadcast. A slow client holds about the bound (what was queued for it,
    // counted as the memory it takes, and its last burst: one tick's broadcasts) until it is
    // closed and what it held is released: the two at most 1.5 times the bound each, the
    // code compiled meanwhile and the fast clients included.
    expect(Math.max(...samples)).to.be.lessThan((2 * 1.5 * BOUND) / MB);
    expect(end).to.be.lessThan(1);
  });

  it("with the bound disabled: behaves as the reference, memory grows with the backlog", async () => {
    const { samples, end, stats } = await run({ maxBufferedAmount: 0 });
    expect(stats.reasons).to.eql([]);
    expect(stats.clientsCount).to.be(4);
    // the polling client alone holds every message; the paused one all the kernel did not take
    expect(end).to.be.greaterThan(samples[1] + 2);
    expect(end).to.be.greaterThan((MESSAGES * SIZE) / MB);
  });
});

describe("what one client that stops reading costs the server", function () {
  this.timeout(30000);
  let server;
  let sockets;

  afterEach(() => {
    for (const socket of sockets) socket.close();
    server.child.kill();
  });

  // 1000-byte messages at about 4 MB/s
  const STREAM = { size: SIZE, perTick: 20, intervalMs: 5 };

  /** A client that stops reading: a websocket one pauses its TCP stream, a polling one never polls again. */
  async function stuckClient(port, transport) {
    if (transport === "polling") {
      await idlePollingClient(port);
      return;
    }
    const client = await fastClient(port, "websocket");
    sockets.push(client.socket);
    client.socket.io.engine.transport.ws._socket.pause();
  }

  for (const transport of ["websocket", "polling"]) {
    it(`${transport}: the server holds at most 1.5 times maxBufferedAmount until it closes the client`, async () => {
      server = startChild();
      sockets = [];
      const { port } = await server.request("start", { options: { maxBufferedAmount: BOUND } });
      const reader = await fastClient(port, "websocket");
      sockets.push(reader.socket);
      const growthFrom = (before) => (m) => m.heapUsed + m.external - before.heapUsed - before.external;
      if (impl.REFERENCE) {
        // no bound: the client stays, and what it did not read piles up
        await stuckClient(port, transport);
        reader.socket.close();
        const growth = growthFrom(await server.request("memory"));
        await server.request("stream", { count: 8000, ...STREAM });
        expect(growth(await server.request("memory"))).to.be.greaterThan(3 * BOUND);
        expect((await server.request("stats")).reasons).to.eql(["client namespace disconnect"]);
        return;
      }
      // a first client that stops reading, closed as too slow, next to one that reads: the
      // code of the broadcasts, of the backlog and of the close runs before the baseline
      await stuckClient(port, transport);
      await server.request("stream", { count: 10000, ...STREAM, untilClosed: 1 });
      reader.socket.close();
      while ((await server.request("stats")).clientsCount !== 0) await sleep(20);

      await stuckClient(port, transport);
      const growth = growthFrom(await server.request("memory"));
      let streaming = true;
      const streamed = server.request("stream", { count: 20000, ...STREAM, untilClosed: 2 }).then((r) => {
        streaming = false;
        return r;
      });
      const samples = [];
      while (streaming) {
        await sleep(100);
        samples.push(growth(await server.request("memory")));
      }
      const { startedAt } = await streamed;
      const stats = await server.request("stats");
      expect(stats.reasons).to.eql(["write buffer full", "client namespace disconnect", "write buffer full"]);
      const close = stats.closes[1];
      // measured by the server as it closes the client: what it held for it is still in memory
      const atClose = growth(close);
      const peak = Math.max(atClose, ...samples);
      console.log(
        `      ${transport}: closed after ${((close.at - startedAt) / 1000).toFixed(1)} s, ` +
          `the server at +${(atClose / 1e6).toFixed(2)} MB then (${(atClose / BOUND).toFixed(2)}x maxBufferedAmount), ` +
          `peak ${(peak / BOUND).toFixed(2)}x`,
      );
      expect(peak).to.be.lessThan(1.5 * BOUND);
    });
  }
});

describe("what is queued for a client, and what was dropped", () => {
  const h = useHarness();

  it("socket.conn.bufferedAmount and io.engine.droppedPacketsCount", async () => {
    const io = await h.server();
    const connection = new Promise((resolve) => io.once("connection", resolve));
    const peer = await h.rawPolling();
    await peer.post("40");
    const socket = await connection;
    expect((await peer.get()).body.toString().slice(0, 2)).to.be("40");
    // the client does not poll: what is emitted waits for it
    io.emit("a", 1);
    socket.emit("a", 2);
    // each counts its Engine.IO packet ("4" + '2["a",2]', 9 bytes) and the objects that hold
    // it (160 bytes, README "Slow clients"); the broadcast holds its data (8 bytes) next to
    // the WebSocket frame built for it (11 bytes, in a 16-byte slot of Node's Buffer pool)
    // and the frame's objects (240 bytes)
    const queued = 9 + 160 + (8 + 16 + 160 + 240);
    expect(socket.conn.bufferedAmount).to.be(impl.REFERENCE ? undefined : queued);
    // a volatile packet the transport cannot take now is dropped, and counted
    io.volatile.emit("v");
    socket.volatile.emit("v");
    expect(io.engine.droppedPacketsCount).to.be(impl.REFERENCE ? undefined : 2);
    expect(socket.conn.bufferedAmount).to.be(impl.REFERENCE ? undefined : queued);
    const body = (await peer.get()).body.toString();
    expect(body.split("\x1e")).to.eql(['42["a",1]', '42["a",2]']);
    expect(socket.conn.bufferedAmount).to.be(impl.REFERENCE ? undefined : 0);
  });
});

describe("one big message to a healthy client", () => {
  const h = useHarness({ transports: ["websocket"] });

  it("a 50 MB file goes through with the default bound, as with the reference", async function () {
    this.timeout(20000);
    const io = await h.server();
    const reasons = [];
    io.on("connection", (socket) => {
      socket.on("disconnect", (reason) => reasons.push(reason));
      socket.emit("before", 1);
      socket.emit("file", Buffer.alloc(50 * MB, 7));
      for (let i = 0; i < 10; i++) socket.emit("after", i);
    });
    const client = h.client();
    const received = [];
    client.on("before", () => received.push("before"));
    client.on("file", (file) => received.push(`file:${file.length}:${file[file.length - 1]}`));
    const done = new Promise((resolve) =>
      client.on("after", (i) => {
        received.push(`after:${i}`);
        if (i === 9) resolve();
      }),
    );
    await done;
    expect(received).to.eql([
      "before",
      `file:${50 * MB}:7`,
      ...Array.from({ length: 10 }, (_, i) => `after:${i}`),
    ]);
    expect(reasons).to.eql([]);
  });
});
