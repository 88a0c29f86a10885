"use strict";

// The Socket.IO layer alone: what the server API, the adapter and the codec cost per
// packet, per broadcast delivery and per connection, with the Engine.IO layer, `ws` and the
// kernel taken out. Each session is a stand-in for the engine's socket (an EventEmitter
// with the members the Socket.IO layer reads: id, protocol, request, remoteAddress,
// readyState, transport.writable, write(), close()), fed with the same Socket.IO packets a
// socket.io-client sends, over the same `Client` API in ours and in the reference. The
// real benches (emit.js, broadcast.js, connect.js) measure the whole stack; this one tells
// which part of a difference belongs to this layer.
//
//   node bench/layer.js [--targets=ours,reference] [--scenarios=echo,broadcast,connect]
//                       [--messages=200000] [--clients=1000] [--broadcasts=200]
//                       [--sessions=20000] [--runs=5] [--repeat=1] [--baseline=DIR] [--json]
//
// - echo: one session sends `--messages` "echo" events with an ack id, 50 per event-loop
//   turn; the server acks each with its payload (`socket.on("echo", (p, ack) => ack(p))`).
// - broadcast: `--clients` sessions; `io.emit("m", payload)` `--broadcasts` times.
// - connect: `--sessions` sessions open (CONNECT to "/", the "connection" event, the
//   CONNECT reply written), 200 at a time; then they close ("transport close").
// CPU is the process's user + system time over the measured round; each scenario runs
// `--runs` rounds after a warm-up round and the median is shown; with `--repeat`, the
// targets take turns that many times (a fresh process each) and the median of those shows.

const path = require("path");
const { fork } = require("child_process");
const { EventEmitter } = require("events");
const args = require("./lib/args");

const ROOT = path.join(__dirname, "..");
const TARGETS = {
  ours: { dir: path.join(ROOT, "dist"), label: "socket.io (ours)" },
  reference: {
    dir: path.dirname(require.resolve("socket.io-reference")),
    label: "socket.io 4.8 (reference)",
  },
};

// --baseline=DIR adds our server built elsewhere (e.g. /work/main/dist), for before/after
const baseline = args.str("baseline");
if (baseline) TARGETS.baseline = { dir: path.resolve(baseline), label: "socket.io (baseline)" };

const settings = {
  messages: args.int("messages", 200000),
  clients: args.int("clients", 1000),
  broadcasts: args.int("broadcasts", 200),
  sessions: args.int("sessions", 20000),
  runs: args.int("runs", 5),
};
const PAYLOAD = "x".repeat(64);

class StandInConn extends EventEmitter {
  constructor(id) {
    super();
    this.id = id;
    this.readyState = "open";
    this.protocol = 4;
    this.remoteAddress = "127.0.0.1";
    this.request = {
      headers: { host: "localhost:3000", connection: "Upgrade", upgrade: "websocket" },
      url: "/socket.io/?EIO=4&transport=websocket",
      _query: { EIO: "4", transport: "websocket" },
      connection: { encrypted: false },
    };
    this.transport = { name: "websocket", writable: true };
    this.server = { droppedPacketsCount: 0 };
    this.written = 0;
  }
  write() {
    this.written++;
  }
  close() {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.emit("close", "forced close");
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

function cpu(start) {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000; // ms
}

async function child(name) {
  const { dir } = TARGETS[name];
  const { Server } = require(dir);
  const { Client } = require(path.join(dir, "client.js"));
  let nextId = 0;

  async function open(io, n) {
    const conns = [];
    for (let done = 0; done < n;) {
      const batch = Math.min(200, n - done);
      const connected = new Promise((resolve) => {
        let count = 0;
        const onConnection = () => {
          if (++count === batch) {
            io.off("connection", onConnection);
            resolve();
          }
        };
        io.on("connection", onConnection);
      });
      for (let i = 0; i < batch; i++) {
        const conn = new StandInConn("c" + nextId++);
        new Client(io, conn);
        conn.emit("data", "0");
        conns.push(conn);
      }
      await connected;
      done += batch;
    }
    return conns;
  }

  function closeAll(conns) {
    for (const conn of conns) {
      conn.readyState = "closed";
      conn.emit("close", "transport close");
    }
  }

  const scenarios = {
    async echo() {
      const io = new Server();
      io.on("connection", (socket) => socket.on("echo", (payload, ack) => ack(payload)));
      const [conn] = await open(io, 1);
      const packets = [];
      for (let i = 0; i < 50; i++) packets.push(`2${i}["echo",${JSON.stringify(PAYLOAD)}]`);
      return async () => {
        const written = conn.written;
        const start = process.cpuUsage();
        for (let sent = 0; sent < settings.messages; sent += 50) {
          for (let i = 0; i < 50; i++) conn.emit("data", packets[i]);
          await turn();
        }
        await turn();
        const ms = cpu(start);
        if (conn.written - written !== settings.messages) throw new Error("acks missing");
        return { value: (ms * 1e6) / settings.messages, unit: "ns/message" };
      };
    },
    async broadcast() {
      const io = new Server();
      const conns = await open(io, settings.clients);
      return async () => {
        const before = conns.reduce((sum, c) => sum + c.written, 0);
        const start = process.cpuUsage();
        for (let i = 0; i < settings.broadcasts; i++) io.emit("m", PAYLOAD);
        const ms = cpu(start);
        const deliveries = conns.reduce((sum, c) => sum + c.written, 0) - before;
        if (deliveries !== settings.clients * settings.broadcasts) throw new Error("deliveries missing");
        return { value: (ms * 1e6) / deliveries, unit: "ns/delivery" };
      };
    },
    async connect() {
      const io = new Server();
      return async () => {
        const start = process.cpuUsage();
        const conns = await open(io, settings.sessions);
        const ms = cpu(start);
        const startClose = process.cpuUsage();
        closeAll(conns);
        await turn();
        const closeMs = cpu(startClose);
        if (io.of("/").sockets.size !== 0) throw new Error("sockets left");
        return {
          value: (ms * 1e3) / settings.sessions,
          unit: "us/session",
          extra: { closeUs: (closeMs * 1e3) / settings.sessions },
        };
      };
    },
  };

  const results = {};
  for (const scenario of args.list("scenarios", Object.keys(scenarios))) {
    const round = await scenarios[scenario]();
    await round(); // warm-up
    const runs = [];
    for (let r = 0; r < settings.runs; r++) runs.push(await round());
    runs.sort((a, b) => a.value - b.value);
    results[scenario] = runs[Math.floor(runs.length / 2)];
  }
  if (process.send) process.send(results);
  else console.log(results);
  process.exit(0);
}

async function main() {
  const names = args.list("targets", Object.keys(TARGETS));
  if (baseline && !names.includes("baseline")) names.unshift("baseline");
  const repeat = args.int("repeat", 1);
  const results = new Map(names.map((name) => [name, []]));
  // the targets take turns, so that the machine's other load falls on each alike
  for (let r = 0; r < repeat; r++) {
    for (const name of names) {
      const proc = fork(__filename, process.argv.slice(2).concat(`--child=${name}`), {
        execArgv: ["--max-old-space-size=2048"],
      });
      const result = await new Promise((resolve, reject) => {
        proc.on("message", resolve);
        proc.on("exit", (code) => code && reject(new Error(`${name} exited with ${code}`)));
      });
      results.get(name).push(result);
    }
  }
  const rows = names.map((name) => {
    const row = { name, label: TARGETS[name].label };
    for (const scenario of Object.keys(results.get(name)[0])) {
      const values = results.get(name).map((result) => result[scenario]);
      values.sort((a, b) => a.value - b.value);
      row[scenario] = values[Math.floor(values.length / 2)];
    }
    return row;
  });
  const scenarios = Object.keys(rows[0]).filter((k) => !["name", "label"].includes(k));
  console.log(
    `\nSocket.IO layer alone (stand-in engine sockets): echo ${settings.messages} acks, broadcast ${settings.clients} clients x ${settings.broadcasts}, connect ${settings.sessions} sessions; median of ${settings.runs} runs${args.int("repeat", 1) > 1 ? ` x ${args.int("repeat", 1)}` : ""}`,
  );
  const header = ["server".padEnd(26)];
  for (const s of scenarios) {
    header.push(`${s} ${rows[0][s].unit}`.padStart(24));
    if (s === "connect") header.push("close us/session".padStart(18));
  }
  console.log(header.join("  "));
  for (const row of rows) {
    const cells = [row.label.padEnd(26)];
    for (const s of scenarios) {
      cells.push(row[s].value.toFixed(s === "connect" ? 2 : 0).padStart(24));
      if (s === "connect") cells.push(row[s].extra.closeUs.toFixed(2).padStart(18));
    }
    console.log(cells.join("  "));
  }
  if (args.flag("json")) console.log(JSON.stringify(rows));
}

const childName = args.str("child");
if (childName) {
  child(childName).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
