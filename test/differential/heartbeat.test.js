"use strict";

// The heartbeat, ours against the reference: for each pingInterval / pingTimeout pair, the
// official client stays connected exactly when the reference keeps it, and each ping
// reaches it pingInterval after its last pong (not a tenth of the interval later, which
// disconnects every client whose pingTimeout is shorter than that). Short pairs run on
// real timers; the 25 s pairs run on fake ones (both servers and clients in this process
// read the same fake clock, while the sockets between them stay real).
const http = require("http");
const net = require("net");
const WebSocket = require("ws");
const expect = require("expect.js");
const FakeTimers = require("@sinonjs/fake-timers");
const { io: ioc } = require("socket.io-client");
const { differential, expectWithin } = require("./harness");
const { listen, closeHttp } = require("../support/servers");
const { waitFor, until } = require("../support/wait");

// the real timers, kept before any test installs fake ones
const realSetTimeout = setTimeout;
const realSleep = (ms) => new Promise((resolve) => realSetTimeout(resolve, ms));

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
};

/**
 * Connects `count` socket.io-client sockets over `transport` to a Socket.IO server with the
 * given heartbeat, holds them for `cycles` heartbeats (reading time from `now`, advanced by
 * `advance(ms)`), then returns what the clients and the server saw: the clients still
 * connected, the disconnect reasons on each side, the gaps between two pings reaching the
 * same client, and on the server the time from the last pong to each ping.
 */
async function holdClients(
  { sio },
  { pingInterval, pingTimeout, transport, count = 1, cycles = 3, now, advance, settle },
) {
  const httpServer = http.createServer();
  const io = new (sio().Server)(httpServer, { pingInterval, pingTimeout });
  const port = await listen(httpServer);
  const serverReasons = [];
  // on the server, the time from the last pong to each ping: what the heartbeat controls (a
  // client sees that plus a round trip)
  const serverGaps = [];
  io.on("connection", (socket) => socket.on("disconnect", (reason) => serverReasons.push(reason)));
  // (from the pongs only: the first ping is due pingInterval after the open, which the
  // server counts from before its "connection" listeners run)
  io.engine.on("connection", (conn) => {
    let since = -1;
    conn.on("packet", (packet) => {
      if (packet.type === "pong") since = now();
    });
    conn.on("packetCreate", (packet) => {
      if (packet.type === "ping" && since !== -1) serverGaps.push(now() - since);
    });
  });
  const clients = [];
  try {
    for (let i = 0; i < count; i++) {
      const socket = ioc(`http://localhost:${port}`, {
        transports: transport === "default" ? ["polling", "websocket"] : [transport],
        reconnection: false,
        forceNew: true,
      });
      const client = { socket, pings: [], reasons: [] };
      socket.io.on("open", () => socket.io.engine.on("ping", () => client.pings.push(now())));
      socket.on("disconnect", (reason) => client.reasons.push(reason));
      clients.push(client);
    }
    await settle(() => clients.every((c) => c.socket.connected));
    await advance(cycles * (pingInterval + pingTimeout) + pingTimeout);
    const gaps = [];
    for (const client of clients) {
      for (let i = 1; i < client.pings.length; i++) gaps.push(client.pings[i] - client.pings[i - 1]);
    }
    return {
      connected: clients.filter((c) => c.socket.connected).length,
      clientReasons: clients.flatMap((c) => c.reasons).sort(),
      serverReasons: serverReasons.sort(),
      pingsPerClient: Math.min(...clients.map((c) => c.pings.length)),
      gaps,
      serverGaps,
    };
  } finally {
    clients.forEach((c) => c.socket.disconnect());
    io.close();
    await closeHttp(httpServer);
  }
}

/**
 * Compares the two servers' observations: the same clients connected and the same reasons,
 * and each server's pings on time: pingInterval after the last pong, within
 * the timer's precision (`slack` for the latest of them and `early` for the earliest, on a
 * machine that may be busy with other work; the median within 5 ms).
 */
function sameHeartbeat({ pingInterval }, slack, early = 3) {
  return (ours, reference) => {
    const strip = ({ connected, clientReasons, serverReasons }) => ({
      connected,
      clientReasons,
      serverReasons,
    });
    expect(strip(ours)).to.eql(strip(reference));
    for (const [name, seen] of [
      ["reference", reference],
      ["ours", ours],
    ]) {
      expect(seen.pingsPerClient).to.be.greaterThan(1);
      for (const gap of seen.serverGaps) {
        // a timer's start is the event loop's time, which may be a few ms behind the clock
        if (gap < pingInterval - early) throw new Error(`${name}: a ping left early (${gap} ms)`);
      }
      expectWithin(median(seen.serverGaps), pingInterval, 5, `${name}: median ping delay`);
      expectWithin(Math.max(...seen.serverGaps), pingInterval, slack, `${name}: latest ping`);
    }
  };
}

const realTime = {
  now: () => performance.now(),
  advance: (ms) => realSleep(ms),
  settle: (predicate) => until(predicate, "every client connected", 40000),
};

describe("differential: heartbeat", function () {
  this.timeout(60000);

  describe("real timers, one client", function () {
    // Real timers on a machine that may be busy with other work: a run whose timings the
    // load pushed out (on either server) runs again. A late heartbeat fails every run.
    this.retries(2);

    const pairs = [
      [300, 200],
      [300, 20],
      [200, 20],
      [1000, 50],
    ];
    for (const [pingInterval, pingTimeout] of pairs) {
      for (const transport of ["websocket", "polling", "default"]) {
        it(`${pingInterval}/${pingTimeout} over ${transport}: connected as with the reference, pings on time`, async () => {
          const settings = { pingInterval, pingTimeout, transport, ...realTime };
          const { ours } = await differential((impl) => holdClients(impl, settings), {
            compare: sameHeartbeat(settings, 20),
          });
          expect(ours.connected).to.be(1);
        });
      }
    }
  });

  it("1000/50 with 1,000 websocket clients: all stay connected, pings on time", async function () {
    this.timeout(120000);
    this.retries(1);
    const settings = { pingInterval: 1000, pingTimeout: 50, transport: "websocket", count: 1000 };
    const { ours } = await differential(
      (impl) => holdClients(impl, { ...settings, cycles: 3, ...realTime }),
      { compare: sameHeartbeat(settings, 50, 6) },
    );
    expect(ours.connected).to.be(1000);
  });

  describe("fake timers (25 s intervals)", () => {
    let clock;

    // Runs the fake clock `ms` further, one timer at a time, letting the real sockets carry
    // what each timer wrote before the next one runs: round trips take no fake time. A
    // timer set at the end keeps `next()` from running past it.
    const fakeTime = {
      now: () => clock.now,
      advance: async (ms) => {
        const end = clock.now + ms;
        setTimeout(() => {}, ms);
        for (;;) {
          // long enough for a round trip on a busy machine: the next timer may be a deadline
          // that the answer in flight would have cancelled
          await realSleep(25);
          if (clock.now >= end) break;
          clock.next();
        }
      },
      settle: async (predicate) => {
        while (!predicate()) {
          // a millisecond at a time: running the next timer could be the client's
          // connection timeout, far ahead
          await realSleep(3);
          clock.tick(1);
        }
      },
    };

    beforeEach(() => {
      clock = FakeTimers.install({
        toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"],
        shouldClearNativeTimers: false,
      });
    });

    afterEach(() => clock.uninstall());

    for (const [pingInterval, pingTimeout] of [
      [25000, 2000],
      [25000, 20000],
    ]) {
      for (const transport of ["websocket", "polling"]) {
        it(`${pingInterval}/${pingTimeout} over ${transport}: connected as with the reference, pings on time`, async () => {
          const settings = { pingInterval, pingTimeout, transport, cycles: 2, ...fakeTime };
          const { ours } = await differential((impl) => holdClients(impl, settings), {
            compare: sameHeartbeat(settings, 5),
          });
          expect(ours.connected).to.be(1);
        });
      }
    }
  });

  describe("a connection that goes silent both ways", () => {
    // a TCP proxy that stops carrying bytes, in both directions, on demand: a dead network
    async function silencingProxy(targetPort) {
      const pairs = [];
      const server = net.createServer((client) => {
        const upstream = net.connect(targetPort, "127.0.0.1");
        client.on("error", () => {});
        upstream.on("error", () => {});
        client.pipe(upstream);
        upstream.pipe(client);
        pairs.push({ client, upstream });
      });
      const port = await listen(server);
      return {
        port,
        silence() {
          for (const { client, upstream } of pairs) {
            client.unpipe(upstream);
            upstream.unpipe(client);
            client.pause();
            upstream.pause();
          }
        },
        close() {
          pairs.forEach(({ client, upstream }) => (client.destroy(), upstream.destroy()));
          server.close();
        },
      };
    }

    // Over websocket only: over polling the client's close travels on a new request, which
    // races the server's own deadline (the reference reports "transport close" on the
    // server in about 4 runs out of 10 there, ours in 2).
    for (const transport of ["websocket"]) {
      it(`over ${transport}: both sides report "ping timeout", as with the reference`, () =>
        differential(async ({ sio }) => {
          const httpServer = http.createServer();
          const io = new (sio().Server)(httpServer, { pingInterval: 300, pingTimeout: 200 });
          const proxy = await silencingProxy(await listen(httpServer));
          const socket = ioc(`http://localhost:${proxy.port}`, {
            transports: [transport],
            reconnection: false,
            forceNew: true,
          });
          try {
            const [serverSocket] = await Promise.all([waitFor(io, "connection"), waitFor(socket, "connect")]);
            // a ping or two answered first, then the network dies between two of them
            await realSleep(450);
            proxy.silence();
            const [serverReason, clientReason] = await Promise.all([
              waitFor(serverSocket, "disconnect", 5000),
              waitFor(socket, "disconnect", 5000),
            ]);
            return { serverReason, clientReason };
          } finally {
            socket.disconnect();
            proxy.close();
            io.close();
            await closeHttp(httpServer);
          }
        }));
    }
  });

  describe("raw v4 sessions (engine)", function () {
    // real timers: a run whose timings the load pushed out runs again
    this.retries(2);

    /**
     * Opens a raw websocket session on an engine with the given heartbeat; `onPing(ws, t)`
     * decides what the client does with each ping. Resolves what was seen: the server's close
     * reason, and when it came after the last ping.
     */
    async function rawSession({ engine }, opts, onPing) {
      const server = engine().listen(0, opts);
      await waitFor(server.httpServer, "listening");
      const port = server.httpServer.address().port;
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      ws.on("error", () => {});
      // the ping's time is taken where the close is seen, on the server: a client that
      // reads the ping late (a busy machine) does not shift the measure
      let lastPing = 0;
      ws.on("message", (data) => {
        if (data.toString() === "2") onPing(ws);
      });
      try {
        const conn = await waitFor(server, "connection");
        conn.on("packetCreate", (packet) => {
          if (packet.type === "ping") lastPing = performance.now();
        });
        const [reason] = await waitFor(conn, "close", 5000);
        return { reason, afterLastPing: performance.now() - lastPing };
      } finally {
        ws.terminate();
        server.close();
        await closeHttp(server.httpServer);
      }
    }

    const send = (ws, data, delay) =>
      realSetTimeout(() => ws.readyState === WebSocket.OPEN && ws.send(data), delay);

    it('a client that stops answering is closed with "ping timeout" pingTimeout after the ping', async () => {
      let pings = 0;
      const { ours, reference } = await differential(
        (impl) => {
          pings = 0;
          return rawSession(impl, { pingInterval: 100, pingTimeout: 60 }, (ws) => {
            if (++pings < 3) ws.send("3");
          });
        },
        { compare: (a, b) => expect(a.reason).to.be(b.reason) },
      );
      expect(reference.reason).to.be("ping timeout");
      for (const seen of [ours, reference]) expectWithin(seen.afterLastPing, 62, 10, "close after the ping");
    });

    it("a packet received while the pong is awaited gives the pong pingTimeout more, once per ping", async () => {
      // ping 1: a message at 40 ms, the pong at 90 ms (after pingTimeout, within the
      // refreshed deadline): kept. Ping 2: messages at 30 and 60 ms, no pong: closed at
      // 30 + pingTimeout (the second message does not refresh again).
      let pings = 0;
      const { ours, reference } = await differential(
        (impl) => {
          pings = 0;
          return rawSession(impl, { pingInterval: 100, pingTimeout: 60 }, (ws) => {
            pings++;
            if (pings === 1) {
              send(ws, "4busy", 40);
              send(ws, "3", 90);
            } else {
              send(ws, "4busy", 30);
              send(ws, "4busy", 60);
            }
          });
        },
        { compare: (a, b) => expect(a.reason).to.be(b.reason) },
      );
      expect(pings).to.be(2);
      expect(reference.reason).to.be("ping timeout");
      for (const seen of [ours, reference]) expectWithin(seen.afterLastPing, 92, 15, "close after the ping");
    });
  });
});
