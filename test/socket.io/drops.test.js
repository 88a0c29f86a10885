"use strict";

// Nothing lost through connection drops, measured from outside: a socket.io-client
// reaches the server through a TCP proxy that resets the connection every 0.1-0.6 s,
// with connectionStateRecovery on, while the server emits a numbered stream of
// broadcasts, room broadcasts and direct emits on the client's first socket object
// (which keep coming while the client is away). The client must get every number
// exactly once and in order, on websocket, polling and polling-then-upgrade. In the
// variants with the bound, the proxy also stalls the server-to-client direction so
// that the server closes the client as too slow ("write buffer full"): it still gets
// everything back on recovery.
const expect = require("expect.js");
const { io: ioc } = require("socket.io-client");
const impl = require("../support/impl");
const { useHarness, sleep, until } = require("./support/util");
const { FaultProxy } = require("./support/fault-proxy");

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VARIANTS = [
  { label: "websocket", transports: ["websocket"] },
  { label: "polling", transports: ["polling"] },
  { label: "polling then upgrade", transports: ["polling", "websocket"] },
];

/**
 * Runs the stream through the proxy for `durationMs` and resolves what the client saw.
 * Every 0.1-0.6 s the proxy cuts (with `stallMs`, it stalls every other time instead).
 */
async function runStream(h, { transports, durationMs, perTick, size, serverOptions, stallMs, seed }) {
  const io = await h.server({
    connectionStateRecovery: { maxDisconnectionDuration: 60000 },
    // a polling client cut between two polls is noticed by the heartbeat alone
    pingInterval: 250,
    pingTimeout: 500,
    ...serverOptions,
  });
  const reasons = [];
  let target = null;
  io.on("connection", (socket) => {
    if (!socket.recovered) {
      socket.join("room");
      target = target || socket;
    }
    socket.on("disconnect", (reason) => reasons.push(reason));
  });

  // Recovery needs the server to have let go of the client's previous connection: a
  // client back before that gets a fresh session (so does the reference's). Like a
  // network that comes back only then, the proxy holds each new handshake (a first
  // request without a session id) until the server has no connected socket left.
  const nsp = io.of("/");
  const proxy = new FaultProxy(h.port, {
    admit: async (first) => {
      const requestLine = first.toString("latin1", 0, first.indexOf("\r\n"));
      if (/[?&]sid=/.test(requestLine)) return;
      await until(() => nsp.sockets.size === 0, "the server let go of the client", 60000);
    },
  });
  h.onCleanup(() => proxy.close());
  const port = await proxy.listen();

  const client = ioc(`http://127.0.0.1:${port}`, {
    transports,
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 50,
    randomizationFactor: 0,
  });
  h.onCleanup(() => client.disconnect());
  const seen = { next: 0, duplicates: 0, gaps: [], recovered: 0, fresh: 0, upgrades: 0 };
  client.io.on("open", () => client.io.engine.on("upgrade", () => seen.upgrades++));
  client.on("m", (seq) => {
    if (seq === seen.next) seen.next++;
    else if (seq < seen.next) seen.duplicates++;
    else {
      seen.gaps.push([seen.next, seq]);
      seen.next = seq + 1;
    }
  });
  client.on("connect", () => {
    if (client.recovered) seen.recovered++;
    else seen.fresh++;
  });
  await new Promise((resolve) => client.once("connect", resolve));

  const payload = "x".repeat(size);
  let seq = 0;
  const emitter = setInterval(() => {
    for (let i = 0; i < perTick; i++, seq++) {
      const kind = seq % 3;
      if (kind === 0) io.emit("m", seq, payload);
      else if (kind === 1) io.to("room").emit("m", seq, payload);
      else target.emit("m", seq, payload); // the first socket object, connected or not
    }
  }, 5);
  h.onCleanup(() => clearInterval(emitter));

  // the client needs a first offset to recover from before the first cut
  await until(() => seen.next > 0, "the first message", 3000);
  const rand = prng(seed);
  let faults = 0;
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    await sleep(100 + rand() * 500);
    faults++;
    if (stallMs && faults % 2 === 1) {
      proxy.stall(stallMs);
      await sleep(stallMs);
    } else {
      proxy.cut();
    }
  }
  clearInterval(emitter);
  const total = seq;
  const deadline = Date.now() + 15000;
  while (seen.next < total && seen.gaps.length === 0 && Date.now() < deadline) await sleep(50);
  return { seen, total, cuts: proxy.cuts, stalls: proxy.stalls, reasons };
}

describe("connection state recovery through connection drops", function () {
  this.timeout(40000);
  const h = useHarness();

  VARIANTS.forEach(({ label, transports }, i) => {
    it(`${label}: every broadcast, room broadcast and direct emit arrives exactly once, in order`, async () => {
      const result = await runStream(h, { transports, durationMs: 9000, perTick: 3, size: 20, seed: 7 + i });
      const { seen, total, cuts } = result;
      expect(cuts).to.be.greaterThan(9);
      expect(total).to.be.greaterThan(1000); // enough traffic across the cuts, even on a loaded machine
      expect(seen.gaps).to.eql([]);
      expect(seen.duplicates).to.be(0);
      expect(seen.next).to.be(total);
      expect(seen.fresh).to.be(1);
      expect(seen.recovered).to.be.greaterThan(5);
      if (transports.length === 2) expect(seen.upgrades).to.be.greaterThan(5);
    });
  });

  // Bursts that outrun the kernel's socket buffers and the bound during a stall, at a
  // rate the client keeps up with otherwise. The heartbeat outlasts a stall, so that
  // the server, not the client, gives up on the connection.
  // (a websocket stall first fills the kernel's buffers on the way: about 1 s at 5 MB/s)
  const SLOW = [
    { ...VARIANTS[0], size: 4000, perTick: 6, bound: 1e6, stallMs: 2000 },
    { ...VARIANTS[1], size: 2000, perTick: 3, bound: 3e5, stallMs: 1000 },
  ];
  SLOW.forEach(({ label, transports, size, perTick, bound, stallMs }, i) => {
    it(`${label}: a client closed as too slow ("write buffer full") gets everything back`, async () => {
      const result = await runStream(h, {
        transports,
        durationMs: 9000,
        perTick,
        size,
        stallMs,
        serverOptions: { maxBufferedAmount: bound, pingInterval: 1000, pingTimeout: 3000 },
        seed: 42 + i,
      });
      const { seen, total, stalls, reasons } = result;
      expect(stalls).to.be.greaterThan(2);
      const slow = reasons.filter((r) => r === "write buffer full").length;
      if (impl.REFERENCE) expect(slow).to.be(0);
      else expect(slow).to.be.greaterThan(1);
      expect(seen.gaps).to.eql([]);
      expect(seen.duplicates).to.be(0);
      expect(seen.next).to.be(total);
      expect(seen.fresh).to.be(1);
    });
  });
});
