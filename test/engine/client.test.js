"use strict";

// The engine driven by the real engine.io-client: polling, WebSocket, upgrade,
// messages both ways (text and binary), send callbacks, heartbeat and close.
const expect = require("expect.js");
const WebSocket = require("ws");
const { Socket: ClientSocket } = require("engine.io-client");
const { useEngine } = require("./support/engine-harness");

const { sleep, until } = require("../support/wait");

describe("engine with engine.io-client", () => {
  const h = useEngine(ClientSocket);
  let engine;
  let port;

  async function start(opts) {
    ({ engine, port } = await h.start(opts));
  }

  const connect = h.connect;

  function collect(emitter, event, count) {
    return new Promise((resolve) => {
      const items = [];
      emitter.on(event, function onItem(item) {
        items.push(item);
        if (items.length === count) {
          emitter.removeListener(event, onItem);
          resolve(items);
        }
      });
    });
  }

  for (const transports of [["polling"], ["websocket"]]) {
    describe(`over ${transports[0]} only`, () => {
      beforeEach(() => start());

      it("connects on the requested transport", async () => {
        const { client, socket } = await connect({ transports });
        expect(socket.transport.name).to.be(transports[0]);
        expect(client.transport.name).to.be(transports[0]);
        expect(client.id).to.be(socket.id);
      });

      it("delivers text messages both ways, in order", async () => {
        const { client, socket } = await connect({ transports });
        const atServer = collect(socket, "message", 3);
        const atClient = collect(client, "message", 3);
        client.send("a");
        client.send("b");
        client.send("ünicode ✓");
        socket.send("1");
        socket.write("2");
        socket.send("ünicode ✓");
        expect(await atServer).to.eql(["a", "b", "ünicode ✓"]);
        expect(await atClient).to.eql(["1", "2", "ünicode ✓"]);
      });

      it("emits 'data' along with 'message'", async () => {
        const { client, socket } = await connect({ transports });
        const data = new Promise((r) => socket.once("data", r));
        client.send("hello");
        expect(await data).to.be("hello");
      });

      it("delivers binary messages both ways", async () => {
        const { client, socket } = await connect({ transports });
        const atServer = new Promise((r) => socket.once("message", r));
        const atClient = new Promise((r) => client.once("message", r));
        client.send(Uint8Array.from([1, 2, 3]));
        socket.send(Buffer.from([4, 5, 6]));
        const received = await atServer;
        expect(Buffer.isBuffer(received)).to.be(true);
        expect([...received]).to.eql([1, 2, 3]);
        const back = await atClient;
        expect([...new Uint8Array(back)]).to.eql([4, 5, 6]);
      });

      it("calls the send callback once the packet is flushed, with the transport", async () => {
        const { client, socket } = await connect({ transports });
        const order = [];
        client.on("message", (m) => order.push("client got " + m));
        await new Promise((resolve) => {
          socket.send("one", (transport) => {
            expect(transport.name).to.be(transports[0]);
            order.push("cb one");
          });
          socket.send("two", {}, () => {
            order.push("cb two");
            resolve();
          });
        });
        await until(() => order.includes("client got two"), "the client got both messages");
        expect(order.filter((e) => e.startsWith("cb"))).to.eql(["cb one", "cb two"]);
        expect(order.filter((e) => e.startsWith("client"))).to.eql(["client got one", "client got two"]);
      });

      it("emits packetCreate, flush and drain", async () => {
        const { socket } = await connect({ transports });
        const events = [];
        socket.on("packetCreate", (p) => events.push(["packetCreate", p.type, p.data]));
        socket.on("flush", (buffer) => events.push(["flush", buffer.length]));
        engine.on("flush", (s, buffer) => events.push(["server flush", s === socket, buffer.length]));
        const drained = new Promise((r) => socket.once("drain", r));
        socket.send("x");
        await drained;
        expect(events[0]).to.eql(["packetCreate", "message", "x"]);
        expect(events.some((e) => e[0] === "flush")).to.be(true);
        expect(events.some((e) => e[0] === "server flush" && e[1] === true)).to.be(true);
      });

      it("every packet is created with compress: true unless false was asked", async () => {
        const { client, socket } = await connect({ transports });
        const created = [];
        socket.on("packetCreate", (p) => created.push([p.type, p.data, p.options.compress]));
        const received = collect(client, "message", 4);
        socket.send("a");
        socket.send("b", {});
        socket.send("c", { compress: false });
        socket.write("d", { compress: true });
        await received;
        expect(created).to.eql([
          ["message", "a", true],
          ["message", "b", true],
          ["message", "c", false],
          ["message", "d", true],
        ]);
      });

      it("the transport is not writable while a write is in flight", async () => {
        const { socket } = await connect({ transports });
        expect(socket.transport.writable).to.be(transports[0] === "websocket");
        if (transports[0] === "websocket") {
          socket.send("x");
          expect(socket.transport.writable).to.be(false);
          await new Promise((r) => socket.transport.once("drain", r));
          expect(socket.transport.writable).to.be(true);
        }
      });

      it("server close(): the client sees 'transport close', the server 'forced close'", async () => {
        const { client, socket } = await connect({ transports });
        const serverReason = new Promise((r) => socket.once("close", r));
        const clientReason = new Promise((r) => client.once("close", r));
        socket.close();
        expect(await serverReason).to.be("forced close");
        expect(await clientReason).to.be("transport close");
        expect(socket.readyState).to.be("closed");
      });

      it("client close(): the server sees 'transport close'", async () => {
        const { client, socket } = await connect({ transports });
        const serverReason = new Promise((r) => socket.once("close", r));
        client.close();
        expect(await serverReason).to.be("transport close");
        expect(engine.clientsCount).to.be(0);
      });

      it("sending after close is a no-op", async () => {
        const { client, socket } = await connect({ transports });
        // positive control: on the open session, a send callback is called
        await new Promise((resolve) => socket.send("early", resolve));
        const closed = new Promise((r) => socket.once("close", r));
        client.close();
        await closed;
        let called = false;
        socket.send("late", () => (called = true));
        await sleep(20); // a silence window: the callback of the control came within it
        expect(called).to.be(false);
      });
    });
  }

  describe("heartbeat", () => {
    beforeEach(() => start({ pingInterval: 60, pingTimeout: 40 }));

    for (const transports of [["polling"], ["websocket"]]) {
      it(`keeps a live ${transports[0]} session open, emitting heartbeat`, async () => {
        const { socket } = await connect({ transports });
        const beats = collect(socket, "heartbeat", 3);
        const pings = [];
        socket.on("packetCreate", (p) => p.type === "ping" && pings.push(p));
        await beats;
        expect(pings.length).to.be.greaterThan(2);
        expect(socket.readyState).to.be("open");
      });
    }

    it('closes with "ping timeout" when the pong does not come', async () => {
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const packets = [];
      ws.on("message", (m) => packets.push(m.toString()));
      const socket = await new Promise((r) => engine.once("connection", r));
      const started = Date.now();
      const reason = await new Promise((r) => socket.once("close", r));
      expect(reason).to.be("ping timeout");
      expect(Date.now() - started).to.be.within(90, 400);
      expect(packets).to.contain("2");
      await new Promise((resolve) => ws.on("close", resolve));
    });

    it("a pong defers the next ping by pingInterval", async () => {
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const pings = [];
      ws.on("message", (m) => {
        if (m.toString() === "2") {
          pings.push(Date.now());
          ws.send("3");
        }
      });
      const socket = await new Promise((r) => engine.once("connection", r));
      await sleep(300); // the time window whose pings are counted
      expect(socket.readyState).to.be("open");
      expect(pings.length).to.be.within(3, 5);
      ws.close();
    });
  });

  describe("upgrade", () => {
    beforeEach(() => start());

    it("upgrades from polling to websocket", async () => {
      const { client, socket } = await connect();
      const events = [];
      socket.on("upgrading", (t) => events.push("upgrading " + t.name));
      const upgraded = new Promise((r) => socket.once("upgrade", r));
      const transport = await upgraded;
      events.push("upgrade " + transport.name);
      expect(events).to.eql(["upgrading websocket", "upgrade websocket"]);
      expect(socket.transport.name).to.be("websocket");
      expect(socket.upgraded).to.be(true);
      expect(socket.upgrading).to.be(false);
      await until(() => client.transport.name === "websocket", "the client switched");
      expect(client.transport.name).to.be("websocket");
    });

    it("the upgraded transport keeps none of the upgrade's listeners, and takes new ones", async () => {
      const { client, socket } = await connect();
      const transport = await new Promise((r) => socket.once("upgrade", r));
      // the session listens to its transport, and the server to the session's close
      expect(["packet", "close", "error"].map((e) => transport.listenerCount(e))).to.eql([1, 1, 1]);
      expect(socket.listenerCount("close")).to.be(1);
      await until(() => client.transport.name === "websocket", "the client switched");
      const packet = new Promise((r) => transport.once("packet", r));
      const message = new Promise((r) => socket.once("message", r));
      client.send("after");
      expect((await packet).data).to.be("after");
      expect(await message).to.be("after");
      expect(transport.listenerCount("packet")).to.be(1);
    });

    it("loses and reorders no message across the switch, in either direction", async () => {
      const { client, socket } = await connect();
      const N = 60;
      const atServer = collect(socket, "message", N);
      const atClient = collect(client, "message", N);
      let i = 0;
      const timer = setInterval(() => {
        if (i < N) {
          client.send("c" + i);
          socket.send("s" + i);
          i++;
        } else {
          clearInterval(timer);
        }
      }, 2);
      const expected = (p) => Array.from({ length: N }, (_, k) => p + k);
      expect(await atServer).to.eql(expected("c"));
      expect(await atClient).to.eql(expected("s"));
      expect(socket.upgraded).to.be(true);
    });

    it("flushes messages buffered before the upgrade on the new transport", async () => {
      const { client, socket } = await connect();
      await new Promise((r) => socket.once("upgrading", r));
      socket.send("during upgrade");
      const got = await new Promise((r) => client.once("message", r));
      expect(got).to.be("during upgrade");
    });

    it("does not upgrade when the client refuses to", async () => {
      const { client, socket } = await connect({ upgrade: false });
      // positive control: a client that may upgrade, connected after it, does
      const control = await connect();
      await new Promise((r) => control.socket.once("upgrade", r));
      expect(socket.transport.name).to.be("polling");
      expect(client.transport.name).to.be("polling");
    });
  });

  describe("wsPreEncodedFrame", () => {
    beforeEach(() => start());

    it("sends the pre-built frame as it is over WebSocket", async () => {
      const { Sender } = WebSocket;
      const { client, socket } = await connect({ transports: ["websocket"] });
      const frame = Sender.frame(Buffer.from("4from frame"), {
        fin: true,
        rsv1: false,
        opcode: 1,
        mask: false,
        readOnly: false,
      });
      const got = new Promise((r) => client.once("message", r));
      let flushed = false;
      // the data differs from the frame, to prove that the frame is what is sent
      socket.write("ignored", { wsPreEncodedFrame: frame }, () => (flushed = true));
      expect(await got).to.be("from frame");
      await until(() => flushed, "the write callback");
      expect(flushed).to.be(true);
    });

    it("is ignored over polling", async () => {
      const { Sender } = WebSocket;
      const { client, socket } = await connect({ transports: ["polling"] });
      const frame = Sender.frame(Buffer.from("4from frame"), {
        fin: true,
        rsv1: false,
        opcode: 1,
        mask: false,
        readOnly: false,
      });
      const got = new Promise((r) => client.once("message", r));
      socket.write("encoded", { wsPreEncodedFrame: frame });
      expect(await got).to.be("encoded");
    });
  });
});
