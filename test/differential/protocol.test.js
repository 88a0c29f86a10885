"use strict";

// The protocol as a client and an application see it, ours against the reference (socket.io
// 4.8 / engine.io 6.6) in one process: the frames on the wire (a raw `ws` client and raw HTTP
// polling requests, each frame timed from the action that caused it), the handshake objects,
// the listeners each public object carries, and the events each one emits, in order, with
// their reasons. Heartbeat timing belongs to heartbeat.test.js: the heartbeat scenarios here
// compare frames and events, not when the pings leave.
const http = require("http");
const expect = require("expect.js");
const { same, differential, listenerSurface, expectWithin } = require("./harness");
const { Wire, normalize } = require("./wire");
const { listen, closeHttp } = require("../support/servers");
const { waitFor, until } = require("../support/wait");

// How far apart two servers may answer the same action (ms): the machine is shared and loaded.
const TOLERANCE = 30;

// The frames of a log by channel, each with its delay since the latest action before it (the
// clock restarts at each action, so that a slow client or scenario step does not add up).
function timeline(log) {
  const frames = {};
  const delays = {};
  let last = 0;
  for (const entry of log) {
    if (entry.dir === ">") {
      last = entry.t;
      continue;
    }
    (frames[entry.ch] = frames[entry.ch] || []).push(entry.frame);
    (delays[entry.ch] = delays[entry.ch] || []).push(entry.t - last);
  }
  return { frames, delays };
}

const printLog = (log) => log.map((e) => `${String(e.t).padStart(5)} ${e.dir} ${e.ch} ${e.frame}`).join("\n");

const isLog = (value) => Array.isArray(value) && value.length > 0 && value.every((e) => e && e.dir && e.ch);

// Observations holding Wire logs (any key): on each channel of each log the frames must be
// the same, and each frame must follow its cause after the same delay, within TOLERANCE
// (unless `timing: false`). The rest must be deeply equal.
function wireCompare({ timing = true } = {}) {
  return (ours, reference) => {
    const logs = Object.keys(reference).filter((key) => isLog(reference[key]));
    const view = (obs) => {
      const out = { ...obs };
      for (const key of logs) out[key] = isLog(obs[key]) ? timeline(obs[key]).frames : obs[key];
      return out;
    };
    try {
      expect(view(ours)).to.eql(view(reference));
      if (!timing) return;
      for (const key of logs) {
        const a = timeline(ours[key]).delays;
        const { frames, delays: b } = timeline(reference[key]);
        for (const ch of Object.keys(b)) {
          b[ch].forEach((delay, i) => {
            const what = `${key}: delay of ${ch} frame #${i} ${JSON.stringify(frames[ch][i])} after its cause`;
            try {
              expectWithin(a[ch][i], delay, TOLERANCE, what);
            } catch (err) {
              err.timing = true;
              throw err;
            }
          });
        }
      }
    } catch (err) {
      for (const key of logs) {
        err.message += `\n--- ${key}, ours:\n${printLog(ours[key] || [])}\n--- ${key}, reference:\n${printLog(reference[key])}`;
      }
      throw err;
    }
  };
}

const compare = wireCompare();

// Declares a test comparing observations that hold Wire logs. A mismatch of timing alone runs
// the scenario again (three runs at most): on a loaded machine one run can be late by more
// than TOLERANCE, a real difference is late on every run.
function sameWire(title, scenario, { timing = true } = {}) {
  const comparison = wireCompare({ timing });
  it(title, async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await differential(scenario, { compare: comparison });
        return;
      } catch (err) {
        if (!err.timing || attempt === 3) throw err;
      }
    }
  });
}

// An engine (socket.io/engine or engine.io) attached to an HTTP server on an ephemeral port,
// and raw clients, all closed after `body`.
async function withEngine(impl, opts, body) {
  const httpServer = http.createServer();
  const engine = new (impl.engine().Server)(opts);
  engine.attach(httpServer);
  const port = await listen(httpServer);
  const wires = [];
  const wire = (options) => {
    const w = new Wire(port, { path: "/engine.io/", ...options });
    wires.push(w);
    return w;
  };
  try {
    return await body({ engine, port, wire });
  } finally {
    wires.forEach((w) => w.destroy());
    engine.close();
    await closeHttp(httpServer);
  }
}

// A Socket.IO server on an ephemeral port, and raw clients, all closed after `body`.
async function withIo(impl, opts, body) {
  const httpServer = http.createServer();
  const io = new (impl.sio().Server)(httpServer, opts);
  const port = await listen(httpServer);
  const wires = [];
  const wire = (options) => {
    const w = new Wire(port, options);
    wires.push(w);
    return w;
  };
  try {
    return await body({ io, port, wire });
  } finally {
    wires.forEach((w) => w.destroy());
    io.close();
    await closeHttp(httpServer);
  }
}

// A GET the server holds (nothing to send yet): resolves { poll } (the GET's promise) once
// the transport is writable, i.e. once the server has it.
async function pendingGet(w, conn) {
  const poll = w.get();
  await until(() => conn.transport.writable, "the GET is pending on the server");
  return { poll };
}

// Opens a Socket.IO session on the main namespace (or the CONNECT packet given) over
// `transport`; resolves the server-side socket.
async function connectSio(io, w, transport, connectPacket = "40") {
  const connection = waitFor(io, "connection");
  await w.handshake(transport);
  if (transport === "websocket") {
    w.send(connectPacket);
    await w.frame("ws", (f) => f.startsWith("40"));
  } else {
    await w.post(connectPacket);
    await w.get();
  }
  return connection;
}

// Upgrades the polling session of `w` to WebSocket the way engine.io-client does: a GET left
// pending, the probe, the pending GET released, the upgrade packet.
async function upgrade(w, conn) {
  const { poll } = await pendingGet(w, conn);
  await w.openWebSocket();
  const upgraded = waitFor(conn, "upgrade");
  w.send("2probe");
  await w.frame("ws", "3probe");
  await poll;
  w.send("5");
  await upgraded;
}

describe("differential: protocol", function () {
  this.timeout(10000);

  describe("Engine.IO wire", () => {
    sameWire("polling handshake: status, headers and open packet (the options' values in it)", (impl) =>
      withEngine(impl, { pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 5000 }, async ({ wire }) => {
        const w = wire({ query: { foo: "bar" } });
        await w.handshake("polling");
        return { wire: w.snapshot(), responses: w.responses };
      }),
    );

    sameWire(
      "polling handshake on a polling-only server offers no upgrade; an initialPacket follows the open packet",
      (impl) =>
        withEngine(impl, { transports: ["polling"], initialPacket: "hi" }, async ({ wire }) => {
          const w = wire();
          await w.handshake("polling");
          return { wire: w.snapshot(), responses: w.responses };
        }),
    );

    sameWire("websocket handshake: 101 headers and open packet, no upgrade offered", (impl) =>
      withEngine(impl, {}, async ({ wire }) => {
        const w = wire();
        await w.handshake("websocket");
        return { wire: w.snapshot(), responses: w.responses };
      }),
    );

    sameWire(
      "packets sent while no GET is pending leave together on the next GET; binary as base64, on websocket as binary frames",
      (impl) =>
        withEngine(impl, {}, async ({ engine, wire }) => {
          const received = [];
          const connection = waitFor(engine, "connection");
          const w = wire();
          await w.handshake("polling");
          const conn = await connection;
          conn.on("message", (data) =>
            received.push(Buffer.isBuffer(data) ? `<buffer ${data.toString("hex")}>` : data),
          );
          w.note("send a, b, <01 02 03>");
          conn.send("a");
          conn.send("b");
          conn.send(Buffer.from([1, 2, 3]));
          await w.get();
          await w.post("4x", "4y", "bBAU=");
          await until(() => received.length === 3, "the posted messages arrived");
          const wsConnection = waitFor(engine, "connection");
          const ws = wire();
          await ws.handshake("websocket");
          const wsConn = await wsConnection;
          wsConn.on("message", (data) =>
            received.push(Buffer.isBuffer(data) ? `<buffer ${data.toString("hex")}>` : data),
          );
          ws.note("send c, <04>");
          wsConn.send("c");
          wsConn.send(Buffer.from([4]));
          await ws.frame("ws", "<binary 04>");
          ws.send("4z", Buffer.from([6]));
          await until(() => received.length === 5, "the messages sent over websocket arrived");
          return { wire: w.snapshot(), ws: ws.snapshot(), received };
        }),
    );

    sameWire(
      "upgrade: 3probe answers 2probe, the pending GET is released with a noop, then 5 and the websocket carries the packets",
      (impl) =>
        withEngine(impl, {}, async ({ engine, wire }) => {
          const connection = waitFor(engine, "connection");
          const w = wire();
          await w.handshake("polling");
          const conn = await connection;
          const names = [conn.transport.name];
          conn.on("upgrading", (t) => names.push(`upgrading ${t.name} (current ${conn.transport.name})`));
          conn.on("upgrade", (t) => names.push(`upgrade ${t.name} (current ${conn.transport.name})`));
          await upgrade(w, conn);
          w.note("send after");
          conn.send("after");
          await w.frame("ws", "4after");
          names.push(conn.transport.name);
          return { wire: w.snapshot(), names };
        }),
    );

    sameWire("upgrade: a packet sent right after the probe leaves on the pending GET", (impl) =>
      withEngine(impl, {}, async ({ engine, wire }) => {
        const connection = waitFor(engine, "connection");
        const w = wire();
        await w.handshake("polling");
        const conn = await connection;
        const { poll } = await pendingGet(w, conn);
        await w.openWebSocket();
        w.send("2probe");
        await w.frame("ws", "3probe");
        w.note("send during");
        conn.send("during");
        await poll;
        const upgraded = waitFor(conn, "upgrade");
        w.send("5");
        await upgraded;
        w.note("send after");
        conn.send("after");
        await w.frame("ws", "4after");
        return { wire: w.snapshot() };
      }),
    );

    sameWire(
      "upgrade: a packet sent between the released GET and the upgrade packet leaves on the websocket",
      (impl) =>
        withEngine(impl, {}, async ({ engine, wire }) => {
          const connection = waitFor(engine, "connection");
          const w = wire();
          await w.handshake("polling");
          const conn = await connection;
          const { poll } = await pendingGet(w, conn);
          await w.openWebSocket();
          w.send("2probe");
          await w.frame("ws", "3probe");
          await poll;
          w.note("send during");
          conn.send("during");
          const upgraded = waitFor(conn, "upgrade");
          w.send("5");
          await upgraded;
          await w.frame("ws", "4during");
          return { wire: w.snapshot() };
        }),
      // when the GET is released is the concern of the noop tests above
      { timing: false },
    );

    sameWire("upgrade refused: a websocket without probe that sends a message, an unknown sid", (impl) =>
      withEngine(impl, {}, async ({ engine, wire }) => {
        const connection = waitFor(engine, "connection");
        const w = wire();
        await w.handshake("polling");
        const conn = await connection;
        await w.openWebSocket();
        w.send("4hello");
        await w.wsClosed();
        const names = [conn.transport.name, conn.readyState];
        const stranger = wire();
        stranger.sid = "unknown";
        await stranger.openWebSocket();
        return { wire: w.snapshot(), stranger: stranger.log.map((e) => e.frame), names };
      }),
    );

    sameWire(
      "upgrade timeout: a websocket probed but never upgraded is closed after upgradeTimeout, polling goes on",
      (impl) =>
        withEngine(impl, { upgradeTimeout: 150 }, async ({ engine, wire }) => {
          const connection = waitFor(engine, "connection");
          const w = wire();
          await w.handshake("polling");
          const conn = await connection;
          await w.openWebSocket();
          w.send("2probe");
          await w.frame("ws", "3probe");
          await w.wsClosed();
          const names = [conn.transport.name, conn.readyState];
          w.note("send still");
          conn.send("still");
          await w.get();
          return { wire: w.snapshot(), names };
        }),
    );

    sameWire(
      "upgrade of a closing session: socket.close() between the probe and the upgrade packet",
      (impl) =>
        withEngine(impl, {}, async ({ engine, wire }) => {
          const connection = waitFor(engine, "connection");
          const w = wire();
          await w.handshake("polling");
          const conn = await connection;
          const events = [];
          conn.on("upgrade", (t) => events.push(["upgrade", t.name, conn.readyState]));
          conn.on("close", (reason) => events.push(["close", reason]));
          await w.openWebSocket();
          w.send("2probe");
          await w.frame("ws", "3probe");
          w.note("socket.close()");
          conn.close();
          const states = [conn.readyState];
          const closed = waitFor(conn, "close");
          w.send("5");
          await closed;
          await w.wsClosed();
          states.push(conn.readyState, engine.clientsCount);
          await w.get();
          return { wire: w.snapshot(), events, states };
        }),
    );

    // A client that breaks the protocol: what it reads, and whether and why the session ends.
    const misbehaviours = {
      "a second GET while one is pending": {
        transport: "polling",
        act: async ({ w, conn }) => {
          const { poll } = await pendingGet(w, conn);
          await w.get();
          await poll;
        },
      },
      "a payload over maxHttpBufferSize posted": {
        transport: "polling",
        opts: { maxHttpBufferSize: 100 },
        act: async ({ w }) => {
          await w.post(`4${"x".repeat(200)}`);
        },
      },
      "an undecodable payload posted": {
        transport: "polling",
        act: async ({ w }) => {
          await w.post("x");
        },
      },
      "a message over maxHttpBufferSize on websocket": {
        transport: "websocket",
        opts: { maxHttpBufferSize: 100 },
        act: async ({ w }) => {
          w.send(`4${"x".repeat(200)}`);
          await w.wsClosed();
        },
      },
      "an undecodable frame on websocket": {
        transport: "websocket",
        act: async ({ w, conn }) => {
          const closed = waitFor(conn, "close");
          w.send("x");
          await closed;
          await w.wsClosed();
        },
      },
      "an upgrade packet without a probe": {
        transport: "polling",
        act: async ({ w, conn }) => {
          await w.openWebSocket();
          const upgraded = Promise.race([
            waitFor(conn, "upgrade").then((t) => `upgrade ${t.name}`),
            w.wsClosed(),
          ]);
          w.send("5");
          const first = await upgraded;
          w.note("send after");
          conn.send("after");
          if (conn.transport.name === "websocket") await w.frame("ws", "4after");
          else await w.get();
          return { first };
        },
      },
      "a second websocket while upgrading": {
        transport: "polling",
        act: async ({ w, wire }) => {
          await w.openWebSocket();
          w.send("2probe");
          await w.frame("ws", "3probe");
          const second = wire();
          second.sid = w.sid;
          await second.openWebSocket().catch(() => {});
          await second.wsClosed();
          return { second: second.log.map((e) => e.frame) };
        },
      },
      "a websocket for an upgraded session": {
        transport: "polling",
        // when the upgrade's GET is released is the concern of the noop tests
        timing: false,
        act: async ({ w, conn, wire }) => {
          await upgrade(w, conn);
          const second = wire();
          second.sid = w.sid;
          await second.openWebSocket().catch(() => {});
          await second.wsClosed();
          return { second: second.log.map((e) => e.frame) };
        },
      },
      "a websocket for a session of a polling-only server": {
        transport: "polling",
        opts: { transports: ["polling"] },
        act: async ({ w }) => {
          await w.openWebSocket().catch(() => {});
          await w.wsClosed();
        },
      },
    };
    const describeError = (err) =>
      err instanceof Error
        ? {
            message: err.message,
            type: err.type,
            description: err.description instanceof Error ? err.description.message : typeof err.description,
          }
        : typeof err;
    for (const [how, { transport, opts = {}, act, timing = true }] of Object.entries(misbehaviours)) {
      sameWire(
        `${how === "a message over maxHttpBufferSize on websocket" ? "" : ""}protocol error: ${how}`,
        (impl) =>
          withEngine(impl, opts, async ({ engine, wire }) => {
            const connection = waitFor(engine, "connection");
            const w = wire();
            await w.handshake(transport);
            const conn = await connection;
            const closes = [];
            conn.on("close", (reason, description) => closes.push([reason, describeError(description)]));
            const extra = await act({ w, conn, engine, wire });
            return {
              wire: w.snapshot(),
              closes: closes.slice(),
              state: [conn.readyState, conn.transport.name, engine.clientsCount],
              ...extra,
            };
          }),
        { timing },
      );
    }

    // Every way an Engine.IO session ends, on each transport: what the client reads, the
    // reason the server gives, and what a late GET gets.
    const closes = {
      polling: {
        "socket.close() with a GET pending": async ({ w, conn }) => {
          const { poll } = await pendingGet(w, conn);
          w.note("socket.close()");
          conn.close();
          await poll;
        },
        "socket.close() with no GET pending, a packet buffered": async ({ w, conn }) => {
          w.note("send bye; socket.close()");
          conn.send("bye");
          conn.close();
          // as a client does: polls again until the close packet comes
          await w.get();
          if (w.log[w.log.length - 1].frame !== "1") await w.get();
        },
        "a close packet posted": async ({ w }) => {
          await w.post("1");
        },
        "the pending GET aborted": async ({ w, conn }) => {
          await pendingGet(w, conn);
          w.abortRequests();
        },
        "engine.close() with a GET pending": async ({ w, conn, engine }) => {
          const { poll } = await pendingGet(w, conn);
          w.note("engine.close()");
          engine.close();
          await poll;
        },
      },
      websocket: {
        "socket.close()": async ({ w, conn }) => {
          w.note("socket.close()");
          conn.close();
          await w.wsClosed();
        },
        "socket.close() with a packet buffered": async ({ w, conn }) => {
          w.note("send bye; socket.close()");
          conn.send("bye");
          conn.close();
          await w.wsClosed();
        },
        "a close packet sent (ignored on websocket: a message after it arrives), then a close frame": async ({
          w,
          conn,
        }) => {
          const next = Promise.race([
            waitFor(conn, "message"),
            waitFor(conn, "close").then(() => "<closed>"),
          ]);
          w.send("1", "4after");
          const first = await next;
          w.closeWebSocket({ code: 1000 });
          await w.wsClosed();
          return { first };
        },
        "a close frame": async ({ w }) => {
          w.closeWebSocket({ code: 1000 });
          await w.wsClosed();
        },
        "the connection torn down": async ({ w }) => {
          w.closeWebSocket({ terminate: true });
          await w.wsClosed();
        },
        "engine.close()": async ({ w, engine }) => {
          w.note("engine.close()");
          engine.close();
          await w.wsClosed();
        },
      },
    };
    for (const transport of Object.keys(closes)) {
      for (const [how, act] of Object.entries(closes[transport])) {
        sameWire(`close over ${transport}: ${how}`, (impl) =>
          withEngine(impl, {}, async ({ engine, wire }) => {
            const connection = waitFor(engine, "connection");
            const w = wire();
            await w.handshake(transport);
            const conn = await connection;
            const closed = waitFor(conn, "close");
            const extra = await act({ w, conn, engine });
            const [reason, description] = await closed;
            const after = { readyState: conn.readyState, clientsCount: engine.clientsCount };
            if (transport === "polling") await w.get();
            return {
              wire: w.snapshot(),
              reason,
              description:
                description instanceof Error ? `Error: ${description.message}` : typeof description,
              after,
              ...extra,
            };
          }),
        );
      }
    }
  });

  describe("Socket.IO wire", () => {
    sameWire("connect: to / with auth, to a namespace, CONNECT answers with the socket id", (impl) =>
      withIo(impl, {}, async ({ io, wire }) => {
        const auths = [];
        io.of("/admin").on("connection", (socket) => auths.push(["/admin", socket.handshake.auth]));
        const w = wire();
        const socket = await connectSio(io, w, "websocket", '40{"token":"abc"}');
        auths.push(["/", socket.handshake.auth]);
        w.send("40/admin,");
        await w.frame("ws", (f) => f.startsWith("40/admin,"));
        return { wire: w.snapshot(), auths };
      }),
    );

    sameWire("connect_error: an unknown namespace, a middleware error with data; / still connects", (impl) =>
      withIo(impl, {}, async ({ io, wire }) => {
        io.of("/private").use((socket, next) =>
          next(Object.assign(new Error("not authorized"), { data: { code: 42 } })),
        );
        const w = wire();
        await w.handshake("websocket");
        w.send("40/nope,");
        await w.frame("ws", (f) => f.startsWith("44/nope,"));
        w.send("40/private,");
        await w.frame("ws", (f) => f.startsWith("44/private,"));
        w.send("40");
        await w.frame("ws", (f) => f.startsWith("40"));
        return { wire: w.snapshot() };
      }),
    );

    for (const transport of ["websocket", "polling"]) {
      sameWire(`events, acks and binary both ways over ${transport}`, (impl) =>
        withIo(impl, {}, async ({ io, wire }) => {
          const seen = [];
          const w = wire();
          const socket = await connectSio(io, w, transport);
          socket.on("echo", (...args) => socket.emit("echoed", ...args));
          socket.on("ack me", (arg, cb) => cb("ok", arg));
          socket.on("up", (buf, cb) => {
            seen.push(["up", Buffer.isBuffer(buf) ? buf.toString("hex") : typeof buf]);
            if (cb) cb(Buffer.from([9]));
          });
          const exchange = async (packets, until) => {
            if (transport === "websocket") {
              const from = w.log.length;
              w.send(...packets);
              await w.frame("ws", until, { from });
            } else {
              await w.post(...packets.map((p) => (Buffer.isBuffer(p) ? `b${p.toString("base64")}` : p)));
              await w.get();
            }
          };
          await exchange(['42["echo","a",1]'], (f) => f.startsWith('42["echoed"'));
          await exchange(['421["ack me",{"x":1}]'], (f) => f.startsWith("431"));
          const answer = socket.timeout(2000).emitWithAck("question", 7);
          if (transport === "websocket") {
            await w.frame("ws", (f) => f.startsWith("420"));
            w.send('430["answer"]');
          } else {
            await w.get();
            await w.post('430["answer"]');
          }
          seen.push(["answer", await answer]);
          w.note("emit bin");
          socket.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) });
          if (transport === "websocket") await w.frame("ws", "<binary 04>");
          else await w.get();
          const noAck = ['451-["up",{"_placeholder":true,"num":0}]', Buffer.from([5])];
          if (transport === "websocket") w.send(...noAck);
          else await w.post(noAck[0], `b${noAck[1].toString("base64")}`);
          await until(() => seen.length === 2, "the binary event arrived");
          await exchange(['451-3["up",{"_placeholder":true,"num":0}]', Buffer.from([7])], "<binary 09>");
          return { wire: w.snapshot(), seen };
        }),
      );
    }

    // Every way a Socket.IO session ends, on each transport: the frames, and the reasons the
    // server-side socket gives.
    const disconnects = {
      "socket.disconnect()": async ({ w, socket }) => {
        w.note("socket.disconnect()");
        socket.disconnect();
      },
      "socket.disconnect(true)": async ({ w, socket }) => {
        w.note("socket.disconnect(true)");
        socket.disconnect(true);
      },
      "a DISCONNECT packet from the client": async ({ w, transport }) => {
        if (transport === "websocket") w.send("41");
        else await w.post("41");
      },
      // a close packet means nothing on websocket: an event after it still arrives, and
      // only the close frame that follows ends the session
      "a close packet from the client (on websocket, then an event and a close frame)": async ({
        w,
        transport,
        socket,
      }) => {
        if (transport === "polling") {
          await w.post("1");
          return;
        }
        const next = Promise.race([waitFor(socket, "still here"), waitFor(socket, "disconnect")]);
        w.send("1", '42["still here"]');
        await next;
        w.closeWebSocket({ code: 1000 });
      },
      "socket.conn.close()": async ({ w, socket }) => {
        w.note("socket.conn.close()");
        socket.conn.close();
      },
      "io.close()": async ({ w, io }) => {
        w.note("io.close()");
        io.close();
      },
    };
    for (const transport of ["websocket", "polling"]) {
      for (const [how, act] of Object.entries(disconnects)) {
        sameWire(`disconnect over ${transport}: ${how}`, (impl) =>
          withIo(impl, {}, async ({ io, wire }) => {
            const events = [];
            const w = wire();
            const socket = await connectSio(io, w, transport);
            const { poll } = transport === "polling" ? await pendingGet(w, socket.conn) : {};
            socket.onAny((event) => events.push(["event", event]));
            socket.on("disconnecting", (reason) => events.push(["disconnecting", reason, socket.connected]));
            socket.on("disconnect", (reason, description) =>
              events.push(["disconnect", reason, socket.connected, typeof description]),
            );
            const disconnected = waitFor(socket, "disconnect");
            await act({ w, socket, io, transport });
            await disconnected;
            const conn = { readyState: socket.conn.readyState, clientsCount: io.engine.clientsCount };
            // a session that outlives its socket still carries packets
            const open = socket.conn.readyState === "open";
            if (open) {
              w.note("socket.conn.send(control)");
              socket.conn.send("control");
            }
            if (poll) await poll;
            // as a client does: polls again for the close packet
            if (transport === "polling" && socket.conn.readyState === "closing") await w.get();
            if (open && transport === "polling" && !w.log.some((e) => e.frame === "4control")) await w.get();
            if (open && transport === "websocket") await w.frame("ws", "4control");
            if (!open) await w.wsClosed();
            return { wire: w.snapshot(), events, conn };
          }),
        );
      }
    }
  });

  describe("handshake objects", () => {
    // What the application reads about the connection, on both transports: volatile values
    // (the port in the Host header, the WebSocket key, the time) by their shape.
    const describeHandshake = (socket, port) => {
      const h = socket.handshake;
      const shape = (v) => (v === null ? "null" : typeof v);
      const proto = (o) =>
        Object.getPrototypeOf(o) === null ? "null" : Object.getPrototypeOf(o).constructor.name;
      const headers = {};
      for (const [name, value] of Object.entries(h.headers)) {
        if (name === "sec-websocket-key") headers[name] = "<key>";
        else headers[name] = String(value).replace(String(port), "<port>");
      }
      return {
        keys: Object.keys(h),
        headers,
        headerNames: Object.keys(h.headers),
        query: { ...h.query },
        auth: h.auth,
        url: h.url,
        xdomain: h.xdomain,
        secure: h.secure,
        address: h.address,
        types: { time: shape(h.time), issued: shape(h.issued) },
        timeMatchesIssued: Math.abs(Date.parse(h.time) - h.issued) < 1000,
        issuedRecently: Math.abs(Date.now() - h.issued) < 5000,
        prototypes: { headers: proto(h.headers), query: proto(h.query), auth: proto(h.auth) },
      };
    };
    const describeConn = (conn) => ({
      request: conn.request ? { method: conn.request.method, url: conn.request.url } : typeof conn.request,
      protocol: conn.protocol,
      remoteAddress: conn.remoteAddress,
      transport: conn.transport.name,
      readyState: conn.readyState,
    });

    for (const transport of ["polling", "websocket"]) {
      same(
        `socket.handshake and socket.conn over ${transport}${transport === "polling" ? ", before and after the upgrade" : ""}`,
        (impl) =>
          withIo(impl, {}, async ({ io, port, wire }) => {
            const w = wire({
              query: { foo: "bar", list: ["1", "2"] },
              headers: {
                origin: "http://example.com",
                cookie: "a=b; c=d",
                "user-agent": "wire/1.0",
                "x-custom": "yes",
              },
            });
            const socket = await connectSio(io, w, transport, '40{"token":"t","n":1}');
            const observed = {
              handshake: describeHandshake(socket, port),
              conn: [describeConn(socket.conn)],
            };
            if (transport === "polling") {
              await upgrade(w, socket.conn);
              observed.afterUpgrade = describeHandshake(socket, port);
              observed.conn.push(describeConn(socket.conn));
            }
            const disconnected = waitFor(socket, "disconnect");
            w.closeWebSocket({ terminate: true });
            await disconnected;
            observed.conn.push(describeConn(socket.conn));
            return observed;
          }),
      );
    }

    same(
      "a secure-looking request without TLS, and x-forwarded-for, do not change secure and address",
      (impl) =>
        withIo(impl, {}, async ({ io, wire }) => {
          const w = wire({ headers: { "x-forwarded-for": "10.0.0.1", "x-forwarded-proto": "https" } });
          const socket = await connectSio(io, w, "websocket");
          const { secure, address, xdomain } = socket.handshake;
          return { secure, address, xdomain };
        }),
    );
  });

  describe("listener surfaces", () => {
    // The listeners on every public object at each stage of a session's life, one run per
    // implementation shared by the tests below (one per object, so that each difference is
    // its own failure).
    const runs = new Map();
    const surfaces = (impl) => {
      if (!runs.has(impl.name)) {
        runs.set(
          impl.name,
          withIo(impl, {}, async ({ io, wire }) => {
            const snapshots = {};
            const take = (stage, socket) => {
              const objects = {
                io,
                "io.engine": io.engine,
                'io.of("/")': io.of("/"),
                adapter: io.of("/").adapter,
                socket,
                "socket.conn": socket.conn,
                "socket.conn.transport": socket.conn.transport,
              };
              for (const [name, object] of Object.entries(objects)) {
                (snapshots[name] = snapshots[name] || {})[stage] = listenerSurface(object);
              }
              snapshots["socket.client (an EventEmitter?)"] = typeof socket.client.on;
            };
            const polling = wire();
            const socket = await connectSio(io, polling, "polling");
            take("polling, connected", socket);
            await upgrade(polling, socket.conn);
            take("upgraded", socket);
            const ws = wire();
            const wsSocket = await connectSio(io, ws, "websocket");
            take("websocket, connected", wsSocket);
            const left = waitFor(wsSocket, "disconnect");
            ws.send("41");
            await left;
            take("websocket, namespace left", wsSocket);
            const closed = waitFor(socket, "disconnect");
            polling.closeWebSocket({ terminate: true });
            await closed;
            take("upgraded, transport closed", socket);
            return snapshots;
          }),
        );
      }
      return runs.get(impl.name);
    };
    const objects = [
      "io",
      "io.engine",
      'io.of("/")',
      "adapter",
      "socket",
      "socket.client (an EventEmitter?)",
      "socket.conn",
      "socket.conn.transport",
    ];
    for (const title of objects) {
      const name = title.replace(/^\[[^\]]*\] /, "");
      same(`${title}`, async (impl) => (await surfaces(impl))[name]);
    }

    // The same for a bare engine (socket.io/engine without Socket.IO on top): what the
    // engine itself attaches.
    const engineRuns = new Map();
    const engineSurfaces = (impl) => {
      if (!engineRuns.has(impl.name)) {
        engineRuns.set(
          impl.name,
          withEngine(impl, {}, async ({ engine, wire }) => {
            const snapshots = { engine: {}, socket: {}, "socket.transport": {} };
            const take = (stage, socket) => {
              snapshots.engine[stage] = listenerSurface(engine);
              snapshots.socket[stage] = listenerSurface(socket);
              snapshots["socket.transport"][stage] = listenerSurface(socket.transport);
            };
            let connection = waitFor(engine, "connection");
            const polling = wire();
            await polling.handshake("polling");
            const socket = await connection;
            take("polling, connected", socket);
            await upgrade(polling, socket);
            take("upgraded", socket);
            connection = waitFor(engine, "connection");
            const ws = wire();
            await ws.handshake("websocket");
            const wsSocket = await connection;
            take("websocket, connected", wsSocket);
            const closed = waitFor(wsSocket, "close");
            ws.closeWebSocket({ code: 1000 });
            await closed;
            take("websocket, closed", wsSocket);
            return snapshots;
          }),
        );
      }
      return engineRuns.get(impl.name);
    };
    for (const title of ["engine", "engine socket", "engine socket.transport"]) {
      const name = title.replace(/^\[[^\]]*\] (engine )?/, "").replace(/^engine socket/, "socket");
      same(`bare engine: ${title}`, async (impl) => (await engineSurfaces(impl))[name]);
    }
  });

  describe("events, in order, with their reasons", () => {
    // Every event of interest on every object, in one log, from before the handshake to
    // after the close.
    const watch = (io) => {
      const log = [];
      const on = (emitter, prefix, names, map = () => undefined) => {
        for (const name of names) {
          emitter.on(name, (...args) => {
            const detail = map(name, ...args);
            log.push(normalize(detail === undefined ? `${prefix} ${name}` : `${prefix} ${name} ${detail}`));
          });
        }
      };
      const packet = (p) =>
        `${p.type}${p.data === undefined ? "" : ` ${Buffer.isBuffer(p.data) ? "<buffer>" : p.data}`}`;
      on(
        io.engine,
        "engine",
        ["connection", "initial_headers", "headers", "connection_error", "flush", "drain"],
        (name, a, b) => {
          if (name === "connection_error") return `${a.code} ${a.message} ${JSON.stringify(a.context)}`;
          if (name === "flush") return b.map(packet).join(",");
          return undefined;
        },
      );
      io.engine.on("connection", (conn) => {
        on(
          conn,
          "conn",
          [
            "upgrading",
            "upgrade",
            "packet",
            "packetCreate",
            "flush",
            "drain",
            "heartbeat",
            "message",
            "error",
            "close",
          ],
          (name, a, b) => {
            if (name === "upgrading" || name === "upgrade") return a.name;
            if (name === "packet" || name === "packetCreate") return packet(a);
            if (name === "flush") return a.map(packet).join(",");
            if (name === "message") return Buffer.isBuffer(a) ? "<buffer>" : a;
            if (name === "close") return `${a} ${b instanceof Error ? b.message : typeof b}`;
            return undefined;
          },
        );
      });
      on(io, "io", ["connection"], (name, socket) => socket.nsp.name);
      io.on("connection", (socket) => {
        on(socket, "socket", ["disconnecting", "disconnect", "error"], (name, reason) => String(reason));
        socket.onAny((event) => log.push(`socket event ${event}`));
        socket.on("hello", (cb) => cb && cb("hi"));
      });
      return log;
    };

    sameWire(
      "polling session: connect, event, upgrade, event, namespace left",
      (impl) =>
        withIo(impl, {}, async ({ io, wire }) => {
          const log = watch(io);
          const w = wire();
          const socket = await connectSio(io, w, "polling");
          await w.post('421["hello"]');
          await w.get();
          await upgrade(w, socket.conn);
          w.send('422["hello"]');
          await w.frame("ws", (f) => f.startsWith("432"));
          const left = waitFor(socket, "disconnect");
          w.send("41");
          await left;
          return { log: log.slice(), wire: w.snapshot() };
        }),
      { timing: false },
    );

    const ends = {
      "by the client (close frame, close packet)": {
        websocket: ({ w }) => w.closeWebSocket({ code: 1000 }),
        polling: ({ w }) => w.post("1"),
      },
      "by the server (socket.disconnect(true))": ({ w, socket }) => {
        w.note("socket.disconnect(true)");
        socket.disconnect(true);
      },
      "by transport close (connection torn down, pending GET aborted)": {
        websocket: ({ w }) => w.closeWebSocket({ terminate: true }),
        polling: ({ w }) => w.abortRequests(),
      },
      "by io.close()": ({ w, io }) => {
        w.note("io.close()");
        io.close();
      },
    };
    const ended =
      (transport, act, { headers }) =>
      (impl) =>
        withIo(impl, {}, async ({ io, wire }) => {
          const log = watch(io);
          const w = wire();
          const socket = await connectSio(io, w, transport);
          const { poll } = transport === "polling" ? await pendingGet(w, socket.conn) : {};
          const disconnected = waitFor(socket, "disconnect");
          const closed = waitFor(socket.conn, "close");
          await act({ w, socket, io });
          await disconnected;
          if (poll) await poll;
          // as a client does: polls again for the close packet
          if (transport === "polling" && socket.conn.readyState === "closing") await w.get();
          await closed;
          await w.wsClosed();
          return {
            log: headers ? log.slice() : log.filter((line) => line !== "engine headers"),
            wire: w.snapshot(),
          };
        });
    for (const transport of ["websocket", "polling"]) {
      for (const [how, acts] of Object.entries(ends)) {
        const act = typeof acts === "function" ? acts : acts[transport];
        sameWire(`${transport} session ended ${how}`, ended(transport, act, { headers: false }));
      }
    }
    // The "headers" event of each polling response, placed among the events of the close.
    for (const [how, acts] of Object.entries(ends)) {
      const act = typeof acts === "function" ? acts : acts.polling;
      sameWire(
        `polling session ended ${how}: io.engine "headers" in order`,
        ended("polling", act, { headers: true }),
      );
    }

    for (const transport of ["websocket", "polling"]) {
      sameWire(
        `${transport} session ended by ping timeout (the client never answers)`,
        (impl) =>
          withIo(impl, { pingInterval: 60, pingTimeout: 40 }, async ({ io, wire }) => {
            const log = watch(io);
            const w = wire();
            const socket = await connectSio(io, w, transport);
            const disconnected = waitFor(socket, "disconnect");
            if (transport === "polling") await w.get();
            await disconnected;
            if (transport === "polling") await w.get();
            else await w.wsClosed();
            return { log: log.slice(), wire: w.snapshot() };
          }),
        { timing: false },
      );
    }

    sameWire(
      "heartbeat: ping created and flushed, pong received, heartbeat",
      (impl) =>
        withIo(impl, { pingInterval: 60, pingTimeout: 1000 }, async ({ io, wire }) => {
          const log = watch(io);
          const w = wire();
          const socket = await connectSio(io, w, "websocket");
          await w.frame("ws", "2");
          const beat = waitFor(socket.conn, "heartbeat");
          w.send("3");
          await beat;
          const left = waitFor(socket, "disconnect");
          w.send("41");
          await left;
          return { log: log.slice(), wire: w.snapshot() };
        }),
      { timing: false },
    );

    same("connection_error: the refused requests, their codes, messages and contexts", (impl) =>
      withIo(impl, {}, async ({ io, wire }) => {
        const log = watch(io);
        const w = wire();
        const responses = [];
        const ask = async (method, path) => {
          const res = await w.request(method, path);
          responses.push([method, path, res.status, res.body]);
        };
        await ask("GET", "/socket.io/?EIO=4&transport=polling&sid=unknown");
        await ask("GET", "/socket.io/?EIO=4&transport=carrier-pigeon");
        await ask("POST", "/socket.io/?EIO=4&transport=polling");
        await ask("GET", "/socket.io/?EIO=5&transport=polling");
        await ask("GET", "/socket.io/?transport=polling");
        const refused = wire();
        refused.sid = "unknown";
        await refused.openWebSocket().catch(() => {});
        return { log: log.slice(), responses, ws: refused.log.map((e) => e.frame) };
      }),
    );
  });

  it("the comparison of wire logs fails on a frame that differs, or one that comes late", async () => {
    const log = (frame, t) => [
      { ch: "ws", dir: ">", frame: "2probe", t: 0 },
      { ch: "ws", dir: "<", frame, t },
    ];
    expect(() =>
      compare({ wire: log("3probe", 5) }, { wire: log("3probe", 5 + TOLERANCE - 1) }),
    ).not.to.throwError();
    expect(() =>
      compare({ wire: log("3probe", 5) }, { wire: log("3probe", 5 + TOLERANCE + 20) }),
    ).to.throwError(/wire: delay of ws frame #0/);
    expect(() => compare({ wire: log("3probe", 5) }, { wire: log("3pong", 5) })).to.throwError();
    await differential(async () => ({ wire: log("x", 1) }), { compare });
  });
});
