"use strict";

// A client that speaks Engine.IO v4 and Socket.IO v5 by hand (raw HTTP long-polling and a
// raw `ws` WebSocket) and tallies, from the server's side, every packet and byte it
// exchanged: what the server must have counted. The probe of an upgrade ("2probe",
// "3probe", "5") is not the session's traffic and is left out, as is a polling close
// packet ("1", which ends the session rather than reaching it); every other packet counts,
// pings and pongs included. Only text packets are spoken.
const http = require("http");
const WebSocket = require("ws");

const SEPARATOR = "\x1e";

/** What the server must have counted, summed over every client sharing it. */
function newTally() {
  return {
    packetsReceived: 0,
    packetsSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
    eventsReceived: {}, // by namespace: events the clients sent
    eventsSent: {}, // by namespace: events the clients got
    refused: [], // HTTP statuses other than 200 met by a client's own requests
  };
}

/** The packet of an event on `nsp` with `args` (its name first). */
const eventPacket = (nsp, args) => "42" + (nsp === "/" ? "" : nsp + ",") + JSON.stringify(args);

const add = (counts, nsp) => (counts[nsp] = (counts[nsp] || 0) + 1);

/** The namespace of a Socket.IO packet ("4" stripped), and whether it is an event. */
function socketIoPacket(text) {
  const type = text[0];
  let nsp = "/";
  if (text[1] === "/") {
    const comma = text.indexOf(",");
    nsp = text.slice(1, comma === -1 ? undefined : comma);
  }
  return { type, nsp };
}

/**
 * One HTTP request to the server; resolves { status, body } (body a Buffer).
 * @example const { status } = await request(port, "GET", "/socket.io/?EIO=4&transport=pigeon");
 */
function request(port, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent: false,
        headers: { "content-type": "text/plain", ...headers },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

class TallyClient {
  /**
   * @param {number} port the server's port on 127.0.0.1
   * @param {object} tally the shared tally (newTally())
   * @param {object} [options] `transport` ("polling" or "websocket"), `autoPong` (default
   *   true), `poll` (polling: keep a GET pending, default true)
   */
  constructor(port, tally, { transport = "websocket", autoPong = true, poll = true } = {}) {
    this.port = port;
    this.tally = tally;
    this.transport = transport;
    this.autoPong = autoPong;
    this.poll = poll;
    this.sid = undefined;
    this.ws = undefined;
    this.received = []; // every packet received, in order
    this.waiters = [];
    this.pollLoop = null;
    this.closedByServer = false;
    this.closing = false;
    this.posting = Promise.resolve();
  }

  url(transport) {
    return `/socket.io/?EIO=4&transport=${transport}${this.sid ? "&sid=" + this.sid : ""}`;
  }

  /** Opens the session; resolves the open packet's contents. */
  async open() {
    if (this.transport === "websocket") {
      await this.openWebSocket();
      await this.next((p) => p[0] === "0");
    } else {
      await this.get();
      if (this.poll) this.pollLoop = this.runPollLoop();
    }
    return this.handshake;
  }

  /** Opens a WebSocket: the session's, or with `probe` one that becomes it on upgrade(). */
  openWebSocket({ probe = false } = {}) {
    const ws = new WebSocket(`ws://127.0.0.1:${this.port}${this.url("websocket")}`);
    // the open packet may come with the 101 response, before "open" is handled
    if (!probe) this.ws = ws;
    ws.on("message", (data) => this.onWsMessage(ws, data));
    ws.on("close", () => {
      if (!this.closing && ws === this.ws) this.closedByServer = true;
    });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    });
  }

  onWsMessage(ws, data) {
    const text = data.toString();
    if (ws !== this.ws) return; // the probe's WebSocket, before the upgrade (see upgrade())
    this.tally.packetsSent++;
    this.tally.bytesSent += data.length;
    this.onPacket(text);
  }

  /** A long-poll GET: its payload's packets are handled, and tallied. */
  async get() {
    const res = await request(this.port, "GET", this.url("polling"));
    if (res.status !== 200) {
      this.tally.refused.push(res.status);
      this.closedByServer = true;
      return;
    }
    const body = res.body.toString("utf8");
    const packets = body.split(SEPARATOR);
    this.tally.packetsSent += packets.length;
    this.tally.bytesSent += res.body.length;
    for (const packet of packets) this.onPacket(packet);
  }

  async runPollLoop() {
    while (this.poll && !this.closedByServer) await this.get();
  }

  onPacket(text) {
    if (text[0] === "0") {
      this.handshake = JSON.parse(text.slice(1));
      this.sid = this.handshake.sid;
    } else if (text === "2" && this.autoPong && !this.closing) {
      this.send("3");
    } else if (text[0] === "4") {
      const { type, nsp } = socketIoPacket(text.slice(1));
      if (type === "2") add(this.tally.eventsSent, nsp);
    }
    this.received.push(text);
    for (const waiter of this.waiters.slice()) waiter();
  }

  /**
   * Resolves the first packet received (from the start) that satisfies `predicate` and
   * was not taken by an earlier call; rejects after `ms`.
   */
  next(predicate, ms = 5000) {
    this.taken = this.taken || new Set();
    return new Promise((resolve, reject) => {
      const find = () => {
        for (let i = 0; i < this.received.length; i++) {
          if (!this.taken.has(i) && predicate(this.received[i])) {
            this.taken.add(i);
            this.waiters = this.waiters.filter((w) => w !== find);
            clearTimeout(timer);
            resolve(this.received[i]);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== find);
        reject(
          new Error(
            `no packet as expected (${this.transport} client ${this.sid}); received: ${JSON.stringify(this.received)}`,
          ),
        );
      }, ms);
      this.waiters.push(find);
      find();
    });
  }

  /** Tallies one packet the server will receive, its Socket.IO event included. */
  count(packet) {
    if (packet === "1") return;
    this.tally.packetsReceived++;
    if (packet[0] === "4") {
      const { type, nsp } = socketIoPacket(packet.slice(1));
      if (type === "2") add(this.tally.eventsReceived, nsp);
    }
  }

  /** Sends packets: a WebSocket message each, or one POST carrying them all. */
  async send(...packets) {
    if (this.ws) {
      for (const packet of packets) {
        if (this.ws.readyState !== WebSocket.OPEN) return;
        this.count(packet);
        this.tally.bytesReceived += Buffer.byteLength(packet);
        this.ws.send(packet);
      }
      return;
    }
    // one POST at a time, as a client sends them: a second one would overlap the first
    const post = this.posting.then(() => this.post(packets));
    this.posting = post;
    return post;
  }

  async post(packets) {
    const body = packets.join(SEPARATOR);
    const res = await request(this.port, "POST", this.url("polling"), body);
    if (res.status !== 200) {
      this.tally.refused.push(res.status);
      return;
    }
    for (const packet of packets) this.count(packet);
    this.tally.bytesReceived += Buffer.byteLength(body);
  }

  /** Joins `nsp` ("/" or "/chat"), with `auth`; resolves the server's CONNECT packet data. */
  async connect(nsp = "/", auth) {
    const prefix = nsp === "/" ? "" : nsp + ",";
    await this.send("40" + prefix + (auth ? JSON.stringify(auth) : ""));
    const reply = await this.next((p) => p.startsWith("40" + prefix));
    return JSON.parse(reply.slice(2 + prefix.length));
  }

  /** Emits an event on `nsp`. */
  emit(nsp, ...args) {
    return this.send(eventPacket(nsp, args));
  }

  /** Resolves the next event named `name` received (its arguments). */
  async event(name, ms) {
    const packet = await this.next(
      (p) => /^42(\/[^,]*,)?\d*\[/.test(p) && JSON.parse(p.slice(p.indexOf("[")))[0] === name,
      ms,
    );
    return JSON.parse(packet.slice(packet.indexOf("[")));
  }

  /**
   * Upgrades a polling session to WebSocket as engine.io-client does: the probe, then the
   * pending GET released (by the server's noop) and no other, then the upgrade packet.
   */
  async upgrade() {
    const probe = await this.openWebSocket({ probe: true });
    const answered = new Promise((resolve) => probe.once("message", resolve));
    probe.send("2probe");
    if ((await answered).toString() !== "3probe") throw new Error("no 3probe");
    this.poll = false;
    await this.pollLoop;
    this.ws = probe;
    probe.send("5");
  }

  /** Leaves as a client does: a close frame, or the close packet over polling. */
  async close() {
    this.closing = true;
    if (this.ws) {
      if (this.ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((resolve) => this.ws.once("close", resolve));
      this.ws.close();
      await closed;
      return;
    }
    this.poll = false;
    if (!this.closedByServer) await this.send("1");
    await this.pollLoop;
  }
}

module.exports = { TallyClient, newTally, eventPacket, request };
