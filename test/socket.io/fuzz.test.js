"use strict";

// Random input from many raw peers at once, over WebSocket and long-polling, on
// both layers: text that looks like packets, mutated valid packets and raw bytes.
// Whatever they send, the process raises nothing and a well-behaved client on the
// same server keeps working. The generator is seeded, so a failure replays.
const expect = require("expect.js");
const http = require("http");
const WebSocket = require("ws");
const { useHarness, sleep } = require("./support/util");

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

const VALID = [
  "40",
  '40{"token":"x"}',
  "40/admin,",
  '42["echo",1]',
  '421["echo",{"a":[1,2,3]}]',
  '431["ok"]',
  '451-["echo",{"_placeholder":true,"num":0}]',
  '461-[{"_placeholder":true,"num":0}]',
  "41",
  '44{"message":"x"}',
];
const ALPHABET = '0123456789[]{}",:-/_abcxyz#?\u00e9\u{1f600}\x1e\x00 ';

function randomText(rand) {
  const base = VALID[Math.floor(rand() * VALID.length)];
  const chars = Array.from(base);
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const pos = Math.floor(rand() * (chars.length + 1));
    const c = ALPHABET[Math.floor(rand() * ALPHABET.length)];
    const op = rand();
    if (op < 0.4) chars.splice(pos, 0, c);
    else if (op < 0.7) chars.splice(pos, 1);
    else chars[pos] = c;
  }
  // an Engine.IO message packet, or sometimes another Engine.IO packet type
  const eio = rand() < 0.85 ? "4" : String(Math.floor(rand() * 10));
  return eio + chars.join("");
}

function randomBytes(rand) {
  const bytes = Buffer.alloc(Math.floor(rand() * 16));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  return bytes;
}

function post(port, sid, body) {
  return new Promise((resolve) => {
    const req = http.request(
      { port, method: "POST", path: `/socket.io/?EIO=4&transport=polling&sid=${sid}` },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    req.on("error", () => resolve(0));
    req.end(body);
  });
}

function handshake(port) {
  return new Promise((resolve, reject) => {
    http
      .get({ port, path: "/socket.io/?EIO=4&transport=polling" }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve(JSON.parse(body.slice(1)).sid));
      })
      .on("error", reject);
  });
}

describe("random input", function () {
  this.timeout(20000);
  const h = useHarness();
  let uncaught;
  const onUncaught = (err) => uncaught.push(err);

  beforeEach(() => {
    uncaught = [];
    process.on("uncaughtException", onUncaught);
  });

  afterEach(() => {
    process.removeListener("uncaughtException", onUncaught);
  });

  async function serverWithGoodClient() {
    const io = await h.server({ maxHttpBufferSize: 1e4 });
    io.of("/admin");
    // what the input reached: namespaces joined and packets the decoder refused
    io.reached = { connections: 0, errors: 0 };
    io.on("connection", (socket) => {
      io.reached.connections++;
      socket.on("error", () => io.reached.errors++);
      socket.on("echo", (...args) => {
        const ack = args[args.length - 1];
        if (typeof ack === "function") ack(...args.slice(0, -1));
      });
    });
    const good = await h.connect("/", { transports: ["websocket"] });
    return [io, good];
  }

  async function expectStillServing(io, good) {
    expect(uncaught).to.eql([]);
    expect(io.reached.connections).to.be.greaterThan(5);
    expect(io.reached.errors).to.be.greaterThan(5);
    expect(good.connected).to.be(true);
    expect(await good.timeout(2000).emitWithAck("echo", "still here")).to.be("still here");
    const late = await h.connect("/", { transports: ["polling"] });
    expect(await late.timeout(2000).emitWithAck("echo", 42)).to.be(42);
  }

  it("from 40 WebSocket peers sending 25 frames each", async () => {
    const [io, good] = await serverWithGoodClient();
    const rand = prng(0x5eed);
    const peers = [];
    for (let p = 0; p < 40; p++) {
      const ws = new WebSocket(`ws://localhost:${h.port}/socket.io/?EIO=4&transport=websocket`);
      ws.on("error", () => {});
      peers.push(
        new Promise((resolve) => {
          ws.on("close", resolve);
          // the handshake, then a valid CONNECT, so that input reaches a socket
          ws.once("message", () => ws.send("40"));
          ws.on("message", (data) => {
            if (!String(data).startsWith("40")) return;
            for (let i = 0; i < 25 && ws.readyState === WebSocket.OPEN; i++) {
              ws.send(rand() < 0.8 ? randomText(rand) : randomBytes(rand));
            }
            setTimeout(() => ws.terminate(), 50);
          });
        }),
      );
    }
    await Promise.all(peers);
    await sleep(50);
    await expectStillServing(io, good);
  });

  it("from 40 polling peers posting 10 payloads each", async () => {
    const [io, good] = await serverWithGoodClient();
    const rand = prng(0xbeef);
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const sid = await handshake(h.port);
        await post(h.port, sid, "40");
        for (let i = 0; i < 10; i++) {
          const packets = Array.from({ length: 1 + Math.floor(rand() * 3) }, () =>
            rand() < 0.85 ? randomText(rand) : "b" + randomBytes(rand).toString("base64"),
          );
          if ((await post(h.port, sid, packets.join("\x1e"))) !== 200) break;
        }
      }),
    );
    await sleep(50);
    await expectStillServing(io, good);
  });
});
