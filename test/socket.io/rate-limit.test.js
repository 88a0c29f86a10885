"use strict";

// The `rateLimit` option: token buckets on the events a socket receives from its client.
// Flooding clients (socket.io-client, and raw peers sending as fast as the server reads:
// WebSocket frames, polling POSTs of many packets) against a limit of 100 events/s: the
// handler runs at the limit and no more, every packet over it is accounted for (dropped
// and reported, or the socket disconnected with "rate limit exceeded"), and the other
// clients are not affected. Ours only: socket.io 4.8 has no such option.
const path = require("path");
const { fork } = require("child_process");
const expect = require("expect.js");
const {
  useHarness,
  waitFor,
  until,
  sleep,
  connected,
  disconnectReason,
  expectNoEvent,
  REFERENCE,
} = require("./support/util");

const FLOOD_MS = 3000;
// the limits of a flood of 100 events/s over FLOOD_MS: the full bucket, then 100 a second
const MOST = 100 + 100 * (FLOOD_MS / 1000) + 5;
// a connection over its limit is read again once its bucket is full: a second later
const LEAST = 100 + 100 * (FLOOD_MS / 1000 - 1) - 5;

/**
 * Sends `frame` over a raw WebSocket peer for `ms`, as fast as the server reads (never more
 * than 1 MB queued in the peer); resolves the count handed to the peer.
 */
function floodWs(peer, frame, ms) {
  let sent = 0;
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = () => {
      if (Date.now() >= end || peer.closed) return resolve(sent);
      if (peer.ws.bufferedAmount < 1e6) {
        for (let i = 0; i < 500; i++) peer.ws.send(frame);
        sent += 500;
        setImmediate(tick);
      } else {
        // the server is not reading: no need to spin
        setTimeout(tick, 5);
      }
    };
    tick();
  });
}

/** POSTs payloads of `perPost` packets over a raw polling peer, back to back, for `ms`. */
async function floodPolling(peer, packet, perPost, ms) {
  const body = new Array(perPost).fill(packet).join("\x1e");
  const end = Date.now() + ms;
  let sent = 0;
  let posts = 0;
  while (Date.now() < end) {
    const res = await peer.post(body);
    if (res.status !== 200) break;
    sent += perPost;
    posts++;
  }
  return { sent, posts };
}

/** Emits `event` from a socket.io-client as fast as its transport takes it, for `ms`. */
function floodClient(client, event, ms) {
  let sent = 0;
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = () => {
      if (Date.now() >= end || !client.connected) return resolve(sent);
      // what waits in the client's engine stays small (a polling POST stays far below
      // maxHttpBufferSize)
      if (client.io.engine.writeBuffer.length < 2000) {
        for (let i = 0; i < 200; i++) client.emit(event, sent++);
      }
      setImmediate(tick);
    };
    tick();
  });
}

/** The most timestamps of `times` (sorted) in any window [t, t + ms). */
function maxInWindow(times, ms) {
  let max = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= ms) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

/** A server counting the calls of the "flood" handler (with their times) and the "rate_limited" events. */
async function floodServer(h, rateLimit, extra = {}) {
  const io = await h.server({ rateLimit, ...extra });
  const seen = { times: [], limited: 0, limitedEvents: new Set(), sockets: [], reasons: [] };
  io.on("rate_limited", (socket, event) => {
    seen.limited++;
    seen.limitedEvents.add(event);
  });
  io.on("connection", (socket) => {
    seen.sockets.push(socket);
    socket.on("flood", () => seen.times.push(Date.now()));
    socket.on("disconnect", (reason) => seen.reasons.push({ reason, at: Date.now() }));
  });
  return { io, nsp: io.of("/"), seen };
}

/** A raw WebSocket peer connected to "/". */
async function rawSocket(h) {
  const peer = await h.rawWs();
  peer.send("40");
  expect(await peer.next()).to.match(/^40\{"sid":/);
  return peer;
}

/** A raw polling peer connected to "/". */
async function rawPolling(h) {
  const peer = await h.rawPolling();
  expect((await peer.post("40")).status).to.be(200);
  expect((await peer.get()).body.toString()).to.match(/^40\{"sid":/);
  return peer;
}

(REFERENCE ? describe.skip : describe)("rate limits (rateLimit)", function () {
  this.timeout(20000);
  const h = useHarness();

  describe("off (the default)", () => {
    it("delivers every event and gives the sockets no bucket", async () => {
      const io = await h.server();
      let handled = 0;
      let serverSocket;
      io.on("connection", (socket) => {
        serverSocket = socket;
        socket.on("flood", () => handled++);
      });
      const client = await h.connect("/", { transports: ["websocket"] });
      for (let i = 0; i < 2000; i++) client.emit("flood", i);
      await until(() => handled === 2000, "every event handled");
      expect("_rateState" in serverSocket).to.be(false);
      expect(io.of("/").rateLimitDroppedCount).to.be(0);
      expect(io.of("/").rateLimitDisconnectsCount).to.be(0);
    });
  });

  describe("drop (the default onLimit)", () => {
    it("holds a WebSocket flood to 100 events/s, reports every drop, and stops reading the flooder", async () => {
      const { nsp, seen } = await floodServer(h, { perSecond: 100 });
      const peer = await rawSocket(h);
      const sent = await floodWs(peer, '42["flood"]', FLOOD_MS);
      // what the server did while the flood lasted (it goes on reading what is queued)
      const handled = seen.times.length;
      const read = handled + nsp.rateLimitDroppedCount;
      expect(handled).to.be.within(LEAST, MOST);
      // every event handled in the first second (the full bucket) or later at 100 a second
      for (let second = 1; second < FLOOD_MS / 1000; second++) {
        const upTo = seen.times.filter((t) => t < seen.times[0] + second * 1000).length;
        expect(upTo).to.be.below(100 + 100 * second + 5);
      }
      // over its limit, the flooder is read at 64 KB a second, not at the rate it sends: its
      // first read (up to 64 KB, some 4,000 packets), then 64 KB (some 4,000) a second
      expect(read).to.be.below(4000 * (FLOOD_MS / 1000 + 1) + 1000);
      expect(sent).to.be.greaterThan(2 * read);
      await until(() => seen.limited === nsp.rateLimitDroppedCount, "a rate_limited event per drop");
      expect([...seen.limitedEvents]).to.eql(["flood"]);
      expect(nsp.rateLimitDisconnectsCount).to.be(0);
      expect(seen.reasons).to.eql([]);
    });

    it("reads a WebSocket flooder's backlog a slice a turn of the event loop: some 60 of its packets", async () => {
      const { nsp, seen } = await floodServer(h, { perSecond: 100 });
      const peer = await rawSocket(h);
      // the flooder's packets read (handled or dropped) in each turn of the event loop once
      // the connection was first paused (in the turn of the first drop)
      const later = [];
      let last = 0;
      let flooding = true;
      const turn = () => {
        const read = seen.times.length + nsp.rateLimitDroppedCount;
        if (read > last && nsp.rateLimitDroppedCount > 0) {
          later.push(read - last);
        }
        last = read;
        if (flooding) setImmediate(turn);
      };
      setImmediate(turn);
      await floodWs(peer, '42["flood"]', FLOOD_MS);
      flooding = false;
      // the backlog is read again once a second, 64 KB of it in 1 KB slices, one a turn (60
      // packets of 17 bytes: admitted while the bucket lasts, then dropped); the turn of the
      // first drop is the next test's
      later.shift();
      expect(later.length).to.be.greaterThan(50 * (FLOOD_MS / 1000 - 1));
      expect(Math.max(...later)).to.be.below(120);
    });

    it("stops a WebSocket flooder's first read where its bucket ran out: the rest of the read waits", async () => {
      const { nsp, seen } = await floodServer(h, { perSecond: 100 });
      const peer = await rawSocket(h);
      // 4,000 packets in one write (68 KB): on loopback, the server's first read of them
      // is the size of its buffer, 64 KB
      const stream = peer.ws._socket;
      stream.cork();
      for (let i = 0; i < 4000; i++) peer.ws.send('42["flood"]');
      stream.uncork();
      await until(() => nsp.rateLimitDroppedCount > 0, "a first drop");
      // what was read in the turns that followed: only what the slice holding the 100th
      // packet had left (ws would have decoded the whole read, some 3,900 more, at once)
      await sleep(100);
      const read = seen.times.length + nsp.rateLimitDroppedCount;
      expect(read).to.be.below(100 + 2 * 60);
      expect(seen.times.length).to.be(100);
      // the rest is read once the bucket is full again: a second later, 1 KB a turn
      await until(() => seen.times.length === 200, "the next 100, a second later", 3000);
      expect(peer.closed).to.not.be(true);
    });

    for (const perMessageDeflate of [false, true]) {
      it(`delivers big messages whole though reads are handed to ws a slice at a time${perMessageDeflate ? " (perMessageDeflate)" : ""}`, async () => {
        const io = await h.server({
          rateLimit: { perSecond: 100 },
          perMessageDeflate,
          maxHttpBufferSize: 4e6,
        });
        const got = [];
        io.on("connection", (socket) =>
          socket.on("big", (text, bytes, ack) => ack([text.length, bytes.length, got.push(text)])),
        );
        const client = await h.connect("/", { transports: ["websocket"] });
        const text = "é".repeat(300000) + "x".repeat(100001);
        const bytes = Buffer.alloc(700000, 7);
        const answers = await Promise.all(
          [0, 1, 2].map(() => client.timeout(10000).emitWithAck("big", text, bytes)),
        );
        expect(answers).to.eql([
          [400001, 700000, 1],
          [400001, 700000, 2],
          [400001, 700000, 3],
        ]);
        for (const t of got) expect(t === text).to.be(true);
      });
    }

    it("drops the events of a socket over its limit before parsing their arguments, and reads its other packets", async () => {
      // a token every 100 s: nothing comes back while the test runs
      const io = await h.server({ rateLimit: { perSecond: 0.01, burst: 2 } });
      const limited = [];
      const handled = [];
      let mainSocket;
      io.on("rate_limited", (socket, event) => limited.push(event));
      io.on("connection", (socket) => {
        mainSocket = socket;
        socket.onAny((event) => handled.push(`/ ${event}`));
      });
      io.of("/chat").on("connection", (socket) => socket.onAny((event) => handled.push(`/chat ${event}`)));
      const peer = await rawSocket(h);
      peer.send("40/chat,");
      expect(await peer.next()).to.match(/^40\/chat,\{"sid":/);
      const answer = mainSocket.timeout(5000).emitWithAck("question");
      expect(await peer.next()).to.be('420["question"]');
      // two events through, the third over the limit: the bucket of "/" is empty
      peer.send('42["one"]');
      peer.send('42["two"]');
      peer.send('42["three"]');
      // dropped for their namespace and name: an acknowledgement id, a malformed payload
      // (which would have closed the connection, had it been parsed)
      peer.send('421["four",1]');
      peer.send('42["five",{oops');
      // a name with an escape is decoded first, and dropped all the same
      peer.send('42["six\\"",1]');
      // the other packets of the connection go through: an acknowledgement, an event of
      // another namespace (a bucket of its own)
      peer.send('430["answer"]');
      peer.send('42/chat,["seven"]');
      expect(await answer).to.be("answer");
      await until(() => limited.length === 4 && handled.length === 3, "every packet accounted for");
      expect(limited).to.eql(["three", "four", "five", 'six"']);
      expect(handled).to.eql(["/ one", "/ two", "/chat seven"]);
      expect(io.of("/").rateLimitDroppedCount).to.be(4);
      expect(io.metrics().namespaces["/"].eventsReceived).to.be(6);
      expect(peer.closed).to.be(false);
    });

    for (const transport of ["websocket", "polling"]) {
      it(`with a burst of 5, at most 105 events in any one-second window over ${transport}, the first one included`, async () => {
        const { seen } = await floodServer(h, { perSecond: 100, burst: 5 });
        if (transport === "websocket") {
          await floodWs(await rawSocket(h), '42["flood"]', FLOOD_MS);
        } else {
          await floodPolling(await rawPolling(h), '42["flood"]', 500, FLOOD_MS);
        }
        const times = seen.times.slice();
        // at most 5 + 100 admitted in any second; the handlers run a tick after their packet
        // was read, with their batch, which may bring one or two of a batch closer
        expect(maxInWindow(times, 1000)).to.be.within(40, 107);
        // with so small a bucket, a polling client's round trip after each held answer (the
        // bucket full again: 50 ms) loses it some of the 100 a second
        const least = transport === "websocket" ? 0.8 : 0.5;
        expect(times.length).to.be.within(
          5 + 100 * (FLOOD_MS / 1000) * least,
          5 + 100 * (FLOOD_MS / 1000) + 5,
        );
      });
    }

    it("counts each packet of a polling POST: one POST of 1000 packets gets 100 through, answered once the bucket refilled", async () => {
      const { io, nsp, seen } = await floodServer(h, { perSecond: 100 });
      const peer = await rawPolling(h);
      const body = new Array(1000).fill('42["flood"]').join("\x1e");
      const start = Date.now();
      expect((await peer.post(body)).status).to.be(200);
      // the answer waited for the bucket (a second to refill): the client sends nothing meanwhile
      expect(Date.now() - start).to.be.greaterThan(800);
      await until(() => seen.times.length + nsp.rateLimitDroppedCount === 1000, "every packet accounted for");
      // the full bucket, and what it regained while the body was decoded (a few ms)
      expect(seen.times.length).to.be.within(100, 105);
      expect(nsp.rateLimitDroppedCount).to.be(1000 - seen.times.length);
      expect(seen.limited).to.be(nsp.rateLimitDroppedCount);
      // io.metrics() reads the same counters; every event counts as received
      const metrics = io.metrics().namespaces["/"];
      expect(metrics.rateLimitDrops).to.be(nsp.rateLimitDroppedCount);
      expect(metrics.eventsReceived).to.be(1000);
      // the session goes on
      expect((await peer.post('42["flood"]')).status).to.be(200);
    });

    it("reads a big POST body a slice a turn of the event loop, 64 KB a second over the limit, and answers it once read", async () => {
      const { nsp, seen } = await floodServer(h, { perSecond: 100 });
      const peer = await rawPolling(h);
      const turns = [];
      let last = 0;
      let posting = true;
      const turn = () => {
        const read = seen.times.length + nsp.rateLimitDroppedCount;
        if (read > last) turns.push(read - last);
        last = read;
        if (posting) setImmediate(turn);
      };
      setImmediate(turn);
      // 12,000 packets of 12 bytes: 144 KB
      const body = new Array(12000).fill('42["flood"]').join("\x1e");
      const start = Date.now();
      expect((await peer.post(body)).status).to.be(200);
      const took = Date.now() - start;
      posting = false;
      // the first 64 KB at once, 64 KB a second later, then the answer with the next refill
      expect(took).to.be.within(2500, 4500);
      expect(seen.times.length + nsp.rateLimitDroppedCount).to.be(12000);
      // the bucket's 100, and 100 with each refill
      expect(seen.times.length).to.be.within(
        100 * Math.floor(took / 1000) - 5,
        100 + 100 * (took / 1000) + 5,
      );
      // the packets up to the first pause in one turn (the bucket's 100), then a slice a
      // turn: 1 KB, some 85 packets
      expect(turns[0]).to.be.within(100, 105);
      expect(Math.max(...turns.slice(1))).to.be.below(120);
    });

    it("holds a polling flood (POSTs of 500 packets back to back) to 100 events/s, a POST a second", async () => {
      const { nsp, seen } = await floodServer(h, { perSecond: 100 });
      const peer = await rawPolling(h);
      const { sent, posts } = await floodPolling(peer, '42["flood"]', 500, FLOOD_MS);
      await until(() => seen.times.length + nsp.rateLimitDroppedCount === sent, "every packet accounted for");
      expect(seen.times.length).to.be.within(LEAST, MOST);
      expect(posts).to.be.within(FLOOD_MS / 1000 - 1, FLOOD_MS / 1000 + 2);
      expect(seen.limited).to.be(nsp.rateLimitDroppedCount);
    });

    for (const transports of [["websocket"], ["polling"]]) {
      it(`holds a socket.io-client flood over ${transports[0]} to the limit`, async () => {
        const { nsp, seen } = await floodServer(h, { perSecond: 100 });
        const client = await h.connect("/", { transports });
        await floodClient(client, "flood", 2000);
        expect(seen.times.length).to.be.within(150, 100 + 100 * 2 + 5);
        expect(nsp.rateLimitDroppedCount).to.be.greaterThan(0);
        expect(client.connected).to.be(true);
      });
    }

    it("leaves the other clients alone: their events and acknowledgements all go through", async () => {
      const { io, nsp, seen } = await floodServer(h, { perSecond: 100 });
      io.on("connection", (socket) => socket.on("echo", (n, ack) => ack(n)));
      const peer = await rawSocket(h);
      const others = await Promise.all([
        h.connect("/", { transports: ["websocket"] }),
        h.connect("/", { transports: ["polling"] }),
      ]);
      const flooding = floodWs(peer, '42["flood"]', FLOOD_MS);
      // each of the others sends 50 events (20 per second: under their own limit)
      const answers = await Promise.all(
        others.map(async (client) => {
          const got = [];
          for (let i = 0; i < 50; i++) {
            got.push(await client.timeout(2000).emitWithAck("echo", i));
            await sleep(50);
          }
          return got;
        }),
      );
      await flooding;
      for (const got of answers) expect(got).to.eql([...Array(50).keys()]);
      expect(nsp.rateLimitDroppedCount).to.be.greaterThan(0);
      expect([...seen.limitedEvents]).to.eql(["flood"]);
    });

    it("keeps a client a little over its limit: its excess dropped, its heartbeat and its events not left behind a growing backlog", async () => {
      const io = await h.server({ rateLimit: { perSecond: 100 }, pingInterval: 400, pingTimeout: 1500 });
      const late = [];
      const reasons = [];
      io.on("connection", (socket) => {
        socket.on("tick", (sentAt) => late.push(Date.now() - sentAt));
        socket.on("disconnect", (reason) => reasons.push(reason));
      });
      const client = await h.connect("/", { transports: ["websocket"] });
      // some 200 events a second, each with some payload, for 5 s
      const payload = "x".repeat(40);
      const timer = setInterval(() => {
        for (let i = 0; i < 5; i++) client.emit("tick", Date.now(), payload);
      }, 20);
      await sleep(5000);
      clearInterval(timer);
      expect(reasons).to.eql([]);
      expect(client.connected).to.be(true);
      expect(io.of("/").rateLimitDroppedCount).to.be.greaterThan(200);
      expect(late.length).to.be.within(400, 100 + 5 * 100 + 5);
      // what the handler gets in the last second was sent in the last two: no backlog (64
      // KB of it are read a second; with a read, or the bucket's worth, the client's
      // events, and its pongs, wait behind more and more of their own: "ping timeout")
      expect(Math.max(...late.slice(-100))).to.be.below(2000);
    });

    it("does not count the acknowledgements a client sends", async () => {
      const io = await h.server({ rateLimit: { perSecond: 10 } });
      const socketPromise = waitFor(io, "connection");
      const client = await h.connect("/", { transports: ["websocket"] });
      client.on("ask", (n, ack) => ack(n));
      const socket = await socketPromise;
      const answers = await Promise.all(
        [...Array(200).keys()].map((n) => socket.timeout(3000).emitWithAck("ask", n)),
      );
      expect(answers).to.eql([...Array(200).keys()]);
      expect(io.of("/").rateLimitDroppedCount).to.be(0);
    });

    it("limits events by name on top of the overall limit", async () => {
      const io = await h.server({
        rateLimit: { perSecond: 10, burst: 30, events: { chat: { perSecond: 1, burst: 5 } } },
      });
      const counts = { chat: 0, other: 0 };
      const limited = [];
      io.on("rate_limited", (socket, event) => limited.push(event));
      io.on("connection", (socket) => {
        socket.on("chat", () => counts.chat++);
        socket.on("other", () => counts.other++);
      });
      const peer = await rawSocket(h);
      // 20 "chat" then 21 "other" in one go: 5 "chat" get through (their own burst), and
      // every "other" fits in what is left of the overall 30, as a dropped "chat" takes
      // no overall token
      for (let i = 0; i < 20; i++) peer.send('42["chat"]');
      for (let i = 0; i < 20; i++) peer.send('42["other"]');
      await until(() => io.of("/").rateLimitDroppedCount === 15, "the dropped chats");
      peer.send('42["other"]');
      await until(() => counts.other === 21, "every other");
      expect(counts.chat).to.be(5);
      await until(() => limited.length === 15, "the rate_limited events");
      expect(new Set(limited)).to.eql(new Set(["chat"]));
    });

    it("limits only the named events when no overall rate is set", async () => {
      const io = await h.server({ rateLimit: { events: { chat: { perSecond: 1, burst: 2 } } } });
      const counts = { chat: 0, other: 0 };
      io.on("connection", (socket) => {
        socket.on("chat", () => counts.chat++);
        socket.on("other", () => counts.other++);
      });
      const client = await h.connect("/", { transports: ["websocket"] });
      for (let i = 0; i < 10; i++) client.emit("chat");
      for (let i = 0; i < 3000; i++) client.emit("other");
      await until(() => counts.other === 3000, "every other event");
      expect(counts.chat).to.be(2);
      expect(io.of("/").rateLimitDroppedCount).to.be(8);
    });

    it("refills: a socket over the limit gets through again once tokens came back", async () => {
      const io = await h.server({ rateLimit: { perSecond: 20, burst: 2 } });
      let handled = 0;
      io.on("connection", (socket) => socket.on("flood", () => handled++));
      const client = await h.connect("/", { transports: ["websocket"] });
      for (let i = 0; i < 10; i++) client.emit("flood");
      await until(() => io.of("/").rateLimitDroppedCount === 8, "the drops");
      expect(handled).to.be(2);
      // pacing the client: 20/s gives a token every 50 ms
      await sleep(120);
      client.emit("flood");
      await until(() => handled === 3, "the event after the refill");
    });

    it("applies to each namespace's socket on its own, and reports to the namespace's listeners", async () => {
      const io = await h.server({ rateLimit: { perSecond: 10, burst: 3 } });
      const chat = io.of("/chat");
      const limited = { main: 0, chat: 0 };
      io.on("rate_limited", () => limited.main++);
      chat.on("rate_limited", () => limited.chat++);
      let chatHandled = 0;
      chat.on("connection", (socket) => socket.on("flood", () => chatHandled++));
      const main = await h.connect("/", { transports: ["websocket"] });
      const onChat = await h.connect("/chat", { transports: ["websocket"] });
      for (let i = 0; i < 10; i++) onChat.emit("flood");
      await until(() => chat.rateLimitDroppedCount === 7 && limited.chat === 7, "the drops on /chat");
      expect(chatHandled).to.be(3);
      expect(io.of("/").rateLimitDroppedCount).to.be(0);
      expect(limited.main).to.be(0);
      expect(main.connected).to.be(true);
    });

    it("reports the drops of a dynamic namespace to the parent's listeners", async () => {
      const io = await h.server({ rateLimit: { perSecond: 10, burst: 1 } });
      const parent = io.of(/^\/room-\d+$/);
      const limited = [];
      parent.on("rate_limited", (socket, event) => limited.push([socket.nsp.name, event]));
      const client = await h.connect("/room-1", { transports: ["websocket"] });
      client.emit("a");
      client.emit("b");
      await until(() => limited.length === 1, "the rate_limited event");
      expect(limited).to.eql([["/room-1", "b"]]);
    });
  });

  describe('disconnect (onLimit: "disconnect")', () => {
    it('disconnects a WebSocket flooder within 2 s with the reason "rate limit exceeded"', async () => {
      const { nsp, seen } = await floodServer(h, { perSecond: 100, onLimit: "disconnect" });
      const peer = await rawSocket(h);
      const start = Date.now();
      floodWs(peer, '42["flood"]', FLOOD_MS);
      await until(() => seen.reasons.length === 1, "the disconnection", 2000);
      expect(seen.reasons[0].reason).to.be("rate limit exceeded");
      expect(seen.reasons[0].at - start).to.be.below(2000);
      expect(nsp.rateLimitDisconnectsCount).to.be(1);
      expect(nsp.rateLimitDroppedCount).to.be(0);
      // the events admitted before are dropped too if not handled yet, as after disconnect()
      expect(seen.times.length).to.be.below(106);
      // what it sends after that is for a namespace it left: the connection is closed
      await peer.closedWithin(3000);
      await until(() => seen.limited === 1, "one rate_limited event");
    });

    it("disconnects a polling flooder within 2 s, the client getting a DISCONNECT packet", async () => {
      const { io, nsp, seen } = await floodServer(h, { perSecond: 100, onLimit: "disconnect" });
      const peer = await rawPolling(h);
      const start = Date.now();
      const body = new Array(500).fill('42["flood"]').join("\x1e");
      expect((await peer.post(body)).status).to.be(200);
      await until(() => seen.reasons.length === 1, "the disconnection", 2000);
      expect(seen.reasons[0].reason).to.be("rate limit exceeded");
      expect(seen.reasons[0].at - start).to.be.below(2000);
      expect(nsp.rateLimitDisconnectsCount).to.be(1);
      expect(io.metrics().namespaces["/"].rateLimitDisconnects).to.be(1);
      // the body's first 100 packets were admitted, but not handled before the disconnection
      expect(seen.times.length).to.be(0);
      // the session waits for a GET to deliver the close: what the client POSTs meanwhile
      // is refused, unread
      const received = io.engine.bytesReceivedCount;
      expect((await peer.post(body)).status).to.be(400);
      expect(io.engine.bytesReceivedCount).to.be(received);
      expect(io.metrics().namespaces["/"].eventsReceived).to.be(101);
      expect((await peer.get()).body.toString()).to.contain("41");
    });

    for (const transports of [["websocket"], ["polling"]]) {
      it(`disconnects a socket.io-client flooding over ${transports[0]}: "io server disconnect", no reconnection`, async () => {
        const { nsp, seen } = await floodServer(h, { perSecond: 100, onLimit: "disconnect" });
        const client = await h.connect("/", { transports, reconnection: true });
        const clientReason = disconnectReason(client, 2000);
        const start = Date.now();
        floodClient(client, "flood", FLOOD_MS);
        expect(await clientReason).to.be("io server disconnect");
        expect(Date.now() - start).to.be.below(2000);
        expect(seen.reasons.map((r) => r.reason)).to.eql(["rate limit exceeded"]);
        expect(nsp.rateLimitDisconnectsCount).to.be(1);
        // a server-side disconnection: the client does not come back by itself
        await expectNoEvent(client, "connect", 300);
        expect(nsp.sockets.size).to.be(0);
        client.connect();
        await connected(client);
      });
    }

    it("leaves the other clients connected", async () => {
      const { io, seen } = await floodServer(h, { perSecond: 100, onLimit: "disconnect" });
      io.on("connection", (socket) => socket.on("echo", (n, ack) => ack(n)));
      const other = await h.connect("/", { transports: ["websocket"] });
      const peer = await rawSocket(h);
      floodWs(peer, '42["flood"]', FLOOD_MS);
      await until(() => seen.reasons.length === 1, "the flooder's disconnection", 2000);
      expect(await other.timeout(2000).emitWithAck("echo", 1)).to.be(1);
      expect(other.connected).to.be(true);
    });
  });

  describe("memory", () => {
    const MB = 1024 * 1024;

    function startChild() {
      const child = fork(path.join(__dirname, "support", "flood-server.js"), [], {
        execArgv: ["--expose-gc"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      h.onCleanup(() => child.kill());
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
      return request;
    }

    for (const transport of ["websocket", "polling"]) {
      it(`a ${transport} flooder costs the server under 10 MB`, async () => {
        const server = startChild();
        const { port } = await server("start", { options: { rateLimit: { perSecond: 100 } } });
        h.usePort(port);
        const peer = transport === "websocket" ? await rawSocket(h) : await rawPolling(h);
        await server("sample", { ms: 250 });
        const packet = '42["flood",{"payload":"abcdefghijklmnopqrstuvwxyz"}]';
        const start = Date.now();
        // over polling, the flood lasts until the answer to its last POST: a body of 800 KB
        // is read at 64 KB a second
        const sent =
          transport === "websocket"
            ? await floodWs(peer, packet, 5000)
            : (await floodPolling(peer, packet, 15000, 5000)).sent;
        const seconds = (Date.now() - start) / 1000;
        const stats = await server("stats");
        expect(stats.clients).to.be(1);
        expect(stats.handled).to.be.below(100 + seconds * 100 + 5);
        expect(sent).to.be.greaterThan(10 * stats.handled);
        expect(stats.peak - stats.base).to.be.below(10 * MB);
      });
    }
  });

  describe("the option", () => {
    it("is checked when the server is created", () => {
      const { Server } = require("./support/util");
      const bad = [
        { perSecond: 0 },
        { perSecond: -1 },
        { perSecond: "100" },
        { perSecond: Infinity },
        { perSecond: 10, burst: 0.5 },
        { onLimit: "close" },
        { events: { chat: {} } },
        { events: { chat: { perSecond: 1, burst: 0 } } },
      ];
      for (const rateLimit of bad) {
        expect(() => new Server({ rateLimit })).to.throwError((err) => {
          expect(err).to.be.a(TypeError);
          expect(err.message).to.match(/^rateLimit/);
        });
      }
    });
  });
});
