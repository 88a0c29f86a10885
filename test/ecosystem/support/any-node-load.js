"use strict";

// The load of test/ecosystem/any-node.test.js: official socket.io-client 4.8 clients
// (polling-only and default transports) in rooms, acknowledged emits from every client,
// and sequence-numbered broadcasts to the rooms and to all from the deployment's
// broadcaster; and what each client saw, with the time of each event, for the figures.
const { io: ioc } = require("socket.io-client");
const { waitFor } = require("./peers");
const { RECONNECTED, newSequenceCounts, countSequences } = require("./sequences");

const KINDS = {
  polling: { transports: ["polling"] },
  default: {}, // HTTP long-polling first, then the upgrade to WebSocket
};

// The answer of a request the engine.io-client made (its XMLHttpRequest is the error's
// context): "Session ID unknown" is the 400 with code 1.
function isSessionUnknown(err) {
  const text = err && err.context && err.context.responseText;
  return err.description === 400 && typeof text === "string" && /"code":1\b/.test(text);
}

/** One client and its record; `room` goes with every request (the query). */
function startClient(url, kind, room, index) {
  const client = ioc(url, { forceNew: true, query: { room }, ...KINDS[kind] });
  const rec = {
    index,
    kind,
    room,
    client,
    seqs: { room: [], all: [] },
    sids: [],
    connects: [], // { at, recovered, sid }
    disconnects: [], // { at, reason, description }
    reconnects: [], // { at, attempt }: the attempt that connected again
    sessionUnknown: [], // times of a 400 code 1 met by a request of the client
    errors: [], // { at, message, description }: every engine error
    connectErrors: [], // { at, message }
    acks: [], // { at, n, answeredAt, node, wrong, timedOut }
  };
  client.on("room", (seq) => rec.seqs.room.push(seq));
  client.on("all", (seq) => rec.seqs.all.push(seq));
  client.on("connect", () => {
    rec.connects.push({ at: Date.now(), recovered: client.recovered, sid: client.io.engine.id });
    rec.seqs.room.push(RECONNECTED);
    rec.seqs.all.push(RECONNECTED);
  });
  client.on("disconnect", (reason, details) =>
    rec.disconnects.push({ at: Date.now(), reason, description: details && details.description }),
  );
  client.on("connect_error", (err) => rec.connectErrors.push({ at: Date.now(), message: err.message }));
  client.io.on("open", () => rec.sids.push(client.io.engine.id));
  client.io.on("reconnect", (attempt) => rec.reconnects.push({ at: Date.now(), attempt }));
  client.io.on("error", (err) => {
    const at = Date.now();
    rec.errors.push({ at, message: err.message, description: err.description });
    if (isSessionUnknown(err)) rec.sessionUnknown.push(at);
  });
  return rec;
}

class Load {
  /**
   * @param {object} deployment from startDeployment()
   * @param {object} o `polling` and `default` (clients of each kind), `rooms`, `rate`
   *   (broadcasts a second: one to a room per tick, one to all every `rooms` ticks),
   *   `ackIntervalMs` (each client's acknowledged emits), `ackTimeoutMs` (default 5 s, and
   *   10 ms more per client: the answers come later on a loaded machine)
   * @example
   *   const load = new Load(d, { polling: 20, default: 20, rooms: 6, rate: 50 });
   *   await load.connect(); load.start(); await sleep(5000); await load.stop();
   */
  constructor(deployment, o) {
    this.deployment = deployment;
    this.o = { ackIntervalMs: 1000, ackTimeoutMs: 5000 + 10 * (o.polling + o.default), ...o };
    this.records = [];
    this.sent = { room: {}, all: 0 };
    this.sentAt = new Map(); // "<room or *>:<seq>" => when it was broadcast
    this.tick = 0;
    this.pendingAcks = 0;
    this.timers = [];
  }

  /** Opens the clients, a few at a time; resolves once all are connected. */
  async connect(ms) {
    // the kinds interleaved, so that every room has clients of both
    const kinds = [];
    for (let i = 0; i < Math.max(this.o.polling, this.o.default); i++) {
      if (i < this.o.polling) kinds.push("polling");
      if (i < this.o.default) kinds.push("default");
    }
    const total = kinds.length;
    for (let i = 0; i < total; i++) {
      this.records.push(
        startClient(this.deployment.url, kinds[i], "r" + (Math.floor(i / 2) % this.o.rooms), i),
      );
      // a burst of handshakes is not what this test is about
      if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitFor(
      () => this.records.every((r) => r.client.connected),
      ms || 10000 + total * 30,
      "every client connected",
    );
  }

  /** Starts the broadcasts and the acknowledged emits. */
  start() {
    const { rooms, rate, ackIntervalMs, ackTimeoutMs } = this.o;
    this.timers.push(
      setInterval(() => {
        const room = "r" + (this.tick % rooms);
        this.sent.room[room] = (this.sent.room[room] || 0) + 1;
        this.broadcast(room, this.sent.room[room]);
        if (this.tick % rooms === rooms - 1) this.broadcast("*", ++this.sent.all);
        this.tick++;
      }, 1000 / rate),
    );
    for (const rec of this.records) {
      const emit = () => {
        const ack = { at: Date.now(), n: rec.acks.length };
        rec.acks.push(ack);
        this.pendingAcks++;
        rec.client
          .timeout(ackTimeoutMs)
          .emitWithAck("echo", ack.n)
          .then(
            (answer) => {
              ack.answeredAt = Date.now();
              ack.node = answer.node;
              ack.wrong = answer.n !== ack.n;
            },
            () => (ack.timedOut = true),
          )
          .finally(() => this.pendingAcks--);
      };
      // spread over the interval
      const first = setTimeout(() => {
        emit();
        this.timers.push(setInterval(emit, ackIntervalMs));
      }, Math.random() * ackIntervalMs);
      this.timers.push(first);
    }
  }

  /**
   * Stops emitting, then waits for every acknowledgement to be answered or timed out, and
   * (up to `ackTimeoutMs`: a client may never get them) for every connected client to have
   * the last broadcasts.
   */
  async stop() {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    const ms = this.o.ackTimeoutMs;
    await Promise.all([
      waitFor(() => this.pendingAcks === 0, ms + 2000, "the acknowledgements"),
      waitFor(() => this.records.every((r) => this.hasLast(r)), ms, "the last broadcasts").catch(() => {}),
    ]);
  }

  broadcast(room, seq) {
    this.sentAt.set(room + ":" + seq, Date.now());
    this.deployment.broadcast(room, seq);
  }

  /** When each broadcast `rec` never received was sent. */
  missedAt(rec) {
    const times = [];
    const collect = (seqs, room, last) => {
      const got = new Set(seqs);
      for (let seq = 1; seq <= last; seq++) if (!got.has(seq)) times.push(this.sentAt.get(room + ":" + seq));
    };
    collect(rec.seqs.room, rec.room, this.sent.room[rec.room] || 0);
    collect(rec.seqs.all, "*", this.sent.all);
    return times;
  }

  /** Whether `rec` received a broadcast sent after `at`. */
  receivedAfter(rec, at) {
    const got = (seqs, room) =>
      seqs.some((seq) => seq !== RECONNECTED && this.sentAt.get(room + ":" + seq) > at);
    return got(rec.seqs.room, rec.room) || got(rec.seqs.all, "*");
  }

  hasLast(rec) {
    const last = this.sent.room[rec.room];
    return (
      (!last || rec.seqs.room.includes(last)) && (!this.sent.all || rec.seqs.all.includes(this.sent.all))
    );
  }

  /** Broadcast counts (sequences.js) for `records`. */
  sequences(records = this.records) {
    const counts = newSequenceCounts();
    for (const rec of records) {
      countSequences(rec.seqs.room, this.sent.room[rec.room] || 0, counts);
      countSequences(rec.seqs.all, this.sent.all, counts);
    }
    return counts;
  }

  broadcasts() {
    return Object.values(this.sent.room).reduce((a, b) => a + b, 0) + this.sent.all;
  }

  close() {
    for (const timer of this.timers) clearInterval(timer);
    for (const rec of this.records) rec.client.disconnect();
  }
}

/** What `records` met between `from` and `to` (ms timestamps). */
function eventsBetween(records, from, to = Infinity) {
  const within = (at) => at >= from && at < to;
  const sum = (f) => records.reduce((n, r) => n + f(r), 0);
  return {
    sessionUnknown: sum((r) => r.sessionUnknown.filter(within).length),
    connectErrors: sum((r) => r.connectErrors.filter((e) => within(e.at)).length),
    disconnects: sum((r) => r.disconnects.filter((e) => within(e.at)).length),
    acks: sum((r) => r.acks.filter((a) => within(a.at)).length),
    unansweredAcks: sum((r) => r.acks.filter((a) => within(a.at) && a.timedOut).length),
    wrongAcks: sum((r) => r.acks.filter((a) => within(a.at) && a.wrong).length),
  };
}

module.exports = { Load, eventsBetween, isSessionUnknown, KINDS };
