"use strict";

// A raw recording client for the differential suite: Engine.IO v4 spoken by hand, over raw
// HTTP polling requests (one connection each, no agent) and a raw `ws` WebSocket. The log
// holds every frame the server sent ("<") and every action of the scenario (">": a request,
// a frame sent, a server-side call noted by the scenario), each with its channel and its
// time since the handshake. Two servers that behave alike give the same frames on each
// channel, each after the same delay. Nothing here interprets the protocol beyond splitting
// a polling payload into its packets: what is compared is what a client reads.
const http = require("http");
const { performance } = require("perf_hooks");
const WebSocket = require("ws");

const SEPARATOR = "\x1e";

// Values that differ on every run: replaced by their name in the log.
const VOLATILE = /"(sid|pid|offset)":"[^"]+"/g;

/** `text` with its session ids (and recovery ids) replaced by placeholders. */
function normalize(text) {
  return text.replace(VOLATILE, (match, key) => `"${key}":"<${key}>"`);
}

// Response headers that carry the date, a random key or the connection's housekeeping.
const NOISY_HEADERS = new Set(["date", "connection", "keep-alive", "sec-websocket-accept"]);

/** The response headers worth comparing, sorted by name. */
function comparableHeaders(headers) {
  const out = {};
  for (const name of Object.keys(headers).sort()) {
    if (!NOISY_HEADERS.has(name)) out[name] = normalize(String(headers[name]));
  }
  return out;
}

/**
 * One Engine.IO v4 session spoken by hand.
 *
 * @example
 * const wire = new Wire(port);
 * await wire.handshake("polling");
 * const poll = wire.get();
 * await wire.openWebSocket();
 * wire.send("2probe");
 * await wire.frame("ws", "3probe");
 * await poll;
 * return wire.log; // [{ ch: "GET", dir: "<", frame: '0{"sid":"<sid>",...}', t: 0 }, ...]
 */
class Wire {
  /**
   * @param {number} port the server's port on 127.0.0.1
   * @param {object} [options] `path` (default "/socket.io/"), `query` (extra parameters of
   *   every request, an array for a repeated one), `headers` (of every request)
   */
  constructor(port, { path = "/socket.io/", query = {}, headers = {} } = {}) {
    this.port = port;
    this.path = path;
    this.query = query;
    this.headers = headers;
    this.log = [];
    this.responses = [];
    this.sid = undefined;
    this.ws = undefined;
    this.t0 = undefined;
    this.waiters = [];
    this.inflight = new Set();
    this.refused = false;
  }

  /** Milliseconds since the handshake's response (0 before it). */
  now() {
    return this.t0 === undefined ? 0 : Math.round(performance.now() - this.t0);
  }

  /** Logs `frame` on `ch`: received from the server (`dir` "<") or an action of the scenario (">"). */
  record(ch, frame, dir = "<") {
    this.log.push({ ch, dir, frame: normalize(frame), t: this.now() });
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (!waiter()) this.waiters.push(waiter);
    }
  }

  /**
   * Logs a server-side action of the scenario, so that the frames it causes are timed from it.
   *
   * @example
   * wire.note("socket.close()");
   * socket.close();
   */
  note(action) {
    this.record("server", action, ">");
  }

  url(transport, withSid = true) {
    const params = new URLSearchParams({ EIO: "4", transport });
    for (const [name, value] of Object.entries(this.query)) {
      for (const one of [].concat(value)) params.append(name, one);
    }
    if (withSid && this.sid) params.set("sid", this.sid);
    return `${this.path}?${params}`;
  }

  /**
   * Resolves the first frame received on `ch`, at or after log index `from`, that equals
   * `frame` (a string) or satisfies it (a predicate); rejects after `ms`.
   *
   * @example
   * const from = wire.log.length;
   * wire.send("2probe");
   * await wire.frame("ws", "3probe", { from });
   */
  frame(ch, frame, { from = 0, ms = 3000 } = {}) {
    const matches = typeof frame === "function" ? frame : (f) => f === frame;
    return new Promise((resolve, reject) => {
      const find = () => {
        for (let i = from; i < this.log.length; i++) {
          const entry = this.log[i];
          if (entry.dir === "<" && entry.ch === ch && matches(entry.frame)) {
            clearTimeout(timer);
            resolve(entry);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== find);
        reject(
          new Error(`timed out waiting for ${ch} frame ${String(frame)}; log: ${JSON.stringify(this.log)}`),
        );
      }, ms);
      if (!find()) this.waiters.push(find);
    });
  }

  // An HTTP request of this session; resolves { status, headers, body } (body a string), or
  // { error } when the connection fails.
  request(method, path, body, extraHeaders = {}) {
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: this.port,
          method,
          path,
          agent: false,
          headers: { ...this.headers, ...extraHeaders },
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            this.inflight.delete(req);
            resolve({
              status: res.statusCode,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
            });
          });
          res.on("error", (err) => resolve({ error: err.code || err.message }));
        },
      );
      this.inflight.add(req);
      req.on("error", (err) => {
        this.inflight.delete(req);
        resolve({ error: err.code || err.message });
      });
      req.end(body);
    });
  }

  // A GET's outcome in the log: its packets one by one, or its status and body when refused.
  recordPoll(res) {
    if (res.error) this.record("GET", `<error ${res.error}>`);
    else if (res.status !== 200) this.record("GET", `<HTTP ${res.status}> ${res.body}`);
    else for (const packet of res.body.split(SEPARATOR)) this.record("GET", packet);
    return res;
  }

  /**
   * Opens the session over `transport` ("polling" or "websocket"); the response carrying the
   * open packet starts the clock. Resolves the handshake's { status }.
   *
   * @example
   * await wire.handshake("websocket");
   */
  async handshake(transport = "polling") {
    if (transport === "websocket") return this.openWebSocket({ handshake: true });
    const res = await this.request("GET", this.url("polling", false));
    this.t0 = performance.now();
    this.responses.push({
      ch: "handshake",
      status: res.status,
      headers: comparableHeaders(res.headers || {}),
    });
    if (res.status === 200) this.sid = JSON.parse(res.body.split(SEPARATOR)[0].slice(1)).sid;
    this.recordPoll(res);
    return res;
  }

  /**
   * A long-poll GET: resolves its response once the server answers it; its packets are
   * logged on channel "GET".
   *
   * @example
   * const poll = wire.get(); // pending until the server has something to send
   */
  get() {
    this.record("GET", "", ">");
    return this.request("GET", this.url("polling")).then((res) => this.recordPoll(res));
  }

  /**
   * Posts `packets` as one payload; resolves the response, logged on channel "POST".
   *
   * @example
   * await wire.post("40");
   */
  async post(...packets) {
    const payload = packets.join(SEPARATOR);
    this.record("POST", payload, ">");
    const res = await this.request("POST", this.url("polling"), payload, {
      "content-type": "text/plain;charset=UTF-8",
    });
    this.record("POST", res.error ? `<error ${res.error}>` : `<HTTP ${res.status}> ${res.body}`);
    return res;
  }

  /**
   * Destroys the pending HTTP requests (a client that goes away while a GET is pending).
   *
   * @example
   * wire.abortRequests();
   */
  abortRequests() {
    this.record("GET", "<abort>", ">");
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
  }

  /**
   * Opens the WebSocket of this session (an upgrade of the open session, or the handshake
   * with `handshake`); resolves once the server accepted it (a handshake: once the open
   * packet arrived). Its messages are logged on channel "ws", binary ones as hex, then its
   * close code.
   *
   * @example
   * await wire.openWebSocket();
   */
  openWebSocket({ handshake = false } = {}) {
    const url = `ws://127.0.0.1:${this.port}${this.url("websocket", !handshake)}`;
    if (!handshake) this.record("ws", "<open>", ">");
    const ws = new WebSocket(url, { headers: this.headers });
    this.ws = ws;
    return new Promise((resolve, reject) => {
      ws.on("upgrade", (res) => {
        this.responses.push({ ch: "ws", status: res.statusCode, headers: comparableHeaders(res.headers) });
      });
      ws.on("unexpected-response", (req, res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          this.refused = true;
          this.record("ws", `<HTTP ${res.statusCode}> ${Buffer.concat(chunks).toString("utf8")}`);
          resolve({ status: res.statusCode });
        });
      });
      ws.on("error", (err) => {
        this.record("ws", `<error ${err.code || err.message}>`);
        reject(err);
      });
      ws.on("message", (data, isBinary) => {
        if (handshake && this.t0 === undefined) {
          this.t0 = performance.now();
          this.sid = JSON.parse(data.toString().slice(1)).sid;
        }
        this.record("ws", isBinary ? `<binary ${Buffer.from(data).toString("hex")}>` : data.toString());
        if (handshake) resolve({ status: 101 });
      });
      ws.on("close", (code, reason) =>
        this.record("ws", `<close ${code}${reason.length ? " " + reason : ""}>`),
      );
      if (!handshake) ws.on("open", () => resolve({ status: 101 }));
    });
  }

  /**
   * Sends frames over the WebSocket: strings as text frames, Buffers as binary frames.
   *
   * @example
   * wire.send('451-["up",{"_placeholder":true,"num":0}]', Buffer.from([1, 2]));
   */
  send(...frames) {
    for (const frame of frames) {
      this.record("ws", Buffer.isBuffer(frame) ? `<binary ${frame.toString("hex")}>` : frame, ">");
      this.ws.send(frame);
    }
  }

  /**
   * Closes the WebSocket from the client: a close frame (`code`), or the TCP connection
   * torn down without one (`terminate`).
   *
   * @example
   * wire.closeWebSocket({ terminate: true });
   */
  closeWebSocket({ code = 1000, terminate = false } = {}) {
    this.record("ws", terminate ? "<terminate>" : `<close ${code}>`, ">");
    if (terminate) this.ws.terminate();
    else this.ws.close(code);
  }

  /** Resolves once the WebSocket is closed (at once if it is, if it was refused, or if there is none). */
  wsClosed() {
    if (!this.ws || this.refused || this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once("close", resolve));
  }

  /** What the log shows so far: a copy, so that a server closed later adds nothing to it. */
  snapshot() {
    return this.log.map((entry) => ({ ...entry }));
  }

  /** Tears down whatever this client still holds open. */
  destroy() {
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
    if (this.ws) this.ws.terminate();
  }
}

module.exports = { Wire, normalize, comparableHeaders, SEPARATOR };
