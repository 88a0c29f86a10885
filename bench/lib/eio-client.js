"use strict";

// Cheap clients for the benches that open many sessions or many requests: the Engine.IO v4
// and Socket.IO v5 wire spoken by hand over minimal WebSockets (wire.js) and keep-alive HTTP requests,
// the way socket.io-client speaks it (handshake, CONNECT to "/", pong to each ping, probe
// and upgrade), without its per-session machinery: socket.io-client would make the client
// process, not the server, the bottleneck of a connection-rate or 100k-session bench.
//
// Kinds of session, after the target's kind (targets.js):
//   sio     Socket.IO on /socket.io/ (connected once the server acknowledges CONNECT)
//   engine  Engine.IO on /engine.io/ (connected on the open packet)
//   ws      a raw WebSocket on / (connected on open; the server's pings are ponged)
//
// `onEvent(frame)` gets each message the application sent: the event packet text for sio
// (`2["m",…]`), the message text for engine and ws. `onClose(reason)` is called once.

const http = require("http");
const { Wire } = require("./wire");
const { now } = require("./timing");

const SEPARATOR = "\x1e";
const PATHS = { sio: "/socket.io/", engine: "/engine.io/", ws: "/" };

class Session {
  constructor({ kind, port, localAddress, localPort, onEvent, onClose }) {
    this.kind = kind;
    this.port = port;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.sid = null;
    this.ws = null;
    this.probe = null;
    this.upgrading = null;
    this.polling = null;
    this.closed = false;
    this.acks = null;
    this.nextAck = 0;
    // acks that arrived for no pending emit, i.e. duplicates
    this.strayAcks = 0;
    this.connected = null;
  }

  url(query) {
    return `${PATHS[this.kind]}${this.kind === "ws" ? "" : `?EIO=4&${query}`}`;
  }

  /** Opens the session over WebSocket only; resolves once connected. */
  openWebSocket() {
    return new Promise((resolve, reject) => {
      this.connected = { resolve, reject };
      const { port, localAddress, localPort } = this;
      this.ws = new Wire({ port, path: this.url("transport=websocket"), localAddress, localPort }, this);
    });
  }

  /** Opens the session over HTTP long-polling; resolves once connected. */
  openPolling() {
    return new Promise((resolve, reject) => {
      this.connected = { resolve, reject };
      this.polling = new Polling(this);
      this.polling.handshake().catch((err) => this.fail(err));
    });
  }

  /**
   * Upgrades a polling session to WebSocket as socket.io-client does: probe, pause polling
   * (the pending GET is answered by the server's noop), send the upgrade packet, then send
   * what was queued meanwhile over the WebSocket. Resolves with the milliseconds it took.
   */
  upgrade() {
    return new Promise((resolve, reject) => {
      this.upgrading = { start: now(), resolve, reject };
      this.probe = new Wire(
        {
          port: this.port,
          path: this.url(`transport=websocket&sid=${this.sid}`),
          localAddress: this.localAddress,
        },
        this,
      );
    });
  }

  async onProbeAnswer(wire, text) {
    if (text !== "3probe") return this.upgrading.reject(new Error(`unexpected probe answer ${text}`));
    await this.polling.pause();
    wire.send("5");
    this.probe = null;
    this.ws = wire;
    for (const packet of this.polling.queue) wire.send(packet);
    this.polling.stop();
    this.polling = null;
    this.upgrading.resolve(now() - this.upgrading.start);
  }

  onWireOpen(wire) {
    if (wire === this.probe) wire.send("2probe");
    else if (this.kind === "ws") this.settle();
  }

  onWireText(wire, text) {
    if (wire === this.probe) this.onProbeAnswer(wire, text);
    else this.receive(text);
  }

  onWireClose(wire, reason) {
    if (wire === this.probe)
      this.upgrading.reject(new Error(`websocket closed during the upgrade: ${reason}`));
    else this.close(reason);
  }

  write(packet) {
    if (this.polling) this.polling.write(packet);
    else if (this.ws) this.ws.send(packet);
  }

  /** Emits `event` with an ack (sio only); resolves with the ack's arguments as text. */
  emitWithAck(event, payload) {
    const id = this.nextAck++;
    if (this.acks === null) this.acks = new Map();
    return new Promise((resolve) => {
      this.acks.set(id, resolve);
      this.write(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  /**
   * One echo round trip: an emit with an ack (sio), or a message the server sends back
   * (engine, ws: answered in order, see `message`).
   */
  echo(payload) {
    if (this.kind === "sio") return this.emitWithAck("echo", payload);
    return new Promise((resolve) => {
      if (this.echoes === undefined) this.echoes = [];
      this.echoes.push(resolve);
      this.write(this.kind === "engine" ? `4${payload}` : payload);
    });
  }

  /** A message of an engine or raw ws session: the answer to the oldest echo, or an event. */
  message(text) {
    if (this.echoes !== undefined && this.echoes.length > 0) return this.echoes.shift()(text);
    return this.onEvent(text);
  }

  /** One Engine.IO packet from the server (or one message of a raw ws session). */
  receive(packet) {
    if (this.kind === "ws") return this.message(packet);
    switch (packet[0]) {
      case "0":
        this.sid = JSON.parse(packet.slice(1)).sid;
        if (this.kind === "sio") this.write("40");
        else this.settle();
        return;
      case "2":
        return this.write("3");
      case "4":
        if (this.kind === "engine") return this.message(packet.slice(1));
        return this.receiveSocketIO(packet);
      case "1":
        return this.close("transport close");
      default:
      // noop (6) and anything else carry nothing for the session
    }
  }

  receiveSocketIO(packet) {
    switch (packet[1]) {
      case "2":
        return this.onEvent(packet.slice(1));
      case "3": {
        const bracket = packet.indexOf("[");
        const id = Number(packet.slice(2, bracket));
        const resolve = this.acks && this.acks.get(id);
        if (!resolve) return this.strayAcks++;
        this.acks.delete(id);
        return resolve(packet.slice(bracket));
      }
      case "0":
        return this.settle();
      case "4":
        return this.fail(new Error(`connect_error ${packet.slice(2)}`));
      case "1":
        return this.close("io server disconnect");
      default:
    }
  }

  settle() {
    if (this.connected) this.connected.resolve(this);
    this.connected = null;
  }

  fail(err) {
    if (this.connected) this.connected.reject(err);
    this.close(`error: ${err.message}`);
  }

  close(reason) {
    if (this.closed) return;
    this.closed = true;
    if (this.connected) {
      // it never opened: whoever waits for it gets the error, and there is no close to report
      this.connected.reject(new Error(reason));
      this.connected = null;
      this.onClose = null;
    }
    if (this.polling) this.polling.stop();
    if (this.ws) this.ws.close(reason);
    if (this.probe) this.probe.close(reason);
    if (this.onClose) this.onClose(reason);
  }

  /** Closes the session on purpose (onClose is not called). */
  destroy() {
    this.onClose = null;
    this.close("client close");
  }
}

/** HTTP long-polling for one session: one GET pending, one POST at a time, keep-alive. */
class Polling {
  constructor(session) {
    this.session = session;
    // one socket for the pending GET, one for the POSTs, like a browser's pool
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.queue = [];
    this.posting = false;
    this.getting = false;
    this.pausing = null;
    this.stopped = false;
  }

  request(method, body) {
    const path = this.session.url(`transport=polling${this.session.sid ? `&sid=${this.session.sid}` : ""}`);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port: this.session.port, path, method, agent: this.agent },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => (text += chunk));
          res.on("end", () =>
            res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ${res.statusCode} ${text}`)),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      if (body !== undefined) req.setHeader("content-type", "text/plain;charset=UTF-8");
      req.end(body);
    });
  }

  async handshake() {
    this.receive(await this.request("GET"));
    this.poll();
  }

  receive(payload) {
    for (const packet of payload.split(SEPARATOR)) this.session.receive(packet);
  }

  poll() {
    if (this.stopped || this.pausing) return;
    this.getting = true;
    this.request("GET").then(
      (payload) => {
        this.getting = false;
        if (this.stopped) return;
        this.receive(payload);
        if (this.pausing) this.checkPaused();
        else this.poll();
      },
      (err) => this.stopped || this.session.fail(err),
    );
  }

  write(packet) {
    this.queue.push(packet);
    if (!this.pausing) this.flush();
  }

  flush() {
    if (this.posting || this.stopped || this.queue.length === 0) return;
    const body = this.queue.join(SEPARATOR);
    this.queue = [];
    this.posting = true;
    this.request("POST", body).then(
      () => {
        this.posting = false;
        if (this.pausing) this.checkPaused();
        else this.flush();
      },
      (err) => this.stopped || this.session.fail(err),
    );
  }

  /** Resolves once neither a GET nor a POST is in flight; later writes stay queued. */
  pause() {
    return new Promise((resolve) => {
      this.pausing = resolve;
      this.checkPaused();
    });
  }

  checkPaused() {
    if (!this.getting && !this.posting && this.pausing) this.pausing();
  }

  stop() {
    this.stopped = true;
    this.agent.destroy();
  }
}

module.exports = { Session };
