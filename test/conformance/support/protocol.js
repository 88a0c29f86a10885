"use strict";

// What the conformance suites see of a server: raw HTTP long-polling requests and raw
// WebSocket frames in the order they arrived, and, on the server side, the heartbeat
// of every Engine.IO session (when it opened, when each ping was created and each pong
// received, when and why it closed). All times are performance.now() of the test process,
// which also runs the server, so that a gap measured between two server-side events is the
// server's own timer and not the loopback's jitter.
const http = require("http");
const expect = require("expect.js");
const WebSocket = require("ws");

/**
 * An HTTP request on its own connection (no agent: nothing outlives the test). Resolves
 * { status, headers, body (a UTF-8 string) }; the
 * promise has `abort()`, which destroys the request (the promise then rejects).
 *
 * @example
 * const res = await httpRequest(port, { path: "/engine.io/?EIO=4&transport=polling" });
 * const poll = httpRequest(port, { path }); ...; poll.abort();
 */
function httpRequest(port, { method = "GET", path, body } = {}) {
  let req;
  const promise = new Promise((resolve, reject) => {
    req = http.request({ host: "localhost", port, method, path, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
  promise.abort = () => req.destroy();
  return promise;
}

/**
 * The HTTP long-polling side of one server at `path` ("/engine.io/" or "/socket.io/").
 *
 * @example
 * const polling = pollingClient(port, "/engine.io/");
 * const { sid } = await polling.handshake();
 * expect((await polling.get(sid)).body).to.be("2");
 */
function pollingClient(port, path) {
  const url = (query) => `${path}?${query}`;
  const session = (sid) => url(`EIO=4&transport=polling&sid=${sid}`);
  return {
    /** Any request, `query` being the whole query string. */
    raw: (query, options) => httpRequest(port, { ...options, path: url(query) }),
    /** Opens a session: the response, with `sid` and `handshake` (the parsed open packet). */
    async handshake() {
      const res = await httpRequest(port, { path: url("EIO=4&transport=polling") });
      expect(res.status).to.be(200);
      expect(res.body[0]).to.be("0");
      const handshake = JSON.parse(res.body.slice(1));
      return { ...res, handshake, sid: handshake.sid };
    },
    /** A poll (GET) of session `sid`; `abort()` on the promise cancels it. */
    get: (sid) => httpRequest(port, { path: session(sid) }),
    /** Sends the payload `body` (POST) to session `sid`. */
    post: (sid, body) => httpRequest(port, { method: "POST", path: session(sid), body }),
  };
}

/**
 * A raw WebSocket peer: its frames in arrival order (text frames as strings, binary frames
 * as Buffers), read one at a time with `next()`. With `answerPings`, it answers each ping
 * ("2") with a pong ("3") and hides the pings, for the tests about something else.
 *
 * @example
 * const peer = wsPeer(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
 * const open = await peer.next(); // { data: '0{"sid":...}', binary: false }
 * peer.send("4hello");
 */
function wsPeer(url, { answerPings = false } = {}) {
  const ws = new WebSocket(url);
  const frames = [];
  const waiting = [];
  let ended = false;
  const endedError = () => new Error(`the connection is over (received: ${JSON.stringify(peer.received)})`);
  const peer = {
    /** every frame received so far, pings included */
    received: [],
    /** { status, body } when the server refused the upgrade with an HTTP response */
    refused: null,
    /** resolves once the connection is over, whichever way it ended */
    closed: null,
    /** resolves on the "open" event */
    opened: new Promise((resolve) => ws.once("open", resolve)),
    send: (data) => ws.send(data),
    /** Resolves the next frame not yet read; rejects once the connection is over, or after `ms`. */
    next(ms = 3000) {
      if (frames.length > 0) return Promise.resolve(frames.shift());
      if (ended) return Promise.reject(endedError());
      return new Promise((resolve, reject) => {
        const waiter = { resolve, reject };
        waiter.timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1);
          reject(new Error(`no frame within ${ms} ms (received: ${JSON.stringify(peer.received)})`));
        }, ms);
        waiting.push(waiter);
      });
    },
    /** The frames not read yet. */
    unread: () => frames.slice(),
    close: () => ws.terminate(),
  };
  ws.on("message", (data, isBinary) => {
    const frame = { data: isBinary ? Buffer.from(data) : data.toString(), binary: isBinary };
    peer.received.push(frame.data);
    if (answerPings && frame.data === "2") {
      ws.send("3");
      return;
    }
    const waiter = waiting.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
    } else {
      frames.push(frame);
    }
  });
  // a refused upgrade is an outcome the tests look at, not an error
  ws.on("error", () => {});
  peer.closed = new Promise((resolve) => {
    ws.once("close", () => resolve());
    ws.once("unexpected-response", (req, res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        peer.refused = { status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") };
        req.destroy();
        resolve();
      });
    });
  }).then(() => {
    ended = true;
    for (const waiter of waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(endedError());
    }
  });
  return peer;
}

/**
 * Records the heartbeat of every session `engine` opens, by session id: `openedAt`, `pings`
 * (each ping packet created), `pongs` (each pong packet received), `closed` ({ reason, at }),
 * plus the session itself (`socket`). The times are taken in the server's own listeners,
 * so a gap between them is the server's timing alone.
 *
 * @example
 * const sessions = recordSessions(engine);
 * ...
 * const { pings, pongs } = sessions.get(sid);
 */
function recordSessions(engine) {
  const sessions = new Map();
  // first of the "connection" listeners, so that `openedAt` is taken right after the
  // session armed its first timer, before the application's listeners run
  engine.prependListener("connection", (socket) => {
    const session = { socket, openedAt: performance.now(), pings: [], pongs: [], closed: null };
    sessions.set(socket.id, session);
    socket.on("packetCreate", (packet) => {
      if (packet.type === "ping") session.pings.push(performance.now());
    });
    socket.on("packet", (packet) => {
      if (packet.type === "pong") session.pongs.push(performance.now());
    });
    socket.on("close", (reason) => {
      session.closed = { reason, at: performance.now() };
    });
  });
  return sessions;
}

/**
 * Asserts that a duration measured several times (`samples`, in ms, taken at different
 * moments) is `expected`: the server adds no delay of its own, while this shared 2-core
 * machine may delay any one sample by a scheduling hiccup of the process. Each sample runs
 * from an event recorded at or just after the server armed its timer (so that a hiccup
 * before it cannot make the sample late); `notBefore` gives the same durations measured from
 * a moment known to come before the arming (so that a hiccup cannot make them early), for
 * the check that none is short, and defaults to `samples`.
 * - none is shorter (less 2 ms: a timer counts whole milliseconds, so it may fire up to 1 ms
 *   before a sub-millisecond clock says, and the listener that records when it was armed
 *   runs a moment after);
 * - the best is at most `best` ms longer (the 5 ms): a server that delays every
 *   timer fails here, whatever the load;
 * - the median is at most `median` ms longer: a server that delays most of them fails here;
 * - none is more than `worst` ms longer.
 *
 * @example
 * expectPunctual([pings[1] - pongs[0], pings[2] - pongs[1]], 300);
 */
function expectPunctual(samples, expected, { notBefore = samples, best = 5, median = 10, worst = 50 } = {}) {
  const sorted = [...samples].sort((a, b) => a - b);
  const shown = `${samples.map((s) => s.toFixed(1)).join(", ")} ms, expected ${expected} ms`;
  if (Math.min(...notBefore) < expected - 2) {
    throw new Error(
      `too early: ${notBefore.map((s) => s.toFixed(1)).join(", ")} ms, expected ${expected} ms`,
    );
  }
  if (sorted[0] > expected + best) throw new Error(`all more than ${best} ms late: ${shown}`);
  if (sorted[Math.floor(sorted.length / 2)] > expected + median) {
    throw new Error(`median more than ${median} ms late: ${shown}`);
  }
  if (sorted[sorted.length - 1] > expected + worst) throw new Error(`more than ${worst} ms late: ${shown}`);
}

module.exports = { httpRequest, pollingClient, wsPeer, recordSessions, expectPunctual };
