"use strict";

// The bound on what one client may have queued (maxBufferedAmount): the memory it
// counts (socket.bufferedAmount), volatile packets dropped first, then the close with
// "write buffer full", the counters on the server, and one big message to a healthy
// client going through as with the reference. The reference has no bound: where we
// differ, each implementation's behaviour is asserted through impl.REFERENCE.
const net = require("net");
const expect = require("expect.js");
const WebSocket = require("ws");
const { Socket: ClientSocket } = require("engine.io-client");
const impl = require("../support/impl");
const { requestText } = require("../support/http");
const { useEngine } = require("./support/engine-harness");

const { waitFor, until } = require("../support/wait");

describe("engine: bounded write buffer (maxBufferedAmount)", () => {
  const h = useEngine();
  let engine;
  let port;

  async function start(opts) {
    ({ engine, port } = await h.start(opts));
  }

  /** A polling client that makes its handshake and never polls again: resolves [server socket, sid]. */
  async function idlePollingClient() {
    const connection = new Promise((resolve) => engine.once("connection", resolve));
    const res = await requestText(port, { path: "/engine.io/?EIO=4&transport=polling" });
    expect(res.status).to.be(200);
    const sid = JSON.parse(res.body.slice(1)).sid;
    return [await connection, sid];
  }

  const poll = (sid) => requestText(port, { path: `/engine.io/?EIO=4&transport=polling&sid=${sid}` });

  it("is on by default, at 1e7 bytes", async () => {
    await start({});
    expect(engine.opts.maxBufferedAmount).to.be(impl.REFERENCE ? undefined : 1e7);
    expect(engine.droppedPacketsCount).to.be(impl.REFERENCE ? undefined : 0);
    expect(engine.slowClientsClosedCount).to.be(impl.REFERENCE ? undefined : 0);
  });

  // what holding a queued packet costs besides its bytes (README, "Slow clients")
  const PACKET = 160;
  const VIEW = 100;

  it("counts the memory queued for a client (socket.bufferedAmount) until it is flushed", async () => {
    await start({ transports: ["polling"] });
    const [socket, sid] = await idlePollingClient();
    socket.send("hello");
    socket.send("héllo"); // 6 bytes of UTF-8
    socket.send(Buffer.alloc(10));
    // each packet counts its data plus the packet type, and the objects that hold it
    expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 6 + 7 + 11 + 3 * PACKET + VIEW);
    const res = await poll(sid);
    expect(res.body).to.contain("4hello");
    expect(res.body).to.contain("4héllo");
    expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 0);
  });

  const nextRun = () => new Promise((resolve) => setImmediate(resolve));

  // 100 bytes with the packet type, and the objects that hold it
  const small = "x".repeat(99);
  const SMALL = 100 + PACKET;

  it("drops volatile packets first, then closes the client with 'write buffer full'", async () => {
    await start({ transports: ["polling"], maxBufferedAmount: 10 * SMALL });
    const [socket, sid] = await idlePollingClient();
    const reasons = [];
    socket.on("close", (reason) => reasons.push(reason));
    // one run of writes to a client that keeps up is a burst: not counted
    for (let i = 0; i < 15; i++) socket.send(small);
    await nextRun();
    // from here on, with more than half the bound queued, every byte counts
    for (let i = 0; i < 10; i++) socket.send(small, { volatile: i % 2 === 0 });
    expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 25 * SMALL);
    socket.send(small, { volatile: true }); // 11 after the burst: dropped
    socket.send(small, { volatile: true });
    expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 25 * SMALL);
    expect(engine.droppedPacketsCount).to.be(impl.REFERENCE ? undefined : 2);
    expect(socket.readyState).to.be("open");

    socket.send(small); // not volatile: the client is closed
    if (impl.REFERENCE) {
      // the close would come on the next tick: the poll, later, finds the session open
      const res = await poll(sid);
      expect(res.body.split("\x1e")).to.have.length(28);
      expect(reasons).to.eql([]);
      return;
    }
    await waitFor(socket, "close");
    expect(reasons).to.eql(["write buffer full"]);
    expect(engine.slowClientsClosedCount).to.be(1);
    expect(engine.clientsCount).to.be(0);
    expect(socket.bufferedAmount).to.be(0);
    // the session is gone: the client's next poll gets "Session ID unknown"
    const res = await poll(sid);
    expect(res.status).to.be(400);
    expect(JSON.parse(res.body).code).to.be(1);
  });

  it("does not count a burst written in one go to a client that keeps up", async () => {
    await start({ transports: ["polling"], maxBufferedAmount: 2000 });
    const [socket, sid] = await idlePollingClient();
    const reasons = [];
    socket.on("close", (reason) => reasons.push(reason));
    for (let round = 0; round < 3; round++) {
      // far more than the bound, in one run: one big message and small ones around it
      socket.send("before");
      socket.send("y".repeat(5000));
      for (let i = 0; i < 9; i++) socket.send(small);
      expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 7 + 5001 + 900 + 11 * PACKET);
      await nextRun();
      // behind by more than half the bound: small writes count, and stay within it
      for (let i = 0; i < 5; i++) socket.send("z".repeat(99));
      // a close over the bound runs on the next tick: past it, none came
      await nextRun();
      expect(reasons).to.eql([]);
      const res = await poll(sid);
      expect(res.body.split("\x1e")).to.have.length(16);
      expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 0);
    }
  });

  it("counts what was queued before the last burst, until it is flushed", async () => {
    await start({ transports: ["polling"], maxBufferedAmount: 10 * SMALL });
    const [socket, sid] = await idlePollingClient();
    // half the bound, then a burst: the client kept up at each run's start
    for (let i = 0; i < 5; i++) socket.send(small);
    await nextRun();
    for (let i = 0; i < 10; i++) socket.send(small);
    await nextRun();
    // the burst is not counted, what came before it is: room for 5 more chunks, not 10
    for (let i = 0; i < 6; i++) socket.send(small, { volatile: true });
    expect(engine.droppedPacketsCount).to.be(impl.REFERENCE ? undefined : 1);
    expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 20 * SMALL);
    let res = await poll(sid);
    expect(res.body.split("\x1e")).to.have.length(impl.REFERENCE ? 21 : 20);
    expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 0);
    // flushed: nothing is left before the next burst, and the whole bound is free again
    for (let i = 0; i < 20; i++) socket.send(small);
    await nextRun();
    for (let i = 0; i < 11; i++) socket.send(small, { volatile: true });
    expect(engine.droppedPacketsCount).to.be(impl.REFERENCE ? undefined : 2);
    res = await poll(sid);
    expect(res.body.split("\x1e")).to.have.length(impl.REFERENCE ? 31 : 30);
  });

  for (const disabled of [0, Infinity]) {
    it(`is disabled by maxBufferedAmount: ${disabled}`, async () => {
      await start({ transports: ["polling"], maxBufferedAmount: disabled });
      const [socket, sid] = await idlePollingClient();
      const reasons = [];
      socket.on("close", (reason) => reasons.push(reason));
      const chunk = "x".repeat(1023);
      for (let i = 0; i < 2048; i++) socket.send(chunk); // 2 MB
      socket.send("z", { volatile: true });
      await nextRun();
      expect(reasons).to.eql([]);
      expect(socket.bufferedAmount).to.be(impl.REFERENCE ? undefined : 2048 * (1024 + PACKET) + 2 + PACKET);
      const res = await poll(sid);
      expect(res.body.split("\x1e")).to.have.length(2049);
    });
  }

  it("closes a websocket client that stopped reading, once the kernel and the bound are full", async function () {
    this.timeout(20000);
    await start({ transports: ["websocket"], maxBufferedAmount: 1e6 });
    const connection = new Promise((resolve) => engine.once("connection", resolve));
    const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
    ws.on("error", () => {});
    await new Promise((resolve) => ws.once("message", resolve)); // the open packet
    ws._socket.pause(); // the client reads no more
    const socket = await connection;
    let closed = null;
    socket.on("close", (reason) => (closed = reason));
    const chunk = "x".repeat(64 * 1024);
    let sent = 0;
    let maxQueued = 0;
    // 40 MB at most: far more than the kernel buffers plus the bound
    while (closed === null && sent < 40 * 1024 * 1024) {
      for (let i = 0; i < 16 && socket.readyState === "open"; i++) {
        socket.send(chunk);
        sent += chunk.length;
      }
      if (!impl.REFERENCE) maxQueued = Math.max(maxQueued, socket.bufferedAmount);
      await new Promise((resolve) => setImmediate(resolve));
    }
    ws.terminate();
    if (impl.REFERENCE) {
      expect(closed).to.be(null);
      return;
    }
    expect(closed).to.be("write buffer full");
    expect(engine.slowClientsClosedCount).to.be(1);
    // what stayed in the server: the bound and the last burst (16 chunks, and one more
    // refused), each packet with the objects that hold it
    expect(maxQueued).to.be.greaterThan(1e6);
    expect(maxQueued).to.be.lessThan(1e6 + 17 * (chunk.length + 400));
  });

  it("counts a poll response the client does not read, and drops its connection on the close", async function () {
    this.timeout(20000);
    await start({ transports: ["polling"], maxBufferedAmount: 1e6 });
    const [socket, sid] = await idlePollingClient();
    const reasons = [];
    socket.on("close", (reason) => reasons.push(reason));
    // a poll whose response the client does not read: its TCP stream is paused
    const raw = net.connect(port, "127.0.0.1");
    raw.on("error", () => {});
    raw.pause();
    raw.write(`GET /engine.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    await until(() => socket.transport.writable, "the poll is pending");
    const size = 20e6; // far more than the kernel's buffers take
    socket.send("b".repeat(size));
    // a burst: not counted; what the client has not read of it is
    if (!impl.REFERENCE) expect(socket.bufferedAmount).to.be.greaterThan(1e7);
    for (let i = 0; i < 3000 && reasons.length === 0; i++) {
      socket.send("s".repeat(1000));
      if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    // the client reads again: the whole response, or up to the connection's end
    let received = 0;
    raw.on("data", (chunk) => (received += chunk.length));
    raw.resume();
    if (impl.REFERENCE) {
      await until(() => received > size, "the whole response", 10000);
      expect(reasons).to.eql([]);
      raw.destroy();
      return;
    }
    expect(reasons).to.eql(["write buffer full"]);
    await waitFor(raw, "close", 10000);
    expect(received).to.be.lessThan(size);
  });

  const big = "b".repeat(50 * 1024 * 1024);
  const afters = Array.from({ length: 10 }, (_, i) => `after-${i}`);
  const summary = (data) => (data.length > 100 ? `big:${data.length}` : data);

  it("delivers one 50 MB message to a healthy websocket client, with the bound 50 times smaller", async function () {
    this.timeout(20000);
    await start({ transports: ["websocket"], maxBufferedAmount: 1e6 });
    const connection = new Promise((resolve) => engine.once("connection", resolve));
    const client = new ClientSocket(`http://localhost:${port}`, { transports: ["websocket"] });
    try {
      const socket = await connection;
      await new Promise((resolve) => client.once("open", resolve));
      const reasons = [];
      socket.on("close", (reason) => reasons.push(reason));
      const received = [];
      const done = new Promise((resolve) =>
        client.on("message", (data) => {
          received.push(summary(data));
          if (data === "after-9") resolve();
        }),
      );
      // something in flight before it and a stream of small messages behind it
      socket.send("before");
      socket.send(big);
      for (const text of afters) socket.send(text);
      await done;
      expect(received).to.eql(["before", `big:${big.length}`, ...afters]);
      expect(reasons).to.eql([]);
    } finally {
      client.close();
    }
  });

  it("delivers one 50 MB message to a healthy polling client, with the bound 50 times smaller", async function () {
    this.timeout(20000);
    await start({ transports: ["polling"], maxBufferedAmount: 1e6 });
    const [socket, sid] = await idlePollingClient();
    const reasons = [];
    socket.on("close", (reason) => reasons.push(reason));
    // a poll is pending: "before" leaves at once, the rest waits for the next poll
    const first = poll(sid);
    await until(() => socket.transport.writable, "the poll is pending");
    socket.send("before");
    socket.send(big);
    for (const text of afters) socket.send(text);
    const received = [];
    for (const res of [await first, await poll(sid)]) {
      expect(res.status).to.be(200);
      for (const packet of res.body.split("\x1e")) received.push(summary(packet.slice(1)));
    }
    expect(received).to.eql(["before", `big:${big.length}`, ...afters]);
    expect(reasons).to.eql([]);
  });
});
