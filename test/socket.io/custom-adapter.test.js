"use strict";

const expect = require("expect.js");
const { Adapter, SessionAwareAdapter } = require("socket.io-adapter");
const {
  sio,
  forEachTransport,
  useHarness,
  connected,
  waitFor,
  disconnectReason,
  sleep,
  until,
  REFERENCE,
} = require("./support/util");

/**
 * An adapter written for the reference, as users and the published adapters do:
 * it extends the npm Adapter, records what the server calls, and defers to it.
 */
class RecordingAdapter extends Adapter {
  constructor(nsp) {
    super(nsp);
    this.calls = [];
    RecordingAdapter.instances.push(this);
  }

  record(name, ...args) {
    this.calls.push([name, ...args]);
  }

  callsOf(name) {
    return this.calls.filter((c) => c[0] === name).map((c) => c.slice(1));
  }

  init() {
    this.record("init");
    return super.init();
  }

  close() {
    this.record("close");
    return super.close();
  }

  addAll(id, rooms) {
    this.record("addAll", id, [...rooms]);
    return super.addAll(id, rooms);
  }

  del(id, room) {
    this.record("del", id, room);
    return super.del(id, room);
  }

  delAll(id) {
    this.record("delAll", id);
    return super.delAll(id);
  }

  broadcast(packet, opts) {
    this.record("broadcast", packet, opts);
    return super.broadcast(packet, opts);
  }

  broadcastWithAck(packet, opts, clientCountCallback, ack) {
    this.record("broadcastWithAck", packet, opts);
    return super.broadcastWithAck(packet, opts, clientCountCallback, ack);
  }

  addSockets(opts, rooms) {
    this.record("addSockets", opts, rooms);
    return super.addSockets(opts, rooms);
  }

  delSockets(opts, rooms) {
    this.record("delSockets", opts, rooms);
    return super.delSockets(opts, rooms);
  }

  disconnectSockets(opts, close) {
    this.record("disconnectSockets", opts, close);
    return super.disconnectSockets(opts, close);
  }

  fetchSockets(opts) {
    this.record("fetchSockets", opts);
    return super.fetchSockets(opts);
  }

  serverSideEmit(packet) {
    this.record("serverSideEmit", packet.slice());
    const last = packet[packet.length - 1];
    // a single node answers for an imaginary peer so that acks can be observed
    if (typeof last === "function") last(null, ["from another node"]);
  }
}
RecordingAdapter.instances = [];

const sorted = (set) => [...set].sort();

describe("custom adapter (extends socket.io-adapter's Adapter)", () => {
  beforeEach(() => {
    RecordingAdapter.instances = [];
  });

  describe("bookkeeping", () => {
    const h = useHarness();

    it("is constructed with the namespace and initialised once per namespace", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      expect(io.adapter()).to.be(RecordingAdapter);
      const main = io.of("/").adapter;
      expect(main).to.be.a(RecordingAdapter);
      expect(main.nsp).to.be(io.of("/"));
      const chat = io.of("/chat").adapter;
      expect(chat.nsp).to.be(io.of("/chat"));
      expect(main.callsOf("init")).to.have.length(1);
      expect(chat.callsOf("init")).to.have.length(1);
      expect(RecordingAdapter.instances).to.have.length(2);
    });

    it("io.adapter(Class) swaps the adapter of existing namespaces", async () => {
      const io = await h.server();
      io.of("/chat");
      expect(io.adapter(RecordingAdapter)).to.be(io);
      expect(io.of("/").adapter).to.be.a(RecordingAdapter);
      expect(io.of("/chat").adapter).to.be.a(RecordingAdapter);
      await h.connect("/chat");
      expect(io.of("/chat").adapter.callsOf("addAll")).to.have.length(1);
    });

    it("connect → addAll(id, {id}); join → addAll; leave → del; disconnect → delAll", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      const conn = waitFor(io, "connection");
      const client = await h.connect();
      const socket = await conn;
      const adapter = io.of("/").adapter;
      socket.join(["a", "b"]);
      socket.leave("a");
      expect(adapter.rooms.get("b")).to.eql(new Set([socket.id]));
      expect(sorted(adapter.sids.get(socket.id))).to.eql(sorted(["b", socket.id]));
      expect(adapter.socketRooms(socket.id)).to.eql(adapter.sids.get(socket.id));
      const reason = disconnectReason(socket);
      client.disconnect();
      await reason;
      expect(adapter.callsOf("addAll")).to.eql([
        [socket.id, [socket.id]],
        [socket.id, ["a", "b"]],
      ]);
      expect(adapter.callsOf("del")).to.eql([[socket.id, "a"]]);
      expect(adapter.callsOf("delAll")).to.eql([[socket.id]]);
      expect(adapter.rooms.size).to.be(0);
      expect(adapter.sids.size).to.be(0);
    });

    it("emits the room events create-room, join-room, leave-room, delete-room", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      const events = [];
      const adapter = io.of("/").adapter;
      for (const e of ["create-room", "join-room", "leave-room", "delete-room"]) {
        adapter.on(e, (room, id) => events.push([e, room, id]));
      }
      const conn = waitFor(io, "connection");
      await h.connect();
      const socket = await conn;
      socket.join("r");
      socket.leave("r");
      const id = socket.id;
      expect(events).to.eql([
        ["create-room", id, undefined],
        ["join-room", id, id],
        ["create-room", "r", undefined],
        ["join-room", "r", id],
        ["leave-room", "r", id],
        ["delete-room", "r", undefined],
      ]);
    });

    it("an asynchronous addAll makes join() return its promise", async () => {
      class SlowAdapter extends Adapter {
        addAll(id, rooms) {
          return sleep(30).then(() => super.addAll(id, rooms));
        }
      }
      const io = await h.server({ adapter: SlowAdapter });
      const conn = waitFor(io, "connection");
      await h.connect();
      const socket = await conn;
      const pending = socket.join("later");
      expect(pending).to.be.a(Promise);
      expect(socket.rooms.has("later")).to.be(false);
      await pending;
      expect(socket.rooms.has("later")).to.be(true);
    });

    it("in(room).allSockets() asks adapter.sockets(rooms)", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      const conn = waitFor(io, "connection");
      await h.connect();
      const socket = await conn;
      socket.join("r");
      expect(await io.in("r").allSockets()).to.eql(new Set([socket.id]));
      expect(await io.allSockets()).to.eql(new Set([socket.id]));
    });

    it("socketsJoin / socketsLeave / disconnectSockets go through the adapter with their options", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      const conn = waitFor(io, "connection");
      const client = await h.connect();
      const socket = await conn;
      const adapter = io.of("/").adapter;
      io.in("x").except("y").socketsJoin("j");
      io.socketsJoin(["k"]);
      io.socketsLeave("k");
      const reason = disconnectReason(client);
      io.disconnectSockets(true);
      await reason;
      const [join1, join2] = adapter.callsOf("addSockets");
      expect(sorted(join1[0].rooms)).to.eql(["x"]);
      expect(sorted(join1[0].except)).to.eql(["y"]);
      expect(join1[1]).to.eql(["j"]);
      expect(join2[1]).to.eql(["k"]);
      expect(adapter.callsOf("delSockets")[0][1]).to.eql(["k"]);
      const [disc] = adapter.callsOf("disconnectSockets");
      expect(disc[1]).to.be(true);
      expect(socket.rooms.size).to.be(0);
    });

    it("fetchSockets() wraps plain objects from other nodes into remote sockets", async () => {
      const remoteDetails = {
        id: "remote-1",
        handshake: { query: { from: "elsewhere" } },
        rooms: new Set(["remote-1", "lobby"]),
        data: { user: "bob" },
      };
      class RemoteAdapter extends RecordingAdapter {
        fetchSockets(opts) {
          return super.fetchSockets(opts).then((local) => local.concat([remoteDetails]));
        }
      }
      const io = await h.server({ adapter: RemoteAdapter });
      const conn = waitFor(io, "connection");
      await h.connect();
      const local = await conn;
      const found = await io.in("lobby").fetchSockets();
      const adapter = io.of("/").adapter;
      expect(sorted(adapter.callsOf("fetchSockets")[0][0].rooms)).to.eql(["lobby"]);
      expect(found).to.have.length(1); // the local socket is not in the lobby
      const all = await io.fetchSockets();
      expect(all.find((s) => s.id === local.id)).to.be(local);
      const remote = all.find((s) => s.id === "remote-1");
      expect(remote).not.to.be.a(sio.Socket);
      expect(remote.handshake).to.eql({ query: { from: "elsewhere" } });
      expect(sorted(remote.rooms)).to.eql(["lobby", "remote-1"]);
      expect(remote.data).to.eql({ user: "bob" });

      remote.emit("hello", 1);
      const [packet, opts] = adapter.callsOf("broadcast").pop();
      expect(packet.data).to.eql(["hello", 1]);
      expect(sorted(opts.rooms)).to.eql(["remote-1"]);
      remote.join("room-x");
      const [joinOpts, joinRooms] = adapter.callsOf("addSockets").pop();
      expect(sorted(joinOpts.rooms)).to.eql(["remote-1"]);
      expect(joinRooms).to.eql(["room-x"]);
      remote.leave("room-x");
      expect(adapter.callsOf("delSockets").pop()[1]).to.eql(["room-x"]);
      remote.disconnect(true);
      const [discOpts, close] = adapter.callsOf("disconnectSockets").pop();
      expect(sorted(discOpts.rooms)).to.eql(["remote-1"]);
      expect(close).to.be(true);
    });

    it("serverSideEmit goes through adapter.serverSideEmit, with or without ack", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      const adapter = io.of("/").adapter;
      expect(io.serverSideEmit("ping", 1, { a: 2 })).to.be(true);
      expect(adapter.callsOf("serverSideEmit")[0][0]).to.eql(["ping", 1, { a: 2 }]);
      const [err, responses] = await new Promise((resolve) =>
        io.serverSideEmit("ping", (...args) => resolve(args)),
      );
      expect(err).to.be(null);
      expect(responses).to.eql(["from another node"]);
      expect(await io.serverSideEmitWithAck("ping")).to.eql(["from another node"]);
      // an event arriving from another node is delivered to the listeners
      const got = waitFor(io.of("/"), "remote-event");
      io.of("/")._onServerSideEmit(["remote-event", "payload"]);
      expect(await got).to.be("payload");
    });

    it("io.close() closes the adapters", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      io.of("/chat");
      await new Promise((resolve) => io.close(resolve));
      for (const adapter of RecordingAdapter.instances) {
        expect(adapter.callsOf("close")).to.have.length(1);
      }
    });

    it("exposes the members the base adapter reaches into", async () => {
      const io = await h.server({ adapter: RecordingAdapter });
      const conn = waitFor(io, "connection");
      await h.connect();
      const socket = await conn;
      const nsp = io.of("/");
      const chunks = nsp.server.encoder.encode({ type: 2, data: ["x", 1], nsp: "/" });
      expect(chunks).to.eql(['2["x",1]']);
      expect(nsp.server.opts).to.be.an("object");
      expect(nsp.sockets).to.be.a(Map);
      expect(nsp.sockets.get(socket.id)).to.be(socket);
      expect(nsp._ids).to.be.a("number");
      expect(io._nsps).to.be.a(Map);
      expect(io._nsps.get("/")).to.be(nsp);
      expect(socket.client.writeToEngine).to.be.a("function");
      expect(socket.acks).to.be.a(Map);
      expect(socket.notifyOutgoingListeners).to.be.a("function");
      expect(socket.client.id).to.be(socket.conn.id);
    });
  });

  forEachTransport((transports) => {
    const h = useHarness({ transports });

    async function setup(n) {
      const io = await h.server({ adapter: RecordingAdapter });
      const sockets = new Map();
      io.on("connection", (s) => sockets.set(s.id, s));
      const clients = [];
      for (let i = 0; i < n; i++) {
        const [, client] = await Promise.all([waitFor(io, "connection"), h.connect()]);
        clients.push(client);
      }
      return [io, clients.map((c) => sockets.get(c.id)), clients, io.of("/").adapter];
    }

    it("broadcasts pass (packet, { rooms, except, flags }) and still reach the clients", async () => {
      const [io, sockets, clients, adapter] = await setup(3);
      sockets[0].join("room");
      sockets[1].join("room");
      const got = Promise.all([waitFor(clients[0], "news"), waitFor(clients[1], "news")]);
      io.to("room").except(sockets[1].id).emit("news", 1);
      io.to("room").emit("news", 2);
      // client 1 is excluded from the first broadcast, so its first "news" is 2
      expect(await got).to.eql([1, 2]);
      const [[p1, o1], [p2, o2]] = adapter.callsOf("broadcast");
      expect(p1).to.eql({ type: 2, data: ["news", 1], nsp: "/" });
      expect(sorted(o1.rooms)).to.eql(["room"]);
      expect(sorted(o1.except)).to.eql([sockets[1].id]);
      expect(o1.flags).to.be.an("object");
      expect(p2.data).to.eql(["news", 2]);
      expect(o2.except.size).to.be(0);
    });

    it("socket.broadcast excludes the sender through opts.except", async () => {
      const [, sockets, clients, adapter] = await setup(2);
      const got = waitFor(clients[1], "from-0");
      sockets[0].broadcast.emit("from-0", "hi");
      expect(await got).to.be("hi");
      const [, opts] = adapter.callsOf("broadcast").pop();
      expect(sorted(opts.except)).to.eql([sockets[0].id]);
      expect(opts.rooms.size).to.be(0);
    });

    it("local, volatile and compress flags reach the adapter", async () => {
      const [io, , clients, adapter] = await setup(1);
      const got = waitFor(clients[0], "flagged");
      io.local.compress(false).emit("flagged", "x");
      expect(await got).to.be("x");
      io.volatile.emit("volatile", "y");
      const [[, o1], [, o2]] = adapter.callsOf("broadcast");
      expect(o1.flags.local).to.be(true);
      expect(o1.flags.compress).to.be(false);
      expect(o2.flags.volatile).to.be(true);
    });

    it("binary broadcasts are encoded by the server's encoder and arrive intact", async () => {
      const [io, , clients] = await setup(2);
      const got = Promise.all(clients.map((c) => waitFor(c, "bin")));
      io.emit("bin", { buf: Buffer.from([1, 2, 3]) }, "text");
      for (const [obj, text] of await got) {
        expect([...Buffer.from(obj.buf)]).to.eql([1, 2, 3]);
        expect(text).to.be("text");
      }
    });

    it("broadcast acks go through broadcastWithAck and collect the responses", async () => {
      const [io, , clients, adapter] = await setup(2);
      clients.forEach((c, i) => c.on("q", (cb) => cb(i)));
      const responses = await io.timeout(2000).emitWithAck("q");
      expect(responses.sort()).to.eql([0, 1]);
      const [[packet, opts]] = adapter.callsOf("broadcastWithAck");
      expect(packet.data).to.eql(["q"]);
      expect(opts.flags.timeout).to.be(2000);
    });

    for (const [how, serverCount] of [
      ["rejects", () => Promise.reject(new Error("bus down"))],
      [
        "throws",
        () => {
          throw new Error("bus down");
        },
      ],
    ]) {
      // The reference leaves a rejection unhandled (and throws from emit() when serverCount()
      // throws): deliberately not copied.
      (REFERENCE ? it.skip : it)(
        `a broadcast ack whose adapter.serverCount() ${how} times out with the answers, and nothing is unhandled`,
        async () => {
          class NoCountAdapter extends RecordingAdapter {}
          NoCountAdapter.prototype.serverCount = serverCount;
          const io = await h.server({ adapter: NoCountAdapter });
          const clients = [];
          for (let i = 0; i < 2; i++) {
            const [, client] = await Promise.all([waitFor(io, "connection"), h.connect()]);
            clients.push(client);
          }
          clients.forEach((c, i) => c.on("q", (cb) => cb(i)));
          const unhandled = [];
          const onUnhandled = (reason) => unhandled.push(reason);
          process.on("unhandledRejection", onUnhandled);
          try {
            const [err, responses] = await new Promise((resolve) =>
              io.timeout(300).emit("q", (...args) => resolve(args)),
            );
            expect(err).to.be.an(Error);
            expect(err.message).to.be("operation has timed out");
            expect(responses.sort()).to.eql([0, 1]);
          } finally {
            process.removeListener("unhandledRejection", onUnhandled);
          }
          expect(unhandled).to.eql([]);
        },
      );
    }

    it("onAnyOutgoing listeners run for broadcasts through the adapter", async () => {
      const [io, sockets, clients] = await setup(1);
      const seen = [];
      sockets[0].onAnyOutgoing((...args) => seen.push(args));
      const got = waitFor(clients[0], "watched");
      io.emit("watched", 5);
      await got;
      expect(seen).to.eql([["watched", 5]]);
    });

    it("connection state recovery works with a SessionAwareAdapter subclass", async () => {
      const calls = [];
      class RecordingSessions extends SessionAwareAdapter {
        persistSession(session) {
          calls.push(["persistSession", session.sid, session.pid]);
          return super.persistSession(session);
        }
        restoreSession(pid, offset) {
          calls.push(["restoreSession", pid, typeof offset]);
          return super.restoreSession(pid, offset);
        }
      }
      const io = await h.server({
        adapter: RecordingSessions,
        connectionStateRecovery: { maxDisconnectionDuration: 2000 },
      });
      io.on("connection", (s) => {
        if (!s.recovered) s.emit("welcome");
      });
      const client = h.client("/", {
        reconnection: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 50,
      });
      const welcome = waitFor(client, "welcome");
      await connected(client);
      await welcome;
      const id = client.id;
      const missed = waitFor(client, "missed");
      client.io.engine.close();
      await until(() => io.of("/").sockets.size === 0, "the server saw the disconnection");
      io.emit("missed", 1);
      await waitFor(client, "connect");
      expect(client.recovered).to.be(true);
      expect(client.id).to.be(id);
      expect((await missed)[0]).to.be(1);
      expect(calls.map((c) => c[0])).to.eql(["persistSession", "restoreSession"]);
      expect(calls[0][1]).to.be(id);
      expect(calls[1][2]).to.be("string");
    });
  });
});
