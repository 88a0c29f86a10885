"use strict";

// One regression test per CVE class of the protocol stack. Each asserts that the
// process survives (the server runs in the mocha process: nothing may reach
// 'uncaughtException'), that the attacker gets the reference's answer, and that a
// bystander client on each transport keeps sending and receiving.
const net = require("net");
const expect = require("expect.js");
const { useHarness, sleep, waitFor, disconnectReason, REFERENCE } = require("../socket.io/support/util");
const { watchProcess, connectBystanders, rawUpgrade } = require("./support");

const UPGRADE_HEAD = (path) =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

// FIN with RSV1, RSV2 and RSV3 set, masked, no payload: "RSV2 and RSV3 must be clear"
const INVALID_FRAME = Buffer.from([0xf1, 0x80, 0, 0, 0, 0]);
// a WebSocket close frame from the server with status 1002 (protocol error)
const CLOSE_1002 = Buffer.from([0x88, 0x02, 0x03, 0xea]);

// The reference closes a client on a decoding error without a reason of its own
// ("forced close"); we report the documented "parse error" (see bad-input.test.js).
const DECODE_ERROR_REASON = REFERENCE ? "forced close" : "parse error";

/** Writes raw bytes on a fresh TCP connection; resolves everything received once the server closed it. */
function rawExchange(port, bytes, ms = 3000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const received = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("the server kept the connection open"));
    }, ms);
    socket.on("data", (d) => received.push(d));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received));
    });
    socket.write(bytes);
  });
}

/** Opens a raw Engine.IO v4 polling session joined to "/"; resolves { sid, socket }. */
async function pollingSession(h, sockets) {
  const peer = await h.rawPolling();
  await peer.post("40");
  expect((await peer.get()).body.toString()).to.match(/^40\{"sid":/);
  return { peer, socket: sockets[sockets.length - 1] };
}

describe("CVE regressions", function () {
  this.timeout(15000);
  const h = useHarness();
  let watch;
  let io;
  let sockets;
  let bystanders;

  beforeEach(async () => {
    watch = watchProcess();
    io = await h.server({ allowEIO3: true });
    sockets = [];
    io.on("connection", (socket) => {
      sockets.push(socket);
      socket.on("echo", (value, cb) => typeof cb === "function" && cb(value));
    });
    bystanders = await connectBystanders(h, io);
  });

  afterEach(() => watch.stop());

  describe("engine.io CVE-2022-21676: an invalid WebSocket frame right after the upgrade", () => {
    it("on a WebSocket handshake: 101, then a 1002 close frame; the session closes with 'transport error'", async () => {
      const closed = new Promise((resolve) =>
        io.engine.once("connection", (socket) => socket.once("close", resolve)),
      );
      const head = UPGRADE_HEAD("/socket.io/?EIO=4&transport=websocket");
      const received = await rawExchange(h.port, Buffer.concat([Buffer.from(head), INVALID_FRAME]));
      expect(received.toString("latin1")).to.match(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
      expect(received.subarray(received.length - 4).equals(CLOSE_1002)).to.be(true);
      expect(await closed).to.be("transport error");
      watch.assertClean();
      await bystanders.assertAlive();
    });

    it("while an asynchronous generateId() is pending: 101, then a 1002 close frame", async () => {
      io.engine.generateId = () =>
        new Promise((resolve) => setTimeout(() => resolve(`slow-${Date.now()}`), 100));
      const socket = net.connect(h.port, "127.0.0.1");
      const received = [];
      socket.on("data", (d) => received.push(d));
      socket.on("error", () => {});
      const closed = new Promise((resolve) => socket.on("close", resolve));
      socket.write(UPGRADE_HEAD("/socket.io/?EIO=4&transport=websocket"));
      await waitFor(socket, "data");
      // the frame arrives before the session (and its transport) exists
      socket.write(INVALID_FRAME);
      await closed;
      const bytes = Buffer.concat(received);
      expect(bytes.subarray(bytes.length - 4).equals(CLOSE_1002)).to.be(true);
      await sleep(150);
      watch.assertClean();
      await bystanders.assertAlive();
    });

    it("on the upgrade of a polling session: 101, then a 1002 close frame; the session stays on polling", async () => {
      const { peer, socket } = await pollingSession(h, sockets);
      const head = UPGRADE_HEAD(`/socket.io/?EIO=4&transport=websocket&sid=${peer.sid}`);
      const received = await rawExchange(h.port, Buffer.concat([Buffer.from(head), INVALID_FRAME]));
      expect(received.toString("latin1")).to.match(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
      expect(received.subarray(received.length - 4).equals(CLOSE_1002)).to.be(true);
      await sleep(50);
      expect(socket.connected).to.be(true);
      expect(socket.conn.transport.name).to.be("polling");
      await peer.post('423["echo","after"]');
      expect((await peer.get()).body.toString()).to.be('433["after"]');
      watch.assertClean();
      await bystanders.assertAlive();
    });
  });

  describe("engine.io CVE-2022-41940: an upgrade request for another path, then a TCP reset", () => {
    for (const delay of [0, 100, 500]) {
      it(`reset ${delay} ms after the request: no uncaught ECONNRESET`, async () => {
        const socket = await rawUpgrade(h.port, "/not-socket.io");
        await sleep(delay);
        socket.resetAndDestroy();
        await sleep(1100);
        watch.assertClean();
        await bystanders.assertAlive();
      });
    }

    it("left alone, the request is dropped after destroyUpgradeTimeout without an answer", async () => {
      const received = await rawExchange(h.port, UPGRADE_HEAD("/not-socket.io"), 3000);
      expect(received.length).to.be(0);
      watch.assertClean();
      await bystanders.assertAlive();
    });
  });

  describe("CVE-2026-59725: invalid binary POST requests over HTTP long-polling", () => {
    it("a binary POST body on a v4 session: 400 at once, the session closes with 'transport error' ('invalid content')", async () => {
      const { peer, socket } = await pollingSession(h, sockets);
      const closed = waitFor(socket.conn, "close");
      const body = Buffer.from([4, 1, 2, 3]);
      const received = await rawExchange(
        h.port,
        Buffer.concat([
          Buffer.from(
            `POST /socket.io/?EIO=4&transport=polling&sid=${peer.sid} HTTP/1.1\r\nHost: localhost\r\n` +
              `Connection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
          ),
          body,
        ]),
      );
      expect(received.toString("latin1")).to.match(/^HTTP\/1\.1 400 Bad Request\r\n/);
      const [reason, description] = await closed;
      expect(reason).to.be("transport error");
      expect(description.message).to.be("invalid content");
      expect(description.code).to.be(REFERENCE ? undefined : "EIO_ERR_INVALID_CONTENT");
      watch.assertClean();
      await bystanders.assertAlive();
    });

    it("200 such requests at once are all answered, none is left holding a connection", async () => {
      const sessions = [];
      for (let i = 0; i < 20; i++) sessions.push(await pollingSession(h, sockets));
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          rawExchange(
            h.port,
            `POST /socket.io/?EIO=4&transport=polling&sid=${sessions[i % 20].peer.sid} HTTP/1.1\r\n` +
              "Host: localhost\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: 1\r\n\r\n\x04",
          ),
        ),
      );
      for (const answer of answers) {
        // the session's first binary POST gets 400; the next ones find it closed (code 1)
        expect(answer.toString("latin1")).to.match(/^HTTP\/1\.1 400 Bad Request\r\n/);
      }
      expect(Date.now() - started).to.be.below(5000);
      watch.assertClean();
      await bystanders.assertAlive();
    });

    it("malformed binary payloads on a v3 session are answered and crash nothing", async () => {
      const payloads = [
        [1, 255],
        [5, 1, 2],
        [2],
        [0, 3, 255, 52, 97],
        [1, 1, 255, 4, 1],
        [0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 255, 52],
      ];
      for (const bytes of payloads) {
        const handshake = await rawExchange(
          h.port,
          "GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        const text = handshake.toString("latin1");
        const sid = JSON.parse(text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1)).sid;
        const body = Buffer.from(bytes);
        const received = await rawExchange(
          h.port,
          Buffer.concat([
            Buffer.from(
              `POST /socket.io/?EIO=3&transport=polling&sid=${sid} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n` +
                `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
            ),
            body,
          ]),
        );
        expect(received.toString("latin1")).to.match(/^HTTP\/1\.1 200 OK\r\n/);
      }
      watch.assertClean();
      await bystanders.assertAlive();
    });
  });

  describe("socket.io-parser CVE-2022-2421: placeholders that are not attachment indexes", () => {
    const ATTACKS = [
      { num: '"toString"', label: "a method name" },
      { num: '"__proto__"', label: '"__proto__"' },
      { num: "-1", label: "a negative index" },
      { num: "1", label: "an index past the attachments" },
      { num: '"0"', label: "a string index" },
      { num: "[0]", label: "an array" },
    ];
    for (const { num, label } of ATTACKS) {
      it(`${label} as "num": the client is closed, no handler sees anything`, async () => {
        const calls = [];
        io.on("connection", (socket) => socket.on("attack", (...args) => calls.push(args)));
        const peer = await h.rawWs();
        peer.send("40");
        expect(await peer.next()).to.match(/^40\{"sid":/);
        const socket = sockets[sockets.length - 1];
        const reason = disconnectReason(socket);
        peer.send(`451-["attack",{"_placeholder":true,"num":${num}}]`);
        peer.send(Buffer.from([1, 2, 3]));
        await peer.closedWithin(2000);
        expect(await reason).to.be(DECODE_ERROR_REASON);
        expect(calls).to.eql([]);
        watch.assertClean();
        await bystanders.assertAlive();
      });
    }

    // the reference reads buffers[0.5] (undefined) and hands it to the handler
    (REFERENCE ? it.skip : it)(
      'a fractional index as "num": the client is closed, no handler sees anything',
      async () => {
        const calls = [];
        io.on("connection", (socket) => socket.on("attack", (...args) => calls.push(args)));
        const peer = await h.rawWs();
        peer.send("40");
        expect(await peer.next()).to.match(/^40\{"sid":/);
        const reason = disconnectReason(sockets[sockets.length - 1]);
        peer.send('451-["attack",{"_placeholder":true,"num":0.5}]');
        peer.send(Buffer.from([1, 2, 3]));
        await peer.closedWithin(2000);
        expect(await reason).to.be("parse error");
        expect(calls).to.eql([]);
        watch.assertClean();
        await bystanders.assertAlive();
      },
    );
  });

  describe("socket.io-parser CVE-2023-32695: event names that are not strings", () => {
    const ATTACKS = [
      '42[{"toString":"foo"}]',
      '42[{"toString":{}}]',
      '42[{"__proto__":{"x":1}}]',
      "42[[]]",
      "42[null]",
      "42[true]",
      '42[{"valueOf":1}]',
    ];
    for (const packet of ATTACKS) {
      it(`${packet}: the client is closed, no handler sees anything`, async () => {
        const seen = [];
        io.on("connection", (socket) => socket.onAny((...args) => seen.push(args)));
        const peer = await h.rawWs();
        peer.send("40");
        expect(await peer.next()).to.match(/^40\{"sid":/);
        const socket = sockets[sockets.length - 1];
        const reason = disconnectReason(socket);
        peer.send(packet);
        await peer.closedWithin(2000);
        expect(await reason).to.be(DECODE_ERROR_REASON);
        expect(seen).to.eql([]);
        watch.assertClean();
        await bystanders.assertAlive();
      });
    }

    it("the same packets over HTTP long-polling", async () => {
      for (const packet of ATTACKS) {
        const { peer, socket } = await pollingSession(h, sockets);
        const reason = disconnectReason(socket);
        expect((await peer.post(packet)).status).to.be(200);
        // the close packet answers the next GET (the reference only then reports the disconnect)
        expect((await peer.get()).body.toString()).to.match(/(^|\x1e)1$/);
        expect(await reason).to.be(DECODE_ERROR_REASON);
      }
      watch.assertClean();
      await bystanders.assertAlive();
    });
  });

  describe("socket.io CVE-2024-38355: a client emitting 'error' with no 'error' listener", () => {
    for (const packet of ['42["error"]', '42["error","boom"]', '421["error"]']) {
      it(`${packet} over WebSocket and over polling: ignored, the client stays connected`, async () => {
        const ws = await h.rawWs();
        ws.send("40");
        expect(await ws.next()).to.match(/^40\{"sid":/);
        ws.send(packet);
        ws.send('427["echo","ws"]');
        expect(await ws.next()).to.be('437["ws"]');
        const { peer } = await pollingSession(h, sockets);
        expect((await peer.post(packet)).status).to.be(200);
        await peer.post('427["echo","polling"]');
        expect((await peer.get()).body.toString()).to.be('437["polling"]');
        expect(sockets.every((socket) => socket.connected)).to.be(true);
        watch.assertClean();
        await bystanders.assertAlive();
      });
    }

    it("socket.emit('error', ...) from socket.io-client, over each transport", async () => {
      for (const transport of ["polling", "websocket"]) {
        const client = await h.connect("/", { transports: [transport] });
        client.emit("error", "oops");
        expect(await client.timeout(2000).emitWithAck("echo", transport)).to.be(transport);
      }
      watch.assertClean();
      await bystanders.assertAlive();
    });
  });
});
