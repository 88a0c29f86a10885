"use strict";

// The in-memory Adapter and SessionAwareAdapter, driven through a minimal namespace whose
// sockets are plain objects recording what the adapter asked them to do (no transport is
// involved here; end-to-end behaviour is covered by the server tests).
const expect = require("expect.js");
const { Receiver } = require("ws");
const { mock } = require("node:test");
const { REFERENCE } = require("../support/impl");

const { Adapter, SessionAwareAdapter } = REFERENCE
  ? require("socket.io-adapter")
  : require("../../dist/adapter");

const EVENT = 2;
const BINARY_EVENT = 5;

// Counts encode() calls; a packet carrying a Buffer encodes into two chunks, like the real encoder.
function createEncoder() {
  const encoder = {
    calls: 0,
    encode(packet) {
      encoder.calls++;
      const buffers = packet.data.filter((arg) => Buffer.isBuffer(arg));
      if (buffers.length > 0) {
        return [BINARY_EVENT + JSON.stringify({ ...packet, data: "<binary>" }), ...buffers];
      }
      return [
        String(packet.type) +
          (packet.nsp === "/" ? "" : packet.nsp + ",") +
          (packet.id === undefined ? "" : packet.id) +
          JSON.stringify(packet.data),
      ];
    },
  };
  return encoder;
}

function createSocket(id) {
  const socket = {
    id,
    log: [],
    writes: [],
    acks: new Map(),
    client: {
      writeToEngine(encoded, opts) {
        socket.log.push("write");
        socket.writes.push({ encoded, opts });
      },
    },
    notifyOutgoingListeners(packet) {
      socket.log.push("notify:" + JSON.stringify(packet.data));
    },
    join(rooms) {
      socket.log.push(["join", rooms]);
    },
    leave(room) {
      socket.log.push(["leave", room]);
    },
    disconnect(close) {
      socket.log.push(["disconnect", close]);
    },
  };
  return socket;
}

function createNamespace(name = "/", maxDisconnectionDuration = 2 * 60 * 1000) {
  return {
    name,
    sockets: new Map(),
    _ids: 0,
    server: {
      encoder: createEncoder(),
      opts: { connectionStateRecovery: { maxDisconnectionDuration, skipMiddlewares: true } },
    },
  };
}

// Registers connected sockets the way the server does: in nsp.sockets and in their own room.
function connect(nsp, adapter, ...ids) {
  return ids.map((id) => {
    const socket = createSocket(id);
    nsp.sockets.set(id, socket);
    adapter.addAll(id, new Set([id]));
    return socket;
  });
}

function opts(rooms = [], except = [], flags) {
  const o = { rooms: new Set(rooms), except: new Set(except) };
  if (flags) o.flags = flags;
  return o;
}

function recordEvents(adapter) {
  const events = [];
  for (const name of ["create-room", "delete-room", "join-room", "leave-room"]) {
    adapter.on(name, (...args) => events.push([name, ...args]));
  }
  return events;
}

// Parses a WebSocket frame with ws's own receiver, as a client would.
function decodeFrame(chunks) {
  const receiver = new Receiver({ isServer: false });
  const messages = [];
  receiver.on("message", (data, isBinary) => messages.push({ text: data.toString(), isBinary }));
  receiver.write(Buffer.concat(chunks));
  return messages;
}

describe("Adapter (in memory)", () => {
  let nsp;
  let adapter;

  beforeEach(() => {
    nsp = createNamespace();
    adapter = new Adapter(nsp);
  });

  afterEach(() => adapter.close());

  describe("rooms", () => {
    it("keeps rooms and sids in sync and emits create-room then join-room", () => {
      const events = recordEvents(adapter);
      adapter.addAll("s1", new Set(["s1", "room1"]));
      adapter.addAll("s2", new Set(["s2", "room1"]));

      expect([...adapter.rooms.keys()]).to.eql(["s1", "room1", "s2"]);
      expect([...adapter.rooms.get("room1")]).to.eql(["s1", "s2"]);
      expect([...adapter.sids.get("s1")]).to.eql(["s1", "room1"]);
      expect(events).to.eql([
        ["create-room", "s1"],
        ["join-room", "s1", "s1"],
        ["create-room", "room1"],
        ["join-room", "room1", "s1"],
        ["create-room", "s2"],
        ["join-room", "s2", "s2"],
        ["join-room", "room1", "s2"],
      ]);
    });

    it("does not emit again when a socket joins a room it is already in", () => {
      adapter.addAll("s1", new Set(["room1"]));
      const events = recordEvents(adapter);
      adapter.addAll("s1", new Set(["room1"]));
      expect(events).to.eql([]);
      expect(adapter.rooms.get("room1").size).to.be(1);
    });

    it("accepts any string (and number) as a room name", () => {
      adapter.addAll("s1", new Set(["", "a room with spaces", "🎉", 42]));
      expect([...adapter.socketRooms("s1")]).to.eql(["", "a room with spaces", "🎉", 42]);
      expect(adapter.rooms.get(42).has("s1")).to.be(true);
    });

    it("del() emits leave-room, and delete-room once the room is empty", () => {
      adapter.addAll("s1", new Set(["s1", "room1"]));
      adapter.addAll("s2", new Set(["s2", "room1"]));
      const events = recordEvents(adapter);

      adapter.del("s1", "room1");
      expect(events).to.eql([["leave-room", "room1", "s1"]]);
      expect([...adapter.sids.get("s1")]).to.eql(["s1"]);

      adapter.del("s2", "room1");
      expect(events.slice(1)).to.eql([
        ["leave-room", "room1", "s2"],
        ["delete-room", "room1"],
      ]);
      expect(adapter.rooms.has("room1")).to.be(false);
    });

    it("del() of an unknown socket or room changes nothing and emits nothing", () => {
      adapter.addAll("s1", new Set(["room1"]));
      const events = recordEvents(adapter);
      adapter.del("unknown", "room1");
      adapter.del("s1", "unknown");
      expect(events).to.eql([]);
      expect([...adapter.rooms.get("room1")]).to.eql(["s1"]);
    });

    it("delAll() removes the socket from every room and forgets it", () => {
      adapter.addAll("s1", new Set(["s1", "room1", "room2"]));
      adapter.addAll("s2", new Set(["s2", "room2"]));
      const events = recordEvents(adapter);

      adapter.delAll("s1");

      expect(adapter.sids.has("s1")).to.be(false);
      expect(adapter.socketRooms("s1")).to.be(undefined);
      expect([...adapter.rooms.keys()]).to.eql(["room2", "s2"]);
      expect([...adapter.rooms.get("room2")]).to.eql(["s2"]);
      expect(events).to.eql([
        ["leave-room", "s1", "s1"],
        ["delete-room", "s1"],
        ["leave-room", "room1", "s1"],
        ["delete-room", "room1"],
        ["leave-room", "room2", "s1"],
      ]);

      adapter.delAll("s1");
      expect(events.length).to.be(5);
    });

    it("socketRooms() returns the live set of rooms", () => {
      adapter.addAll("s1", new Set(["s1", "room1"]));
      expect(adapter.socketRooms("s1")).to.be(adapter.sids.get("s1"));
      expect(adapter.socketRooms("nope")).to.be(undefined);
    });

    // Every socket joins its own room on connect, alone: the room's members and the socket's
    // rooms are then both { id }. However the adapter stores them, each must keep meaning
    // what it says once the socket joins or leaves rooms.
    describe("a socket's own room", () => {
      const ids = (set) => (set === undefined ? undefined : [...set]);

      it("rooms.get(id) and sids.get(id) both hold { id } after the join on connect", () => {
        const events = recordEvents(adapter);
        adapter.addAll("s1", new Set(["s1"]));
        expect(ids(adapter.rooms.get("s1"))).to.eql(["s1"]);
        expect(ids(adapter.sids.get("s1"))).to.eql(["s1"]);
        expect(adapter.rooms.get("s1")).to.be.a(Set);
        expect(adapter.sids.get("s1")).to.be.a(Set);
        // two Sets: a user may change one without changing the other
        expect(adapter.rooms.get("s1")).not.to.be(adapter.sids.get("s1"));
        expect(events).to.eql([
          ["create-room", "s1"],
          ["join-room", "s1", "s1"],
        ]);
        // joining it again changes nothing
        adapter.addAll("s1", new Set(["s1"]));
        expect(events.length).to.be(2);
        expect(ids(adapter.rooms.get("s1"))).to.eql(["s1"]);
      });

      it("joining another room adds it to the socket's rooms only, in the set already handed out", () => {
        adapter.addAll("s1", new Set(["s1"]));
        const ownRoomBefore = adapter.rooms.get("s1");
        const socketRooms = adapter.socketRooms("s1");
        adapter.addAll("s1", new Set(["room1"]));
        expect(ids(adapter.rooms.get("s1"))).to.eql(["s1"]);
        // the own room is the same Set as before, and holds only the socket
        expect(adapter.rooms.get("s1")).to.be(ownRoomBefore);
        expect(ownRoomBefore).not.to.be(socketRooms);
        expect(ids(adapter.rooms.get("room1"))).to.eql(["s1"]);
        expect(ids(adapter.sids.get("s1"))).to.eql(["s1", "room1"]);
        // the set returned before the join is the live one
        expect(adapter.socketRooms("s1")).to.be(socketRooms);
        expect(ids(socketRooms)).to.eql(["s1", "room1"]);
        adapter.del("s1", "room1");
        expect(ids(adapter.rooms.get("s1"))).to.eql(["s1"]);
        expect(ids(socketRooms)).to.eql(["s1"]);
      });

      it("a room joined first, then its own: the room members and socket rooms stay apart", () => {
        adapter.addAll("s1", new Set(["room1"]));
        adapter.addAll("s1", new Set(["s1"]));
        expect(ids(adapter.rooms.get("s1"))).to.eql(["s1"]);
        expect(ids(adapter.sids.get("s1"))).to.eql(["room1", "s1"]);
      });

      it("another socket joining a room named after the socket is a member of it, not one of its rooms", () => {
        adapter.addAll("s1", new Set(["s1"]));
        adapter.addAll("s2", new Set(["s1"]));
        expect(ids(adapter.rooms.get("s1"))).to.eql(["s1", "s2"]);
        expect(ids(adapter.sids.get("s1"))).to.eql(["s1"]);
        expect(ids(adapter.sids.get("s2"))).to.eql(["s1"]);
      });

      it("leaving its own room: leave-room and delete-room, and the socket's rooms lose it", () => {
        adapter.addAll("s1", new Set(["s1"]));
        const socketRooms = adapter.socketRooms("s1");
        const events = recordEvents(adapter);
        adapter.del("s1", "s1");
        expect(events).to.eql([
          ["leave-room", "s1", "s1"],
          ["delete-room", "s1"],
        ]);
        expect(adapter.rooms.has("s1")).to.be(false);
        expect(ids(adapter.sids.get("s1"))).to.eql([]);
        expect(ids(socketRooms)).to.eql([]);
      });

      it("delAll() on disconnect: the same events, and the rooms read in 'leave-room' are those of the reference", () => {
        adapter.addAll("s1", new Set(["s1"]));
        const socketRooms = adapter.socketRooms("s1");
        const seen = [];
        adapter.on("leave-room", (room, id) => {
          seen.push([room, ids(adapter.rooms.get(room)), ids(adapter.sids.get(id))]);
        });
        const events = recordEvents(adapter);
        adapter.delAll("s1");
        expect(events).to.eql([
          ["leave-room", "s1", "s1"],
          ["delete-room", "s1"],
        ]);
        // while it leaves, the room is still listed (empty) and the socket still has its rooms
        expect(seen).to.eql([["s1", [], ["s1"]]]);
        expect(adapter.rooms.has("s1")).to.be(false);
        expect(adapter.sids.has("s1")).to.be(false);
        // a set of rooms handed out earlier keeps what it held, as with a set of its own
        expect(ids(socketRooms)).to.eql(["s1"]);
      });

      it("broadcasts to its own room reach it once, and to all rooms reach every socket once", () => {
        const [s1, s2] = connect(nsp, adapter, "s1", "s2");
        adapter.broadcast({ type: EVENT, data: ["a"], nsp: "/" }, opts(["s1"]));
        adapter.broadcast({ type: EVENT, data: ["b"], nsp: "/" }, opts([]));
        adapter.broadcast({ type: EVENT, data: ["c"], nsp: "/" }, opts([], ["s1"]));
        expect(s1.writes.map((w) => w.encoded[0])).to.eql(['2["a"]', '2["b"]']);
        expect(s2.writes.map((w) => w.encoded[0])).to.eql(['2["b"]', '2["c"]']);
      });
    });
  });

  describe("sockets() and fetchSockets()", () => {
    it("resolve every local socket when no room is given", async () => {
      const [a, b] = connect(nsp, adapter, "a", "b");
      const ids = adapter.sockets(new Set());
      expect(ids).to.be.a(Promise);
      expect([...(await ids)]).to.eql(["a", "b"]);
      expect(await adapter.fetchSockets(opts())).to.eql([a, b]);
    });

    it("resolve the union of the rooms, each socket once", async () => {
      connect(nsp, adapter, "a", "b", "c");
      adapter.addAll("a", new Set(["r1", "r2"]));
      adapter.addAll("b", new Set(["r2"]));
      const ids = await adapter.sockets(new Set(["r1", "r2", "unknown"]));
      expect([...ids].sort()).to.eql(["a", "b"]);
      const sockets = await adapter.fetchSockets(opts(["r1", "r2"]));
      expect(sockets.map((s) => s.id).sort()).to.eql(["a", "b"]);
    });

    it("skip the members of the except rooms", async () => {
      connect(nsp, adapter, "a", "b", "c");
      adapter.addAll("a", new Set(["r1"]));
      adapter.addAll("b", new Set(["r1", "muted"]));
      const sockets = await adapter.fetchSockets(opts(["r1"], ["muted"]));
      expect(sockets.map((s) => s.id)).to.eql(["a"]);
      const all = await adapter.fetchSockets(opts([], ["muted", "c"]));
      expect(all.map((s) => s.id)).to.eql(["a"]);
    });

    it("ignore ids that are not connected sockets of the namespace", async () => {
      connect(nsp, adapter, "a");
      adapter.addAll("ghost", new Set(["ghost", "r1"]));
      adapter.addAll("a", new Set(["r1"]));
      expect([...(await adapter.sockets(new Set()))]).to.eql(["a"]);
      expect([...(await adapter.sockets(new Set(["r1"])))]).to.eql(["a"]);
    });
  });

  describe("broadcast()", () => {
    it("encodes the packet once and writes it to every target with the write options", () => {
      const sockets = connect(nsp, adapter, "a", "b", "c");
      const packet = { type: EVENT, data: ["hello", 1] };
      adapter.broadcast(packet, opts([], [], { volatile: true, compress: false }));

      expect(packet.nsp).to.be("/");
      expect(nsp.server.encoder.calls).to.be(1);
      const first = sockets[0].writes[0];
      expect(first.encoded).to.eql(['2["hello",1]']);
      expect(first.opts.preEncoded).to.be(true);
      expect(first.opts.volatile).to.be(true);
      expect(first.opts.compress).to.be(false);
      for (const socket of sockets) {
        expect(socket.writes.length).to.be(1);
        // the same encoded chunks are shared by every target
        expect(socket.writes[0].encoded).to.be(first.encoded);
      }
    });

    it("notifies the outgoing listeners of each target before writing", () => {
      const [a] = connect(nsp, adapter, "a");
      adapter.broadcast({ type: EVENT, data: ["hello"] }, opts());
      expect(a.log).to.eql(['notify:["hello"]', "write"]);
    });

    it("still writes to sockets without outgoing listeners support", () => {
      const [a] = connect(nsp, adapter, "a");
      delete a.notifyOutgoingListeners;
      adapter.broadcast({ type: EVENT, data: ["hello"] }, opts());
      expect(a.writes.length).to.be(1);
    });

    it("targets the union of the rooms once per socket, minus the except rooms", () => {
      const [a, b, c, d] = connect(nsp, adapter, "a", "b", "c", "d");
      adapter.addAll("a", new Set(["r1", "r2"]));
      adapter.addAll("b", new Set(["r2"]));
      adapter.addAll("c", new Set(["r2", "muted"]));
      adapter.broadcast({ type: EVENT, data: ["x"] }, opts(["r1", "r2"], ["muted"]));
      expect([a, b, c, d].map((s) => s.writes.length)).to.eql([1, 1, 0, 0]);
    });

    it("excludes a single socket through its own room", () => {
      const [a, b] = connect(nsp, adapter, "a", "b");
      adapter.broadcast({ type: EVENT, data: ["x"] }, opts([], ["a"]));
      expect([a.writes.length, b.writes.length]).to.eql([0, 1]);
    });

    it("writes nothing for a room without members", () => {
      const [a] = connect(nsp, adapter, "a");
      adapter.broadcast({ type: EVENT, data: ["x"] }, opts(["nobody"]));
      expect(a.writes.length).to.be(0);
    });

    it("sets the namespace name on the packet", () => {
      nsp = createNamespace("/admin");
      adapter = new Adapter(nsp);
      const [a] = connect(nsp, adapter, "a");
      adapter.broadcast({ type: EVENT, data: ["x"] }, opts());
      expect(a.writes[0].encoded).to.eql(['2/admin,["x"]']);
    });

    it("pre-encodes a single text chunk into a WebSocket text frame of the Engine.IO message", () => {
      const [a, b] = connect(nsp, adapter, "a", "b");
      adapter.broadcast({ type: EVENT, data: ["héllo", { n: 1 }] }, opts());
      const frame = a.writes[0].opts.wsPreEncodedFrame;
      expect(frame).to.be.ok();
      expect(b.writes[0].opts.wsPreEncodedFrame).to.be(frame);
      expect(decodeFrame(frame)).to.eql([{ text: '42["héllo",{"n":1}]', isBinary: false }]);
    });

    it("builds no WebSocket frame when the packet encodes into several chunks", () => {
      const [a] = connect(nsp, adapter, "a");
      adapter.broadcast({ type: EVENT, data: ["file", Buffer.from([1, 2, 3])] }, opts());
      const { encoded, opts: writeOpts } = a.writes[0];
      expect(encoded.length).to.be(2);
      expect(writeOpts.wsPreEncodedFrame).to.be(undefined);
      expect(writeOpts.preEncoded).to.be(true);
    });
  });

  describe("broadcastWithAck()", () => {
    it("uses the next namespace ack id, registers the ack on each target and reports the count", () => {
      const [a, b, c] = connect(nsp, adapter, "a", "b", "c");
      adapter.addAll("a", new Set(["r1"]));
      adapter.addAll("b", new Set(["r1"]));
      nsp._ids = 7;
      const ack = () => {};
      const counts = [];
      const packet = { type: EVENT, data: ["ping"] };

      adapter.broadcastWithAck(packet, opts(["r1"]), (n) => counts.push(n), ack);

      expect(packet.id).to.be(7);
      expect(nsp._ids).to.be(8);
      expect(counts).to.eql([2]);
      expect(a.acks.get(7)).to.be(ack);
      expect(b.acks.get(7)).to.be(ack);
      expect(c.acks.size).to.be(0);
      expect(a.writes[0].encoded).to.eql(['27["ping"]']);
      expect(c.writes.length).to.be(0);
    });

    it("reports zero clients when nobody matches", () => {
      connect(nsp, adapter, "a");
      const counts = [];
      adapter.broadcastWithAck(
        { type: EVENT, data: ["ping"] },
        opts(["nobody"]),
        (n) => counts.push(n),
        () => {},
      );
      expect(counts).to.eql([0]);
    });
  });

  describe("addSockets() / delSockets() / disconnectSockets()", () => {
    it("asks the matching sockets to join the rooms", () => {
      const [a, b] = connect(nsp, adapter, "a", "b");
      adapter.addAll("a", new Set(["r1"]));
      adapter.addSockets(opts(["r1"]), ["r2", "r3"]);
      expect(a.log).to.eql([["join", ["r2", "r3"]]]);
      expect(b.log).to.eql([]);
    });

    it("asks the matching sockets to leave each room", () => {
      const [a, b] = connect(nsp, adapter, "a", "b");
      adapter.delSockets(opts([], ["b"]), ["r1", "r2"]);
      expect(a.log).to.eql([
        ["leave", "r1"],
        ["leave", "r2"],
      ]);
      expect(b.log).to.eql([]);
    });

    it("disconnects the matching sockets, passing the close flag", () => {
      const [a, b] = connect(nsp, adapter, "a", "b");
      adapter.disconnectSockets(opts(["a"]), true);
      adapter.disconnectSockets(opts(["b"]), false);
      expect(a.log).to.eql([["disconnect", true]]);
      expect(b.log).to.eql([["disconnect", false]]);
    });

    it("copes with sockets that leave their rooms while being visited", () => {
      const sockets = connect(nsp, adapter, "a", "b", "c");
      for (const socket of sockets) {
        adapter.addAll(socket.id, new Set(["r1"]));
        socket.disconnect = () => adapter.delAll(socket.id);
      }
      adapter.disconnectSockets(opts(["r1"]), false);
      expect(adapter.rooms.size).to.be(0);
      expect(adapter.sids.size).to.be(0);
    });
  });

  describe("single node", () => {
    it("serverCount() resolves 1", async () => {
      const count = adapter.serverCount();
      expect(count).to.be.a(Promise);
      expect(await count).to.be(1);
    });

    it("serverSideEmit() warns that it is unsupported instead of throwing", () => {
      const warn = console.warn;
      const warnings = [];
      console.warn = (...args) => warnings.push(args);
      try {
        adapter.serverSideEmit(["hello", "world"]);
      } finally {
        console.warn = warn;
      }
      expect(warnings).to.eql([["this adapter does not support the serverSideEmit() functionality"]]);
    });

    it("does not persist sessions", async () => {
      connect(nsp, adapter, "a");
      adapter.persistSession({ sid: "a", pid: "p1", rooms: ["a"], data: {} });
      adapter.broadcast({ type: EVENT, data: ["x"] }, opts());
      expect(await adapter.restoreSession("p1", "whatever")).to.be(null);
    });

    it("init() and close() complete without a backend", async () => {
      await adapter.init();
      await adapter.close();
    });
  });
});

describe("SessionAwareAdapter", () => {
  let nsp;
  let adapter;

  const create = (maxDisconnectionDuration) => {
    nsp = createNamespace("/", maxDisconnectionDuration);
    adapter = new SessionAwareAdapter(nsp);
    return adapter;
  };

  afterEach(() => {
    mock.timers.reset();
    if (adapter) adapter.close();
    adapter = undefined;
  });

  it("is an Adapter", () => {
    expect(create()).to.be.an(Adapter);
  });

  it("appends a unique string offset to broadcast events and sends it to the clients", () => {
    create();
    const [a] = connect(nsp, adapter, "a");
    const p1 = { type: EVENT, data: ["news", 1] };
    const p2 = { type: EVENT, data: ["news", 2] };
    adapter.broadcast(p1, opts());
    adapter.broadcast(p2, opts());

    expect(p1.data.length).to.be(3);
    const [o1, o2] = [p1.data[2], p2.data[2]];
    expect(o1).to.be.a("string");
    expect(o2).to.be.a("string");
    expect(o1).not.to.be(o2);
    expect(a.writes[0].encoded).to.eql([`2["news",1,"${o1}"]`]);
  });

  it("does not tag packets with an ack id, volatile packets or non-event packets", () => {
    create();
    connect(nsp, adapter, "a");
    const withAck = { type: EVENT, data: ["x"], id: 3 };
    const volatile = { type: EVENT, data: ["x"] };
    const binary = { type: BINARY_EVENT, data: ["x"] };
    adapter.broadcast(withAck, opts());
    adapter.broadcast(volatile, opts([], [], { volatile: true }));
    adapter.broadcast(binary, opts());
    expect(withAck.data).to.eql(["x"]);
    expect(volatile.data).to.eql(["x"]);
    expect(binary.data).to.eql(["x"]);
  });

  it("does not tag packets broadcast with an ack", () => {
    create();
    connect(nsp, adapter, "a");
    const packet = { type: EVENT, data: ["x"] };
    adapter.broadcastWithAck(
      packet,
      opts(),
      () => {},
      () => {},
    );
    expect(packet.data).to.eql(["x"]);
  });

  it("restores a session with the packets missed after the offset that its rooms would have received", async () => {
    create();
    connect(nsp, adapter, "a", "b");
    adapter.addAll("a", new Set(["r1"]));
    const emit = (data, rooms, except, flags) => {
      const packet = { type: EVENT, data };
      adapter.broadcast(packet, opts(rooms, except, flags));
      return packet.data[packet.data.length - 1];
    };

    emit(["before"]);
    const offset = emit(["last seen"]);
    adapter.persistSession({ sid: "a", pid: "pid-a", rooms: ["a", "r1"], data: { user: "alice" } });
    adapter.delAll("a");
    nsp.sockets.delete("a");

    emit(["to all"]);
    emit(["to r1"], ["r1"]);
    emit(["to r2"], ["r2"]);
    emit(["to its own room"], ["a"]);
    emit(["to all but r1"], [], ["r1"]);
    emit(["to r1 but a"], ["r1"], ["a"]);
    emit(["volatile"], [], [], { volatile: true });

    const session = await adapter.restoreSession("pid-a", offset);
    expect(session.sid).to.be("a");
    expect(session.pid).to.be("pid-a");
    expect(session.rooms).to.eql(["a", "r1"]);
    expect(session.data).to.eql({ user: "alice" });
    expect(session.missedPackets.map((data) => data[0])).to.eql(["to all", "to r1", "to its own room"]);
    // each missed packet still carries its own offset, so the client can resume from it
    expect(session.missedPackets[0].length).to.be(2);
    expect(session.missedPackets[0][1]).to.be.a("string");
  });

  it("restores a session with no missed packets when the offset is the latest one", async () => {
    create();
    connect(nsp, adapter, "a");
    const packet = { type: EVENT, data: ["x"] };
    adapter.broadcast(packet, opts());
    adapter.persistSession({ sid: "a", pid: "p", rooms: ["a"], data: null });
    const session = await adapter.restoreSession("p", packet.data[1]);
    expect(session.missedPackets).to.eql([]);
  });

  it("resolves null for an unknown session or an unknown offset", async () => {
    create();
    connect(nsp, adapter, "a");
    const packet = { type: EVENT, data: ["x"] };
    adapter.broadcast(packet, opts());
    adapter.persistSession({ sid: "a", pid: "p", rooms: ["a"], data: null });
    expect(await adapter.restoreSession("unknown", packet.data[1])).to.be(null);
    expect(await adapter.restoreSession("p", "not-an-offset")).to.be(null);
    expect(await adapter.restoreSession("p", undefined)).to.be(null);
  });

  it("resolves null once the session is older than maxDisconnectionDuration", async () => {
    mock.timers.enable({ apis: ["setInterval", "Date"], now: 0 });
    create(50);
    connect(nsp, adapter, "a");
    const packet = { type: EVENT, data: ["x"] };
    adapter.broadcast(packet, opts());
    adapter.persistSession({ sid: "a", pid: "p", rooms: ["a"], data: null });
    expect(await adapter.restoreSession("p", packet.data[1])).to.be.ok();
    mock.timers.tick(80);
    expect(await adapter.restoreSession("p", packet.data[1])).to.be(null);
  });

  it("drops expired packets with a periodic timer", async () => {
    mock.timers.enable({ apis: ["setInterval", "Date"], now: 0 });
    create(100 * 1000);
    connect(nsp, adapter, "a");
    const emit = (data) => {
      const packet = { type: EVENT, data };
      adapter.broadcast(packet, opts());
      return packet.data[1];
    };

    // one second at a time: a single large tick would run the sweep with the final clock
    const advance = (seconds) => {
      for (let i = 0; i < seconds; i++) mock.timers.tick(1000);
    };

    const old = emit(["old"]);
    advance(50);
    const recent = emit(["recent"]);
    advance(55);
    adapter.persistSession({ sid: "a", pid: "p", rooms: ["a"], data: null });
    // not swept yet: the old packet is still known
    expect((await adapter.restoreSession("p", old)).missedPackets.map((d) => d[0])).to.eql(["recent"]);

    // the sweep at 120s drops what was emitted before 20s
    advance(15);
    expect(await adapter.restoreSession("p", old)).to.be(null);
    expect((await adapter.restoreSession("p", recent)).missedPackets).to.eql([]);
  });

  it("does not keep the process alive nor start a timer per packet", () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    create();
    connect(nsp, adapter, "a");
    for (let i = 0; i < 100; i++) adapter.broadcast({ type: EVENT, data: ["x", i] }, opts());
    adapter.persistSession({ sid: "a", pid: "p", rooms: ["a"], data: null });
    expect(timers()).to.be(before);
  });
});
