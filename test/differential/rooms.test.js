"use strict";

// A socket's own room (adapter.rooms.get(socket.id), the sockets a broadcast to its id
// reaches) and its rooms (adapter.sids.get(socket.id), which socket.rooms returns) are two
// different things that happen to hold the same ids right after the connection. Every
// scenario below connects real socket.io-client sockets to a real http server, on ours and
// on the reference, and records what a user can see of both: the maps, the Sets handed out,
// where broadcasts land and the adapter's room events.
const http = require("http");
const ioc = require("socket.io-client");
const { same } = require("./harness");
const { listen, closeHttp } = require("../support/servers");
const { waitFor, until } = require("../support/wait");

const LABELS = ["A", "B", "C"];

/**
 * Starts a server on `impl` and connects `n` websocket clients; the sockets are named A, B,
 * C... in the observations (ids differ from run to run).
 */
async function setup(impl, n) {
  const httpServer = http.createServer();
  const io = new (impl.sio().Server)(httpServer);
  const port = await listen(httpServer);
  const sockets = [];
  const clients = [];
  const names = new Map();
  const connect = async () => {
    const client = ioc(`http://localhost:${port}`, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
    });
    const [socket] = await Promise.all([waitFor(io, "connection"), waitFor(client, "connect")]);
    client.received = [];
    client.on("m", (tag) => client.received.push(tag));
    names.set(socket.id, LABELS[sockets.length]);
    sockets.push(socket);
    clients.push(client);
    return socket;
  };
  for (let i = 0; i < n; i++) await connect();
  const name = (value) => {
    if (typeof value === "string") return names.get(value) || value;
    if (value instanceof Set || Array.isArray(value)) return [...value].map(name);
    return value;
  };
  const adapter = io.of("/").adapter;
  const env = {
    io,
    adapter,
    sockets,
    clients,
    connect,
    name,
    /** adapter.rooms or adapter.sids as [[key, [members]]], ids named */
    map: (m) => [...m].map(([key, set]) => [name(key), name(set)]),
    /**
     * Runs `emit(tag)` then a broadcast to all as a marker, and resolves which client got
     * which tags: a connection delivers in order, so once the marker is in, so is the rest.
     */
    async deliveries(emit) {
      const live = clients.filter((c) => c.connected);
      for (const c of live) c.received = [];
      emit();
      io.emit("m", "marker");
      await until(() => live.every((c) => c.received.includes("marker")), "the marker arrives");
      return live.map((c) => [names.get(c.id), c.received.filter((t) => t !== "marker")]);
    },
    /** Disconnects client `i` and resolves once the server side is gone. */
    async disconnect(i) {
      const gone = waitFor(sockets[i], "disconnect");
      clients[i].disconnect();
      await gone;
    },
    async close() {
      for (const c of clients) c.disconnect();
      io.close();
      await closeHttp(httpServer);
    },
  };
  return env;
}

/** Runs `body(env)` on a fresh setup of `n` sockets and closes it, whatever happens. */
async function withSockets(impl, n, body) {
  const env = await setup(impl, n);
  try {
    return await body(env);
  } finally {
    await env.close();
  }
}

describe("differential: a socket's own room and socket.rooms", () => {
  same("socket.rooms.add(<another socket's id>) without join(): where io.to(id) lands", (impl) =>
    withSockets(impl, 3, async (env) => {
      const { io, adapter, sockets, name, map } = env;
      const [a, b] = sockets;
      a.rooms.add(b.id);
      return {
        rooms: map(adapter.rooms),
        sids: map(adapter.sids),
        ownRoomSize: io.of("/").adapter.rooms.get(a.id).size,
        toA: await env.deliveries(() => io.to(a.id).emit("m", "to A")),
        exceptA: await env.deliveries(() => io.except(a.id).emit("m", "except A")),
        inA: name((await io.in(a.id).fetchSockets()).map((s) => s.id)),
        allSockets: name(await io.in(a.id).allSockets()),
      };
    }),
  );

  same("socket.rooms.add(<room>) without join(): the rooms left after disconnect", (impl) =>
    withSockets(impl, 2, async (env) => {
      const { io, adapter, sockets, name, map } = env;
      const [a, b] = sockets;
      a.rooms.add("x");
      a.rooms.add(b.id);
      const before = {
        rooms: map(adapter.rooms),
        sids: map(adapter.sids),
        ownRoomSize: adapter.rooms.get(a.id).size,
        toX: await env.deliveries(() => io.to("x").emit("m", "to x")),
      };
      const events = [];
      for (const event of ["create-room", "delete-room", "join-room", "leave-room"]) {
        adapter.on(event, (room, id) => events.push([event, name(room), name(id)]));
      }
      await env.disconnect(0);
      return {
        before,
        events,
        rooms: map(adapter.rooms),
        sids: map(adapter.sids),
        socketRooms: name(a.rooms),
        // the id of a socket that is gone must reach no one
        toA: await env.deliveries(() => io.to(a.id).emit("m", "to A")),
      };
    }),
  );

  same("a Set held from adapter.rooms.get(id) is not changed by join(), leave() or disconnect", (impl) =>
    withSockets(impl, 1, async (env) => {
      const { adapter, sockets, name } = env;
      const [a] = sockets;
      const held = adapter.rooms.get(a.id);
      const heldRooms = a.rooms;
      const steps = [];
      const look = (step) =>
        steps.push({
          step,
          held: name(held),
          heldIsCurrent: held === adapter.rooms.get(a.id),
          heldIsSocketRooms: held === a.rooms,
          heldRooms: name(heldRooms),
        });
      look("connected");
      a.join("r1");
      look("join r1");
      a.leave("r1");
      look("leave r1");
      await env.disconnect(0);
      look("disconnected");
      return steps;
    }),
  );

  same("socket.rooms.delete(socket.id): io.to(socket.id) still reaches the socket", (impl) =>
    withSockets(impl, 2, async (env) => {
      const { io, adapter, sockets, name, map } = env;
      const [a] = sockets;
      a.rooms.delete(a.id);
      const observed = {
        socketRooms: name(a.rooms),
        rooms: map(adapter.rooms),
        sids: map(adapter.sids),
        toA: await env.deliveries(() => io.to(a.id).emit("m", "to A")),
        exceptA: await env.deliveries(() => io.except(a.id).emit("m", "except A")),
        inA: name((await io.in(a.id).fetchSockets()).map((s) => s.id)),
      };
      await env.disconnect(0);
      observed.afterDisconnect = { rooms: map(adapter.rooms), sids: map(adapter.sids) };
      return observed;
    }),
  );

  same(
    "adapter.rooms, adapter.sids, room sizes, fetchSockets() rooms and socket.rooms through a socket's life",
    (impl) =>
      withSockets(impl, 2, async (env) => {
        const { io, adapter, sockets, name, map } = env;
        const [a, b] = sockets;
        const snapshots = [];
        const snapshot = async (step) => {
          const fetched = await io.fetchSockets();
          snapshots.push({
            step,
            rooms: map(adapter.rooms),
            sids: map(adapter.sids),
            ownRoomSize: io.of("/").adapter.rooms.get(a.id)?.size,
            ownRoomIsSocketRooms: adapter.rooms.get(a.id) === adapter.sids.get(a.id),
            socketRoomsIsSids: a.rooms === adapter.sids.get(a.id),
            fetched: fetched.map((s) => [name(s.id), name(s.rooms)]),
            socketRooms: [name(a.rooms), name(b.rooms)],
          });
        };
        await snapshot("connected");
        a.join("r1");
        b.join(["r1", "r2"]);
        await snapshot("joined");
        b.join(a.id);
        await snapshot("B joined A's id");
        a.leave("r1");
        await snapshot("A left r1");
        const heldRooms = a.rooms;
        await env.disconnect(0);
        await snapshot("A disconnected");
        snapshots.push({ heldRoomsAfterDisconnect: name(heldRooms) });
        return snapshots;
      }),
  );

  same("room events, in order, and the rooms as each listener sees them", (impl) =>
    withSockets(impl, 2, async (env) => {
      const { io, adapter, sockets, name } = env;
      const [a, b] = sockets;
      const events = [];
      // raw ids: a socket connecting is named once its connection completes
      const record = (event) => (room, id) =>
        events.push([
          event,
          room,
          id,
          // what a listener reads at that moment
          adapter.rooms.has(room) ? [...adapter.rooms.get(room)] : null,
          adapter.sids.has(id) ? [...adapter.sids.get(id)] : null,
        ]);
      for (const event of ["create-room", "delete-room", "join-room", "leave-room"]) {
        adapter.on(event, record(event));
      }
      const steps = [];
      const step = async (title, action) => {
        events.length = 0;
        await action();
        steps.push([title, events.map((e) => e.map(name))]);
      };
      await step("a socket connects", () => env.connect());
      const c = sockets[2];
      await step("join", () => a.join(["r1", "r2"]));
      await step("join an existing room", () => b.join("r1"));
      await step("leave", () => a.leave("r1"));
      await step("leave the last member", () => a.leave("r2"));
      await step("socketsJoin", () => io.in(a.id).socketsJoin(["s1", "r1"]));
      await step("socketsLeave", () => io.in("r1").socketsLeave("r1"));
      await step("join the id of another socket", () => c.join(b.id));
      await step("leave its own room", () => b.leave(b.id));
      await step("disconnect", () => env.disconnect(0));
      await step("disconnectSockets", async () => {
        const gone = Promise.all([waitFor(b, "disconnect"), waitFor(c, "disconnect")]);
        io.disconnectSockets();
        await gone;
      });
      return steps;
    }),
  );
});
