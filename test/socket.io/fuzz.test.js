"use strict";

// Random input from many raw peers at once, over WebSocket and long-polling, on
// both layers: text that looks like packets, mutated valid packets and raw bytes.
// Whatever they send, the process raises nothing and a well-behaved client on the
// same server keeps working. The generator is seeded, so a failure replays. The generators
// are those of `npm run fuzz` (fuzz/), which does the same at scale, in a server process.
const expect = require("expect.js");
const http = require("http");
const WebSocket = require("ws");
const { useHarness } = require("./support/util");
const { random } = require("../../fuzz/random");
const { SAMPLES, mutateText } = require("../../fuzz/packets");

// one Engine.IO packet: a mutated Socket.IO packet in a MESSAGE, sometimes another type
const randomText = (r) => (r.chance(0.85) ? "4" : String(r.int(10))) + mutateText(r, r.pick(SAMPLES));
const randomBytes = (r) => r.bytes(r.int(16));

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
    expect(io.reached.connections).to.be.greaterThan(5);
    expect(io.reached.errors).to.be.greaterThan(5);
    expect(good.connected).to.be(true);
    expect(await good.timeout(2000).emitWithAck("echo", "still here")).to.be("still here");
    const late = await h.connect("/", { transports: ["polling"] });
    expect(await late.timeout(2000).emitWithAck("echo", 42)).to.be(42);
    // checked after the round trips: whatever the peers' input set off has run by then
    expect(uncaught).to.eql([]);
  }

  it("from 40 WebSocket peers sending 25 frames each", async () => {
    const [io, good] = await serverWithGoodClient();
    const r = random(0x5eed);
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
              ws.send(r.chance(0.8) ? randomText(r) : randomBytes(r));
            }
            setTimeout(() => ws.terminate(), 50);
          });
        }),
      );
    }
    await Promise.all(peers);
    await expectStillServing(io, good);
  });

  it("from 40 polling peers posting 10 payloads each", async () => {
    const [io, good] = await serverWithGoodClient();
    const r = random(0xbeef);
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const sid = await handshake(h.port);
        await post(h.port, sid, "40");
        for (let i = 0; i < 10; i++) {
          const packets = Array.from({ length: 1 + r.int(3) }, () =>
            r.chance(0.85) ? randomText(r) : "b" + randomBytes(r).toString("base64"),
          );
          if ((await post(h.port, sid, packets.join("\x1e"))) !== 200) break;
        }
      }),
    );
    await expectStillServing(io, good);
  });
});
