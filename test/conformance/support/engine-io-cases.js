"use strict";

// The Engine.IO protocol cases, shared by the two conformance files: the Engine.IO test
// suite checks them on an Engine.IO server at /engine.io/, and the Socket.IO test suite
// checks the same ones (except the messages) on a Socket.IO server at /socket.io/.
// Each test covers one case of the suites; its title says what it checks.
const expect = require("expect.js");
const { sleep, waitFor, until } = require("../../support/wait");
const { pollingClient, wsPeer, expectPunctual } = require("./protocol");

// the settings the public test suites expect of the server
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1000000;

/** Asserts the handshake data of an open packet. */
function expectHandshake(handshake, upgrades) {
  expect(Object.keys(handshake).sort()).to.eql([
    "maxPayload",
    "pingInterval",
    "pingTimeout",
    "sid",
    "upgrades",
  ]);
  expect(handshake.sid).to.be.a("string");
  expect(handshake.sid).not.to.be.empty();
  expect(handshake.upgrades).to.eql(upgrades);
  expect(handshake.pingInterval).to.be(PING_INTERVAL);
  expect(handshake.pingTimeout).to.be(PING_TIMEOUT);
  expect(handshake.maxPayload).to.be(MAX_PAYLOAD);
}

/**
 * Asserts that a session pinged pingInterval after its handshake, then pingInterval after
 * each pong. Its first ping's timer was armed between `requestedAt` (when the client asked
 * for the session) and `openedAt` (the server's "connection" event).
 */
function expectPingGaps({ requestedAt, session: { openedAt, pings, pongs } }) {
  const next = pings.slice(1, pongs.length).map((ping, i) => ping - pongs[i]);
  expectPunctual([pings[0] - openedAt, ...next], PING_INTERVAL, {
    notBefore: [pings[0] - requestedAt, ...next],
  });
}

/**
 * Asserts that sessions which answered no ping got their ping pingInterval after the
 * handshake and were closed pingTimeout after it: so at pingInterval + pingTimeout. The two
 * timers are checked one by one, each to the tolerance of a ping gap.
 */
function expectPingTimeouts(runs) {
  for (const { session } of runs) expect(session.pings).to.have.length(1);
  expectPunctual(
    runs.map(({ session }) => session.pings[0] - session.openedAt),
    PING_INTERVAL,
    { notBefore: runs.map(({ session, requestedAt }) => session.pings[0] - requestedAt) },
  );
  expectPunctual(
    runs.map(({ session }) => session.closed.at - session.pings[0]),
    PING_TIMEOUT,
  );
}

/** Asserts a refused request: HTTP 400 and the JSON error body { code, message }. */
function expectRefused(res, code, message) {
  expect(res.status).to.be(400);
  expect(res.headers["content-type"]).to.be("application/json");
  expect(JSON.parse(res.body)).to.eql({ code, message });
}

/**
 * Declares the Engine.IO protocol cases against the server that `ctx` describes once its
 * `before` ran: `ctx.port`, `ctx.engine` (the Engine.IO server), `ctx.sessions`
 * (recordSessions of it). `path` is where the server listens; `messages` adds the cases
 * that echo Engine.IO messages (an Engine.IO server only); `proveAlive(peer)` shows that an
 * upgraded session still carries data both ways.
 *
 * @example
 * describeEngineIoCases(ctx, { path: "/engine.io/", messages: true, proveAlive });
 */
function describeEngineIoCases(ctx, { path, messages, proveAlive }) {
  const peers = [];
  const connectionErrors = [];
  let polling;

  before(() => {
    polling = pollingClient(ctx.port, path);
    ctx.engine.on("connection_error", (err) =>
      connectionErrors.push({ code: err.code, message: err.message }),
    );
  });

  afterEach(() => {
    peers.splice(0).forEach((peer) => peer.close());
    connectionErrors.length = 0;
  });

  /** A raw WebSocket peer on `query`, closed after the test. */
  const peer = (query, options) => {
    const p = wsPeer(`ws://localhost:${ctx.port}${path}?${query}`, options);
    peers.push(p);
    return p;
  };

  /** The session of `sid` as the server recorded it. */
  const session = (sid) => {
    const s = ctx.sessions.get(sid);
    expect(s).to.be.ok();
    return s;
  };

  /** The heartbeat of session `sid` so far, for the failure messages. */
  const heartbeatOf = (sid) => {
    const { openedAt, pings, pongs, closed } = session(sid);
    const since = (t) => `${(t - openedAt).toFixed(0)} ms`;
    const ended = closed ? `, closed ("${closed.reason}") at ${since(closed.at)}` : "";
    return `pings at ${pings.map(since).join(", ")}, pongs at ${pongs.map(since).join(", ")}${ended}`;
  };

  /** Resolves once the server holds a poll (GET) of session `sid`, so that a packet sent now goes in it. */
  const held = (sid) => until(() => session(sid).socket.transport.writable, "the server holds the poll");

  /** Opens a polling session and upgrades it to a WebSocket peer (probe, then upgrade packet). */
  async function upgraded() {
    const { sid } = await polling.handshake();
    const ws = peer(`EIO=4&transport=websocket&sid=${sid}`, { answerPings: true });
    await ws.opened;
    ws.send("2probe");
    expect((await ws.next()).data).to.be("3probe");
    const upgrade = waitFor(session(sid).socket, "upgrade");
    ws.send("5");
    await upgrade;
    return { sid, ws };
  }

  describe("handshake", () => {
    describe("HTTP long-polling", () => {
      it("opens a session: open packet with sid, upgrades [websocket], pingInterval, pingTimeout, maxPayload", async () => {
        const res = await polling.handshake();
        expect(res.headers["content-type"]).to.be("text/plain; charset=UTF-8");
        expectHandshake(res.handshake, ["websocket"]);
        expect(session(res.sid).socket.transport.name).to.be("polling");
      });

      it("refuses a missing or invalid EIO: 400, code 5 'Unsupported protocol version'", async () => {
        const opened = ctx.sessions.size;
        expectRefused(await polling.raw("transport=polling"), 5, "Unsupported protocol version");
        expectRefused(await polling.raw("EIO=abc&transport=polling"), 5, "Unsupported protocol version");
        expect(ctx.sessions.size).to.be(opened);
      });

      it("refuses a missing or unknown transport: 400, code 0 'Transport unknown'", async () => {
        const opened = ctx.sessions.size;
        expectRefused(await polling.raw("EIO=4"), 0, "Transport unknown");
        expectRefused(await polling.raw("EIO=4&transport=abc"), 0, "Transport unknown");
        expect(ctx.sessions.size).to.be(opened);
      });

      it("refuses a handshake by POST or PUT: 400, code 2 'Bad handshake method'", async () => {
        const opened = ctx.sessions.size;
        for (const method of ["POST", "PUT"]) {
          expectRefused(await polling.raw("EIO=4&transport=polling", { method }), 2, "Bad handshake method");
        }
        expect(ctx.sessions.size).to.be(opened);
      });
    });

    describe("WebSocket", () => {
      it("opens a session: the first frame is the open packet, with no upgrades", async () => {
        const ws = peer("EIO=4&transport=websocket");
        const open = await ws.next();
        expect(open.binary).to.be(false);
        expect(open.data[0]).to.be("0");
        const handshake = JSON.parse(open.data.slice(1));
        expectHandshake(handshake, []);
        expect(session(handshake.sid).socket.transport.name).to.be("websocket");
      });

      it("opens no session with a missing or invalid EIO (connection_error code 5)", async () => {
        const opened = ctx.sessions.size;
        for (const query of ["transport=websocket", "EIO=abc&transport=websocket"]) {
          const ws = peer(query);
          await ws.closed;
          expect(ws.received).to.eql([]);
        }
        expect(ctx.sessions.size).to.be(opened);
        const unsupported = { code: 5, message: "Unsupported protocol version" };
        expect(connectionErrors).to.eql([unsupported, unsupported]);
      });

      it("refuses the upgrade with a missing or unknown transport: 400 'Transport unknown'", async () => {
        const opened = ctx.sessions.size;
        for (const query of ["EIO=4", "EIO=4&transport=abc"]) {
          const ws = peer(query);
          await ws.closed;
          expect(ws.refused).to.eql({ status: 400, body: "Transport unknown" });
          expect(ws.received).to.eql([]);
        }
        expect(ctx.sessions.size).to.be(opened);
      });
    });
  });

  if (messages) {
    describe("message", () => {
      describe("HTTP long-polling", () => {
        /** Posts `payload` to a new session; resolves what the server's "message" listener got and the next poll. */
        async function echo(payload) {
          const { sid } = await polling.handshake();
          const received = [];
          session(sid).socket.on("message", (data) => received.push(data));
          const push = await polling.post(sid, payload);
          expect(push.status).to.be(200);
          expect(push.body).to.be("ok");
          const poll = await polling.get(sid);
          expect(poll.status).to.be(200);
          return { received, poll: poll.body };
        }

        it("sends and receives a payload of one text packet", async () => {
          const { received, poll } = await echo("4hello");
          expect(received).to.eql(["hello"]);
          expect(poll).to.be("4hello");
        });

        it("sends and receives a payload of several text packets (\\x1e separated)", async () => {
          const { received, poll } = await echo("4test1\x1e4test2\x1e4test3");
          expect(received).to.eql(["test1", "test2", "test3"]);
          expect(poll).to.be("4test1\x1e4test2\x1e4test3");
        });

        it("sends and receives a payload of text and binary (b + base64) packets", async () => {
          const { received, poll } = await echo("4hello\x1ebAQIDBA==");
          expect(received[0]).to.be("hello");
          expect(Buffer.isBuffer(received[1])).to.be(true);
          expect([...received[1]]).to.eql([1, 2, 3, 4]);
          expect(poll).to.be("4hello\x1ebAQIDBA==");
        });

        it("closes the session upon an invalid packet format ('parse error'), a poll then gets 400 code 1", async () => {
          const { sid } = await polling.handshake();
          await polling.post(sid, "abc");
          expect(session(sid).closed.reason).to.be("parse error");
          expectRefused(await polling.get(sid), 1, "Session ID unknown");
        });

        it("closes the session upon a second poll while one is held: 200 '1' and 400, then 400 code 1", async () => {
          const { sid } = await polling.handshake();
          const first = polling.get(sid);
          await held(sid);
          const second = await polling.get(sid);
          expect(second.status).to.be(400);
          const firstRes = await first;
          expect(firstRes.status).to.be(200);
          expect(firstRes.body).to.be("1");
          expect(session(sid).closed.reason).to.be("transport error");
          expectRefused(await polling.get(sid), 1, "Session ID unknown");
        });

        it("closes the session when the client cancels a held poll, a poll then gets 400 code 1", async () => {
          const { sid } = await polling.handshake();
          const poll = polling.get(sid);
          poll.catch(() => {});
          await held(sid);
          poll.abort();
          await until(() => session(sid).closed !== null, "the session closed");
          expect(session(sid).closed.reason).to.be("transport error");
          expectRefused(await polling.get(sid), 1, "Session ID unknown");
        });
      });

      describe("WebSocket", () => {
        it("sends and receives a text packet", async () => {
          const ws = peer("EIO=4&transport=websocket", { answerPings: true });
          const sid = JSON.parse((await ws.next()).data.slice(1)).sid;
          const received = waitFor(session(sid).socket, "message");
          ws.send("4hello");
          expect(await received).to.be("hello");
          expect(await ws.next()).to.have.property("data", "4hello");
        });

        it("sends and receives a binary packet (a binary frame, no type byte)", async () => {
          const ws = peer("EIO=4&transport=websocket", { answerPings: true });
          const sid = JSON.parse((await ws.next()).data.slice(1)).sid;
          const received = waitFor(session(sid).socket, "message");
          ws.send(Uint8Array.from([1, 2, 3, 4]));
          const data = await received;
          expect(Buffer.isBuffer(data)).to.be(true);
          expect([...data]).to.eql([1, 2, 3, 4]);
          const frame = await ws.next();
          expect(frame.binary).to.be(true);
          expect([...frame.data]).to.eql([1, 2, 3, 4]);
        });

        it("closes the session upon an invalid packet format, at once ('parse error')", async () => {
          const ws = peer("EIO=4&transport=websocket");
          const sid = JSON.parse((await ws.next()).data.slice(1)).sid;
          ws.send("abc");
          await ws.closed;
          // closed for the bad packet, not by the heartbeat: no ping came first
          expect(ws.received).to.have.length(1);
          expect(session(sid).closed.reason).to.be("parse error");
        });
      });
    });
  }

  describe("heartbeat", () => {
    describe("HTTP long-polling", () => {
      it("pings pingInterval after the handshake and after each pong (server-side gaps: none early, best +5 ms, median +10)", async () => {
        const requestedAt = performance.now();
        const { sid } = await polling.handshake();
        for (let i = 0; i < 3; i++) {
          const poll = await polling.get(sid);
          if (poll.body !== "2")
            throw new Error(`poll ${i + 1} got "${poll.body}", not a ping: ${heartbeatOf(sid)}`);
          const push = await polling.post(sid, "3");
          expect(push.status).to.be(200);
          expect(push.body).to.be("ok");
        }
        expectPingGaps({ requestedAt, session: session(sid) });
      });

      it("closes a session that does not answer at pingInterval + pingTimeout: its held poll gets '1', then 400", async () => {
        // three sessions, a tenth of a second apart, so that one hiccup of this shared
        // machine cannot make every measure late
        const silent = async () => {
          const requestedAt = performance.now();
          const { sid } = await polling.handshake();
          const ping = await polling.get(sid);
          const close = await polling.get(sid);
          const after = await polling.get(sid);
          return { requestedAt, sid, ping, close, after };
        };
        const runs = await Promise.all([0, 100, 200].map((delay) => sleep(delay).then(silent)));
        for (const { sid, ping, close, after } of runs) {
          expect(ping.body).to.be("2");
          expect(close.status).to.be(200);
          expect(close.body).to.be("1");
          expectRefused(after, 1, "Session ID unknown");
          expect(session(sid).closed.reason).to.be("ping timeout");
        }
        expectPingTimeouts(runs.map(({ requestedAt, sid }) => ({ requestedAt, session: session(sid) })));
      });
    });

    describe("WebSocket", () => {
      it("pings pingInterval after the handshake and after each pong (server-side gaps: none early, best +5 ms, median +10)", async () => {
        const requestedAt = performance.now();
        const ws = peer("EIO=4&transport=websocket");
        const sid = JSON.parse((await ws.next()).data.slice(1)).sid;
        for (let i = 0; i < 3; i++) {
          const frame = await ws.next().catch(() => ({ data: "nothing" }));
          if (frame.data !== "2")
            throw new Error(`got ${frame.data} instead of ping ${i + 1}: ${heartbeatOf(sid)}`);
          ws.send("3");
        }
        await until(() => session(sid).pongs.length === 3 || session(sid).closed, "the third pong arrived");
        if (session(sid).pongs.length < 3)
          throw new Error(`the third pong came too late: ${heartbeatOf(sid)}`);
        expectPingGaps({ requestedAt, session: session(sid) });
      });

      it("closes a session that does not answer at pingInterval + pingTimeout, after one ping", async () => {
        const silent = async () => {
          const requestedAt = performance.now();
          const ws = peer("EIO=4&transport=websocket");
          const sid = JSON.parse((await ws.next()).data.slice(1)).sid;
          await ws.closed;
          return { requestedAt, sid, ws };
        };
        const runs = await Promise.all([0, 100, 200].map((delay) => sleep(delay).then(silent)));
        for (const { sid, ws } of runs) {
          expect(ws.received.slice(1)).to.eql(["2"]);
          expect(session(sid).closed.reason).to.be("ping timeout");
        }
        expectPingTimeouts(runs.map(({ requestedAt, sid }) => ({ requestedAt, session: session(sid) })));
      });
    });
  });

  describe("close", () => {
    it("HTTP long-polling: a close packet ends the session, the held poll gets a noop '6', then 400", async () => {
      const { sid } = await polling.handshake();
      const poll = polling.get(sid);
      await held(sid);
      const push = await polling.post(sid, "1");
      expect(push.status).to.be(200);
      expect(push.body).to.be("ok");
      const res = await poll;
      expect(res.status).to.be(200);
      expect(res.body).to.be("6");
      expect(session(sid).closed.reason).to.be("transport close");
      expectRefused(await polling.get(sid), 1, "Session ID unknown");
    });

    // The suite only waits for the close. The reference acts on a close packet in its polling
    // transport alone: over WebSocket the packet is ignored, and the session that sent it
    // (and then answers no ping) ends by the heartbeat, which is what a client sees.
    it("WebSocket: a session that sent a close packet ends (by the heartbeat, as with the reference)", async () => {
      const ws = peer("EIO=4&transport=websocket");
      const sid = JSON.parse((await ws.next()).data.slice(1)).sid;
      ws.send("1");
      await ws.closed;
      expect(ws.received.slice(1)).to.eql(["2"]);
      expect(session(sid).closed.reason).to.be("ping timeout");
    });
  });

  describe("upgrade", () => {
    it("upgrades from polling: 2probe/3probe, a poll gets a noop '6', then 5 moves the session to WebSocket", async () => {
      const { sid } = await polling.handshake();
      const ws = peer(`EIO=4&transport=websocket&sid=${sid}`, { answerPings: true });
      await ws.opened;
      ws.send("2probe");
      // no open packet on the new transport: the probe's answer comes first
      expect((await ws.next()).data).to.be("3probe");
      const poll = await polling.get(sid);
      expect(poll.status).to.be(200);
      expect(poll.body).to.be("6");
      const upgrade = waitFor(session(sid).socket, "upgrade");
      ws.send("5");
      await upgrade;
      expect(session(sid).socket.transport.name).to.be("websocket");
      await proveAlive(ws);
    });

    it("refuses HTTP requests of the session once upgraded (400 code 3 'Bad request')", async () => {
      const { sid, ws } = await upgraded();
      expectRefused(await polling.get(sid), 3, "Bad request");
      await proveAlive(ws);
    });

    it("ignores a second WebSocket of the session once upgraded (closed, no frame)", async () => {
      const { sid, ws } = await upgraded();
      const second = peer(`EIO=4&transport=websocket&sid=${sid}`);
      await second.closed;
      expect(second.received).to.eql([]);
      await proveAlive(ws);
    });
  });
}

module.exports = { describeEngineIoCases, expectHandshake, PING_INTERVAL, PING_TIMEOUT };
