"use strict";

// Engine.IO v3 (socket.io v2 clients) behind allowEIO3: length-prefixed
// payloads, b64, JSONP, client-initiated heartbeat.
const expect = require("expect.js");
const WebSocket = require("ws");
const ClientV3 = require("socket.io-client-v2/node_modules/engine.io-client");
const { useEngine } = require("./support/engine-harness");
const { request } = require("../support/http");

const PATH = "/engine.io/";
const { until } = require("../support/wait");

// "<length>:<packet>" frames of a v3 string payload
function splitPayload(text) {
  const packets = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    const length = Number(text.slice(i, colon));
    packets.push(text.substr(colon + 1, length));
    i = colon + 1 + length;
  }
  return packets;
}

describe("engine protocol v3 (allowEIO3)", () => {
  const h = useEngine(ClientV3, { allowEIO3: true });
  let engine;
  let port;

  async function start(opts) {
    ({ engine, port } = await h.start(opts));
  }

  const connect = h.connect;

  describe("with the v3 client", () => {
    beforeEach(() => start());

    for (const transports of [["polling"], ["websocket"]]) {
      it(`exchanges text and binary messages over ${transports[0]}`, async () => {
        const { client, socket } = await connect({ transports });
        expect(socket.protocol).to.be(3);
        expect(socket.transport.protocol).to.be(3);
        expect(socket.transport.name).to.be(transports[0]);
        const atServer = new Promise((resolve) => {
          const got = [];
          socket.on("message", (m) => got.push(m) === 3 && resolve(got));
        });
        const atClient = new Promise((resolve) => {
          const got = [];
          client.on("message", (m) => got.push(m) === 3 && resolve(got));
        });
        client.send("hello");
        client.send(Buffer.from([1, 2, 3]));
        client.send("ünicode ✓");
        socket.send("world");
        socket.send(Buffer.from([4, 5]));
        socket.send("ünicode ✓");
        const s = await atServer;
        expect(s[0]).to.be("hello");
        expect([...s[1]]).to.eql([1, 2, 3]);
        expect(s[2]).to.be("ünicode ✓");
        const c = await atClient;
        expect(c[0]).to.be("world");
        expect([...new Uint8Array(c[1])]).to.eql([4, 5]);
        expect(c[2]).to.be("ünicode ✓");
      });
    }

    it("upgrades to websocket", async () => {
      const { client, socket } = await connect();
      await new Promise((r) => socket.once("upgrade", r));
      expect(socket.transport.name).to.be("websocket");
      const got = new Promise((r) => client.once("message", r));
      socket.send("after upgrade");
      expect(await got).to.be("after upgrade");
    });

    it("uses base64 binary when the client asks for it (b64)", async () => {
      const { client, socket } = await connect({ transports: ["polling"], forceBase64: true });
      expect(socket.request._query.b64).to.be("1");
      const got = new Promise((r) => client.once("message", r));
      socket.send(Buffer.from([7, 8, 9]));
      expect([...new Uint8Array(await got)]).to.eql([7, 8, 9]);
    });
  });

  describe("heartbeat (the client pings)", () => {
    beforeEach(() => start({ pingInterval: 50, pingTimeout: 50 }));

    it("answers pings with pongs and stays open", async () => {
      const { socket } = await connect({ transports: ["websocket"] });
      const beats = await new Promise((resolve) => {
        let n = 0;
        socket.on("heartbeat", () => ++n === 3 && resolve(n));
      });
      expect(beats).to.be(3);
      expect(socket.readyState).to.be("open");
    });

    it('closes with "ping timeout" when the client stops pinging', async () => {
      const ws = new WebSocket(`ws://localhost:${port}${PATH}?EIO=3&transport=websocket`);
      const socket = await new Promise((r) => engine.once("connection", r));
      const started = Date.now();
      const reason = await new Promise((r) => socket.once("close", r));
      expect(reason).to.be("ping timeout");
      // v3 waits pingInterval + pingTimeout
      expect(Date.now() - started).to.be.within(80, 400);
      ws.terminate();
    });

    it("answers a raw ping with a pong", async () => {
      const ws = new WebSocket(`ws://localhost:${port}${PATH}?EIO=3&transport=websocket`);
      const messages = [];
      ws.on("message", (m) => messages.push(m.toString()));
      await new Promise((r) => ws.on("open", r));
      ws.send("2");
      await until(() => messages.includes("3"), "the pong");
      expect(messages[0][0]).to.be("0");
      expect(messages).to.contain("3");
      ws.close();
    });
  });

  describe("raw v3 polling", () => {
    beforeEach(() => start());

    it("answers the handshake with a length-prefixed payload", async () => {
      const res = await request(port, { path: `${PATH}?EIO=3&transport=polling` });
      expect(res.status).to.be(200);
      const packets = splitPayload(res.body.toString());
      expect(packets.length).to.be(1);
      const open = JSON.parse(packets[0].slice(1));
      expect(packets[0][0]).to.be("0");
      expect(open.upgrades).to.eql(["websocket"]);
      expect(open.pingInterval).to.be(25000);
    });

    it("decodes length-prefixed POST payloads", async () => {
      const hs = await request(port, { path: `${PATH}?EIO=3&transport=polling` });
      const sid = JSON.parse(splitPayload(hs.body.toString())[0].slice(1)).sid;
      const got = new Promise((resolve) => {
        const messages = [];
        engine.clients[sid].on("message", (m) => messages.push(m) === 2 && resolve(messages));
      });
      const post = await request(port, {
        method: "POST",
        path: `${PATH}?EIO=3&transport=polling&sid=${sid}`,
        body: "6:4hello6:b4AQI=",
      });
      expect(post.body.toString()).to.be("ok");
      const [text, binary] = await got;
      expect(text).to.be("hello");
      expect([...binary]).to.eql([1, 2]);
    });

    it('an invalid payload closes the session with "parse error"', async () => {
      const hs = await request(port, { path: `${PATH}?EIO=3&transport=polling` });
      const sid = JSON.parse(splitPayload(hs.body.toString())[0].slice(1)).sid;
      const reason = new Promise((r) => engine.clients[sid].once("close", r));
      await request(port, {
        method: "POST",
        path: `${PATH}?EIO=3&transport=polling&sid=${sid}`,
        body: "99:4x",
      });
      expect(await reason).to.be("parse error");
    });

    it("sends binary as base64 with b64=1", async () => {
      const hs = await request(port, { path: `${PATH}?EIO=3&transport=polling&b64=1` });
      const sid = JSON.parse(splitPayload(hs.body.toString())[0].slice(1)).sid;
      engine.clients[sid].send(Buffer.from([1, 2, 3]));
      const res = await request(port, { path: `${PATH}?EIO=3&transport=polling&b64=1&sid=${sid}` });
      expect(res.headers["content-type"]).to.be("text/plain; charset=UTF-8");
      expect(splitPayload(res.body.toString())).to.eql(["b4AQID"]);
    });
  });

  describe("JSONP polling", () => {
    beforeEach(() => start());

    function parseJsonp(body, index) {
      const text = body.toString();
      const head = `___eio[${index}](`;
      expect(text.startsWith(head)).to.be(true);
      expect(text.endsWith(");")).to.be(true);
      return JSON.parse(text.slice(head.length, -2));
    }

    it("wraps responses in the callback and decodes form POSTs", async () => {
      const hs = await request(port, { path: `${PATH}?EIO=3&transport=polling&j=0&b64=1` });
      const payload = parseJsonp(hs.body, 0);
      const sid = JSON.parse(splitPayload(payload)[0].slice(1)).sid;
      const socket = engine.clients[sid];
      expect(socket.transport.name).to.be("polling");
      const got = new Promise((r) => socket.once("message", r));
      // the client escapes newlines as "\\n" in the form field
      const data = "4line1\\nline2";
      const post = await request(port, {
        method: "POST",
        path: `${PATH}?EIO=3&transport=polling&j=0&b64=1&sid=${sid}`,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "d=" + encodeURIComponent(`${data.length - 1}:${data}`),
      });
      expect(post.body.toString()).to.be("ok");
      expect(await got).to.be("line1\nline2");
      socket.send("back\u2028");
      const poll = await request(port, { path: `${PATH}?EIO=3&transport=polling&j=0&b64=1&sid=${sid}` });
      expect(poll.body.toString()).to.contain("\\u2028");
      expect(splitPayload(parseJsonp(poll.body, 0))).to.eql(["4back\u2028"]);
    });

    it("keeps only digits of the callback index", async () => {
      const res = await request(port, { path: `${PATH}?EIO=3&transport=polling&j=1);alert(1` });
      expect(res.body.toString().startsWith("___eio[11](")).to.be(true);
    });
  });
});
