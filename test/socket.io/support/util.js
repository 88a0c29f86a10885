"use strict";

// Shared helpers of the Socket.IO end-to-end suite. Every test builds its peers
// through a Harness so that servers, real clients and raw peers are all closed in
// afterEach, whichever way the test ended.
const http = require("http");
const expect = require("expect.js");
const { io: ioc } = require("socket.io-client");
const iocV2 = require("socket.io-client-v2");
const WebSocket = require("ws");

const impl = require("../../support/impl");

const sio = impl.sio();
const { Server } = sio;

// The transport sets every transport-dependent test runs over. `undefined` is the
// client's default: HTTP long-polling first, then the upgrade to WebSocket.
const TRANSPORTS = [
  { label: "polling", transports: ["polling"] },
  { label: "websocket", transports: ["websocket"] },
  { label: "default (polling then upgrade)", transports: undefined },
];

/**
 * Runs `fn(transports)` inside one describe block per transport set.
 *
 * @example
 * forEachTransport((transports) => { it("...", ...) });
 */
function forEachTransport(fn) {
  for (const { label, transports } of TRANSPORTS) {
    describe(`over ${label}`, () => fn(transports));
  }
}

const { sleep, waitFor, until, expectNoEvent } = require("../../support/wait");
const { request } = require("../../support/http");
const { listen, withDeadline, closeHttp } = require("../../support/servers");

/** Resolves with the reason of the next "disconnect" (without the description). */
function disconnectReason(socket, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no disconnect")), ms);
    socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Resolves once a v4 client socket is connected, rejects on connect_error. */
function connected(socket, ms = 3000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("connect timeout")), ms);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Resolves with the error of the next connect_error, rejects if the socket connects. */
function connectError(socket, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no connect_error")), ms);
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error("unexpectedly connected"));
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

/** Resolves once the engine of a v4 client has upgraded to WebSocket. */
function upgraded(socket, ms = 3000) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return Promise.resolve();
  return waitFor(engine, "upgrade", ms);
}

class Harness {
  /**
   * @param {{ transports?: string[] }} defaults client options applied to every client
   */
  constructor(defaults = {}) {
    this.defaults = defaults;
    this.servers = [];
    this.httpServers = [];
    this.clients = [];
    this.closers = [];
    this.port = undefined;
  }

  /**
   * Creates `new Server(httpServer, opts)` on an ephemeral port.
   *
   * @example
   * const io = await h.server({ pingInterval: 200 });
   * const client = h.client("/chat");
   */
  async server(opts = {}, httpServer = http.createServer()) {
    const io = new Server(httpServer, opts);
    this.track(io, httpServer);
    await this.listen(httpServer);
    return io;
  }

  /** Starts `httpServer` on port 0 and remembers the port for the clients. */
  async listen(httpServer) {
    this.httpServers.push(httpServer);
    this.port = await listen(httpServer);
    return this.port;
  }

  /** Registers a server created elsewhere so that it is closed after the test. */
  track(io, httpServer) {
    this.servers.push(io);
    if (httpServer) this.httpServers.push(httpServer);
    return io;
  }

  /** Registers a port (for servers listening on their own, e.g. `new Server(0)`). */
  usePort(port) {
    this.port = port;
  }

  url(nsp = "/") {
    return `http://localhost:${this.port}${nsp}`;
  }

  /** A socket.io-client@4 socket, new Manager, no reconnection. */
  client(nsp = "/", opts = {}) {
    const socket = ioc(this.url(nsp), {
      forceNew: true,
      reconnection: false,
      ...this.defaults,
      ...opts,
    });
    this.clients.push(socket);
    return socket;
  }

  /** Creates a client and waits for its connection. */
  async connect(nsp = "/", opts = {}) {
    return connected(this.client(nsp, opts));
  }

  /** A socket.io-client@2 socket (EIO3, needs `allowEIO3: true` on the server). */
  clientV2(nsp = "/", opts = {}) {
    const socket = iocV2(this.url(nsp), {
      forceNew: true,
      reconnection: false,
      ...this.defaults,
      ...opts,
    });
    this.clients.push(socket);
    return socket;
  }

  /** Registers any cleanup callback (raw peers, child processes...). */
  onCleanup(fn) {
    this.closers.push(fn);
  }

  /**
   * A raw WebSocket peer speaking Engine.IO v4 by hand.
   *
   * @example
   * const peer = await h.rawWs(); // handshake done, `peer.sid` set
   * peer.send("40"); await peer.next(); // '40{"sid":...}'
   */
  async rawWs(path = "/socket.io/", query = "EIO=4&transport=websocket") {
    const ws = new WebSocket(`ws://localhost:${this.port}${path}?${query}`);
    this.onCleanup(() => ws.terminate());
    const peer = new RawPeer(ws);
    const open = await peer.next();
    expect(open[0]).to.be("0");
    peer.handshake = JSON.parse(open.slice(1));
    peer.sid = peer.handshake.sid;
    return peer;
  }

  /**
   * A raw HTTP long-polling peer speaking Engine.IO v4 by hand.
   *
   * @example
   * const peer = await h.rawPolling("/socket.io/", "foo=bar");
   * await peer.post("40"); const body = await peer.get();
   */
  async rawPolling(path = "/socket.io/", extraQuery = "") {
    const peer = new RawPollingPeer(this.port, path, extraQuery);
    this.onCleanup(() => peer.destroy());
    await peer.open();
    return peer;
  }

  async cleanup() {
    for (const socket of this.clients.splice(0)) {
      try {
        if (typeof socket.disconnect === "function") socket.disconnect();
        const engine = socket.io && socket.io.engine;
        if (engine) engine.close();
      } catch (e) {
        // the socket may already be half-closed by the test itself
      }
    }
    for (const fn of this.closers.splice(0)) {
      try {
        fn();
      } catch (e) {
        // idem
      }
    }
    for (const io of this.servers.splice(0)) {
      await withDeadline(
        new Promise((resolve) => {
          try {
            const ret = io.close(() => resolve());
            if (ret && typeof ret.catch === "function") ret.catch(() => resolve());
          } catch (e) {
            resolve();
          }
        }),
      );
    }
    for (const httpServer of this.httpServers.splice(0)) {
      await closeHttp(httpServer);
    }
  }
}

/** Creates a Harness whose peers are closed after each test of the enclosing describe. */
function useHarness(defaults = {}) {
  const h = new Harness(defaults);
  afterEach(() => h.cleanup());
  return h;
}

class RawPeer {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.closed = false;
    this.closeInfo = undefined;
    this.closePromise = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closed = true;
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        for (const w of this.waiters.splice(0)) w.reject(new Error("closed"));
      });
    });
    ws.on("error", () => {
      // surfaced through "close"
    });
    ws.on("message", (data, isBinary) => {
      const msg = isBinary ? data : data.toString();
      // answer heartbeats so that only the behaviour under test closes the peer
      if (!isBinary && msg === "2" && this.autoPong !== false) {
        ws.send("3");
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(msg);
      else this.queue.push(msg);
    });
  }

  /** Next message (string for text frames, Buffer for binary frames). */
  next(ms = 3000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.reject(new Error("closed"));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error("no message"));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  send(data) {
    this.ws.send(data);
  }

  /** Resolves with { code, reason } once the server closed the connection. */
  closedWithin(ms = 3000) {
    return Promise.race([
      this.closePromise,
      sleep(ms).then(() => {
        throw new Error("peer still open");
      }),
    ]);
  }
}

class RawPollingPeer {
  constructor(port, path, extraQuery) {
    this.port = port;
    this.path = path;
    this.extraQuery = extraQuery ? `&${extraQuery}` : "";
    this.sid = undefined;
  }

  async open() {
    const res = await request(this.port, {
      path: `${this.path}?EIO=4&transport=polling${this.extraQuery}`,
    });
    expect(res.status).to.be(200);
    const text = res.body.toString();
    expect(text[0]).to.be("0");
    this.handshake = JSON.parse(text.slice(1));
    this.sid = this.handshake.sid;
  }

  query() {
    return `${this.path}?EIO=4&transport=polling&sid=${this.sid}${this.extraQuery}`;
  }

  /** POSTs an Engine.IO payload; resolves the HTTP response. */
  post(body) {
    return request(this.port, {
      method: "POST",
      path: this.query(),
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body,
    });
  }

  /** GETs the next payload; resolves the HTTP response. */
  get(headers = {}) {
    return request(this.port, { path: this.query(), headers });
  }

  destroy() {
    // plain HTTP requests end by themselves; nothing is held open
  }
}

module.exports = {
  sio,
  Server,
  REFERENCE: impl.REFERENCE,
  TRANSPORTS,
  forEachTransport,
  sleep,
  waitFor,
  until,
  disconnectReason,
  expectNoEvent,
  connected,
  connectError,
  upgraded,
  useHarness,
  Harness,
  request,
};
