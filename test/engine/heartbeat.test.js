"use strict";

// The heartbeat of many sessions at once, seen from raw WebSocket clients: each session
// is pinged pingInterval after its own last pong (never earlier), a session that stops
// answering is closed with "ping timeout" while the others stay open, and what a session
// leaves behind once upgraded or closed (listeners, timers).
const expect = require("expect.js");
const WebSocket = require("ws");
const { REFERENCE } = require("../support/impl");
const { useEngine } = require("./support/engine-harness");
const { waitFor, until } = require("../support/wait");

describe("engine heartbeat", () => {
  const h = useEngine();
  const opened = [];

  afterEach(() => {
    opened.splice(0).forEach((ws) => ws.terminate());
  });

  /**
   * A raw v4 WebSocket session: `pings` holds the arrival time of each ping, `pongs` the
   * time each pong left; it answers after `delay` ms while `answering` is true.
   */
  async function open({ delay = 0 } = {}) {
    const ws = new WebSocket(`ws://localhost:${h.port}/engine.io/?EIO=4&transport=websocket`);
    opened.push(ws);
    const client = { ws, pings: [], pongs: [], answering: true };
    ws.on("message", (m) => {
      if (m.toString() !== "2") return;
      client.pings.push(performance.now());
      if (!client.answering) return;
      setTimeout(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        client.pongs.push(performance.now());
        ws.send("3");
      }, delay);
    });
    const [socket] = await Promise.all([waitFor(h.engine, "connection"), waitFor(ws, "open")]);
    client.socket = socket;
    return client;
  }

  it("pings each session pingInterval after its own last pong, never earlier", async () => {
    await h.start({ pingInterval: 80, pingTimeout: 200 });
    const fast = await open();
    const slow = await open({ delay: 40 });
    await until(() => fast.pings.length >= 4 && slow.pings.length >= 4, "four pings each", 5000);
    for (const client of [fast, slow]) {
      for (let i = 1; i < 4; i++) {
        // the pong left the client before the server got it: the gap is at least pingInterval
        const gap = client.pings[i] - client.pongs[i - 1];
        expect(gap).to.be.greaterThan(80 - 1);
        expect(gap).to.be.lessThan(80 + 150);
      }
    }
    // the slower answers push the slower session's pings apart
    const span = (c) => c.pings[3] - c.pings[0];
    expect(span(slow)).to.be.greaterThan(span(fast) + 60);
  });

  it('closes only the session that stops answering, with "ping timeout"', async () => {
    await h.start({ pingInterval: 60, pingTimeout: 60 });
    const clients = [await open(), await open(), await open()];
    const mute = clients[1];
    mute.answering = false;
    const started = performance.now();
    const [reason] = await waitFor(mute.socket, "close", 3000);
    expect(reason).to.be("ping timeout");
    // the deadline is pingTimeout after the ping that went unanswered
    const sinceLastPing = performance.now() - mute.pings[mute.pings.length - 1];
    expect(sinceLastPing).to.be.greaterThan(60 - 1);
    expect(performance.now() - started).to.be.lessThan(1000);
    // positive control: the other sessions kept being pinged and answered meanwhile
    const before = clients.map((c) => c.pings.length);
    await until(
      () => clients[0].pings.length > before[0] && clients[2].pings.length > before[2],
      "more pings",
    );
    expect(clients[0].socket.readyState).to.be("open");
    expect(clients[2].socket.readyState).to.be("open");
    expect(h.engine.clientsCount).to.be(2);
  });

  it("a session closed by the client leaves the heartbeat of the others running", async () => {
    await h.start({ pingInterval: 50, pingTimeout: 50 });
    const [a, b] = [await open(), await open()];
    a.ws.close();
    await waitFor(a.socket, "close");
    const seen = b.pings.length;
    await until(() => b.pings.length >= seen + 2, "two more pings to the other session");
    expect(b.socket.readyState).to.be("open");
  });

  it("the sessions' heartbeat holds a bounded number of timers (ours), and none once they close", async () => {
    await h.start({ pingInterval: 10000, pingTimeout: 10000 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const baseline = timers();
    const clients = [];
    for (let i = 0; i < 20; i++) clients.push(await open());
    const held = timers() - baseline;
    if (REFERENCE) {
      // one timer per session
      expect(held).to.be.greaterThan(19);
    } else {
      // one per kind of deadline at most, whatever the number of sessions
      expect(held).to.be.within(1, 3);
    }
    clients.forEach((c) => c.ws.terminate());
    await until(() => h.engine.clientsCount === 0, "every session closed");
    await until(() => timers() <= baseline, "the heartbeat timers released");
    expect(timers()).to.be.lessThan(baseline + 1);
  });

  it("an upgraded session's transports hold the reference's listeners: the session's on the new one only", async () => {
    await h.start({ pingInterval: 10000, pingTimeout: 10000 });
    const { Socket: ClientSocket } = require("engine.io-client");
    const client = new ClientSocket(`http://localhost:${h.port}`);
    try {
      const socket = await waitFor(h.engine, "connection");
      const polling = socket.transport;
      await waitFor(socket, "upgrade");
      const ws = socket.transport;
      expect(ws.name).to.be("websocket");
      // positive control: the session works over the new transport
      const echoed = waitFor(socket, "message");
      client.send("after upgrade");
      expect(await echoed).to.be("after upgrade");
      // the session listens to its transport; the old one keeps the server's "headers"
      // listener and a silenced "error", as with the reference
      expect(ws.eventNames().sort()).to.eql(["close", "drain", "error", "packet", "ready"]);
      expect(polling.eventNames().sort()).to.eql(["error", "headers"]);
      if (!REFERENCE) {
        // one listener per event on the ws socket: the transport's
        for (const event of ["message", "close", "error"]) {
          expect(ws.socket.listenerCount(event)).to.be(1);
        }
      }
      // a user may still listen to the transport's events
      const drained = waitFor(ws, "drain");
      socket.send("x");
      await drained;
    } finally {
      client.close();
    }
  });
  describe("pingBatchWindow (ours, opt-in)", () => {
    // the time each ping leaves, on the server
    const pingTimes = (socket) => {
      const times = [];
      socket.on("packetCreate", (packet) => packet.type === "ping" && times.push(performance.now()));
      return times;
    };

    it("pings due within the window leave together, none early, none later than the window", async function () {
      if (REFERENCE) this.skip();
      await h.start({ pingInterval: 300, pingTimeout: 400, pingBatchWindow: 80 });
      const clients = [];
      const opened = [];
      const times = [];
      for (let i = 0; i < 4; i++) {
        const client = await open();
        opened.push(performance.now());
        times.push(pingTimes(client.socket));
        clients.push(client);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await until(() => times.every((t) => t.length >= 1), "a first ping to each session");
      const first = times.map((t) => t[0]);
      for (let i = 0; i < 4; i++) {
        const delay = first[i] - opened[i];
        expect(delay).to.be.greaterThan(300 - 2);
        expect(delay).to.be.lessThan(300 + 80 + 30);
      }
      // opened over 15 ms or more (and less than the window), pinged in one batch
      expect(opened[3] - opened[0]).to.be.within(15, 79);
      expect(Math.max(...first) - Math.min(...first)).to.be.lessThan(5);
    });

    it("is capped at a quarter of pingTimeout, so that no client waits past its patience", async function () {
      if (REFERENCE) this.skip();
      await h.start({ pingInterval: 100, pingTimeout: 20, pingBatchWindow: 10000 });
      const client = await open();
      await until(() => client.pings.length >= 4, "four pings", 3000);
      for (let i = 1; i < 4; i++) {
        const gap = client.pings[i] - client.pongs[i - 1];
        expect(gap).to.be.greaterThan(100 - 2);
        // within 100 + 20 / 4, plus the loopback and a busy machine
        expect(gap).to.be.lessThan(100 + 5 + 15);
      }
      expect(client.socket.readyState).to.be("open");
    });
  });
});
