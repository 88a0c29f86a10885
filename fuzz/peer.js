"use strict";

// Executes the ops of ./sessions.js with raw peers: `ws` sockets, `http` requests and `net`
// sockets, never a Socket.IO client, so that nothing filters what reaches the server.
// Every op is bounded in time and never throws: a refused or broken connection is an answer.

const http = require("http");
const net = require("net");
const WebSocket = require("ws");

const noop = () => {};
// an op that gets no answer within this time is abandoned (its connection destroyed)
const OP_TIMEOUT = 3000;
// how much of an answer is read to learn the sid, pid, offset and ack id from
const LEARN_LIMIT = 64 * 1024;
const PATTERNS = {
  sid: /"sid":"([^"]+)"/,
  pid: /"pid":"([^"]+)"/,
  offset: /,"([^"]{2,64})"\](?:\x1e|$)/,
  ackid: /42(?:\/[\w-]*,)?(\d+)\["question"/,
};

// op name -> Session method
const METHODS = { ws: "openWs", send: "send", close: "closeWs", http: "http", tcp: "tcp", wait: "wait" };

const agent = new http.Agent({ keepAlive: true });

function settleWithin(ms, start) {
  return new Promise((resolve) => {
    let timer = null;
    const done = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    timer = setTimeout(() => done(false), ms);
    start(done);
  });
}

/**
 * The connections and learned values of one session. `ports[srv]` is where server `srv` listens;
 * `onInvalid(message)` hears of WebSocket frames from the server that break the protocol.
 *
 * @example
 * const session = new Session(ports);
 * for (const op of ops) await session.exec(op);
 * session.end();
 */
class Session {
  constructor(ports, onInvalid = noop) {
    this.ports = ports;
    this.onInvalid = onInvalid;
    this.conns = new Map();
    this.learned = {};
    this.closed = false;
  }

  fill(value) {
    if (typeof value !== "string" || !value.includes("{")) return value;
    return value.replace(/\{(sid|pid|offset|ackid)\}/g, (all, name) => this.learned[name] ?? all);
  }

  fillHeaders(headers) {
    const out = {};
    for (const name in headers) out[name] = this.fill(headers[name]);
    return out;
  }

  learn(text) {
    const sample = text.length > LEARN_LIMIT ? text.slice(0, LEARN_LIMIT) : text;
    for (const name in PATTERNS) {
      const match = PATTERNS[name].exec(sample);
      if (match) this.learned[name] = match[1];
    }
  }

  track(conn, handle) {
    const previous = this.conns.get(conn);
    if (previous) previous.destroy();
    this.conns.set(conn, handle);
  }

  /** Runs one op; resolves true when its bytes were handed to the network. */
  exec(op) {
    if (this.closed) return Promise.resolve(false);
    try {
      return this[METHODS[op.op]](op);
    } catch {
      // the client library refused the input (an invalid header, path or URL): nothing was sent
      return Promise.resolve(false);
    }
  }

  openWs({ conn, srv, path, headers, deflate }) {
    const ws = new WebSocket(`ws://127.0.0.1:${this.ports[srv]}${this.fill(path)}`, {
      headers: this.fillHeaders(headers),
      perMessageDeflate: Boolean(deflate),
      handshakeTimeout: OP_TIMEOUT,
    });
    let socket = null;
    ws.on("upgrade", (res) => (socket = res.socket));
    // a frame the client library cannot read came from the server: after a 101, only frames may
    ws.on(
      "error",
      (err) => err.code && err.code.startsWith("WS_ERR") && this.onInvalid(`${err.code}: ${err.message}`),
    );
    ws.on("message", (data, isBinary) => isBinary || this.learn(data.toString()));
    this.track(conn, {
      ws,
      reset: () => (socket ? socket.resetAndDestroy() : ws.terminate()),
      destroy: () => ws.terminate(),
    });
    return settleWithin(OP_TIMEOUT, (done) => {
      ws.once("open", () => done(true));
      ws.once("close", () => done(true));
    });
  }

  send({ conn, data, text }) {
    const handle = this.conns.get(conn);
    if (!handle || !handle.ws || handle.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    const payload = this.fill(data);
    return settleWithin(OP_TIMEOUT, (done) => {
      handle.ws.send(payload, { binary: typeof payload !== "string" && !text }, () => done(true));
    });
  }

  closeWs({ conn, how }) {
    const handle = this.conns.get(conn);
    if (!handle || !handle.ws) return Promise.resolve(false);
    if (how === "close") handle.ws.close();
    else if (how === "reset") handle.reset();
    else handle.ws.terminate();
    return Promise.resolve(true);
  }

  /** Lets the server answer (a pause sends nothing, so it is no frame). */
  wait({ ms }) {
    return new Promise((resolve) => setTimeout(() => resolve(false), ms));
  }

  http({ conn, srv, method, path, headers, body, chunks, wait, background }) {
    const req = http.request({
      host: "127.0.0.1",
      port: this.ports[srv],
      method,
      path: this.fill(path),
      headers: this.fillHeaders(headers),
      agent,
    });
    req.on("error", noop);
    if (background) this.track(`${conn}-bg`, { destroy: () => req.destroy() });
    const answered = new Promise((resolve) => {
      // `wait` counts from the moment the request is written: a poll held open, then abandoned
      let timer = setTimeout(() => done(true), OP_TIMEOUT);
      const done = (abort) => {
        clearTimeout(timer);
        if (abort && !req.destroyed) req.destroy();
        resolve(true);
      };
      req.on("finish", () => {
        if (wait === undefined) return;
        clearTimeout(timer);
        timer = setTimeout(() => done(true), wait);
      });
      req.on("response", (res) => {
        let text = "";
        res.setEncoding("latin1");
        res.on("data", (chunk) => text.length < LEARN_LIMIT && (text += chunk));
        res.on("end", () => {
          this.learn(text);
          done(false);
        });
      });
      req.on("close", () => done(false));
    });
    this.writeBody(req, this.fill(body), chunks);
    return background ? Promise.resolve(true) : answered;
  }

  writeBody(req, body, chunks) {
    if (body === undefined) return req.end();
    if (!(chunks > 1)) return req.end(body);
    const size = Math.ceil(body.length / chunks);
    for (let i = 0; i < body.length && !req.destroyed; i += size) req.write(body.slice(i, i + size));
    req.end();
  }

  tcp({ conn, srv, data, end, wait }) {
    const socket = net.connect(this.ports[srv], "127.0.0.1");
    socket.on("error", noop);
    socket.on("data", (chunk) => this.learn(chunk.toString("latin1")));
    this.track(conn, { destroy: () => socket.destroy() });
    return settleWithin(OP_TIMEOUT, (done) => {
      socket.on("close", () => done(false));
      socket.once("connect", () => socket.write(data, () => done(true)));
    }).then((sent) => {
      if (end === "hold" || socket.destroyed) return sent;
      return new Promise((resolve) =>
        setTimeout(() => {
          if (end === "reset" && !socket.destroyed) socket.resetAndDestroy();
          else socket.end();
          resolve(sent);
        }, wait),
      );
    });
  }

  /** Ends every connection of the session. */
  end() {
    this.closed = true;
    for (const handle of this.conns.values()) handle.destroy();
    this.conns.clear();
  }
}

/** Closes the kept-alive HTTP connections, at the end of a run. */
const closeIdle = () => agent.destroy();

module.exports = { Session, closeIdle };
