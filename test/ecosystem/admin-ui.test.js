"use strict";

// The published @socket.io/admin-ui (0.5.x) instruments our server as it does the
// reference: a socket.io-client on the "/admin" namespace, as the admin UI itself
// connects, must receive the server's state and its commands must act on sockets.
const { createServer } = require("http");
const os = require("os");
const expect = require("expect.js");
const { io: ioc } = require("socket.io-client");
const { instrument } = require("@socket.io/admin-ui");
const impl = require("../support/impl");
const { once, waitFor, record } = require("./support/peers");

const { Server } = impl.sio();

describe("@socket.io/admin-ui" + (impl.REFERENCE ? " (reference)" : ""), function () {
  this.timeout(10000);

  let httpServer, io, url;
  let clients;

  // attachLater: `new Server()`, instrument(), then io.attach(): the engine does not exist
  // yet when instrument() runs, as in `const io = new Server(); instrument(io); io.listen(port)`
  async function startServer(instrumentOpts, { attachLater = false } = {}) {
    httpServer = createServer();
    io = attachLater ? new Server() : new Server(httpServer);
    const setup = (nsp) => {
      nsp.use((socket, next) => {
        socket.data = { user: socket.handshake.auth.user };
        next();
      });
      nsp.on("connection", (socket) => {
        socket.on("join", (room, cb) => {
          socket.join(room);
          cb("joined " + room);
        });
        socket.on("leave", (room) => socket.leave(room));
      });
    };
    setup(io.of("/"));
    setup(io.of("/custom"));
    instrument(io, instrumentOpts);
    // created after instrument(): the admin UI must track it too
    setup(io.of("/late"));
    if (attachLater) io.attach(httpServer);
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    url = "http://127.0.0.1:" + httpServer.address().port;
  }

  async function connect(nsp, opts = {}) {
    const client = ioc(url + nsp, { forceNew: true, reconnection: false, ...opts });
    clients.push(client);
    await new Promise((resolve, reject) => {
      client.once("connect", resolve);
      client.once("connect_error", reject);
    });
    return client;
  }

  // the admin UI's own connection, recording everything the server tells it
  async function connectAdmin() {
    const admin = ioc(url + "/admin", { forceNew: true, reconnection: false });
    clients.push(admin);
    const rec = record(admin);
    await new Promise((resolve, reject) => {
      admin.once("connect", resolve);
      admin.once("connect_error", reject);
    });
    await waitFor(() => rec.events().includes("all_sockets"), 3000, "all_sockets");
    return { admin, rec };
  }

  // resolves with the args of the first `event` the admin received that matches `predicate`
  function adminGot(rec, event, predicate = () => true, ms = 3000) {
    return waitFor(
      () => rec.args(event).find((args) => predicate(...args)),
      ms,
      "admin event '" + event + "'",
    );
  }

  beforeEach(() => {
    clients = [];
  });

  afterEach(async () => {
    for (const client of clients) client.disconnect();
    if (io) await new Promise((resolve) => io.close(() => resolve()));
    io = null;
  });

  describe("development mode", () => {
    beforeEach(() => startServer({ auth: false, mode: "development" }));

    it("sends the config and all_sockets (serialized sockets of every namespace) on connect", async () => {
      const user = await connect("/", { auth: { user: "alice" }, transports: ["websocket"] });
      await connect("/custom", { auth: { user: "bob" }, transports: ["websocket"] });
      const { admin, rec } = await connectAdmin();

      const [config] = rec.args("config")[0];
      expect(config.supportedFeatures).to.contain("EMIT");
      expect(config.supportedFeatures).to.contain("JOIN");
      expect(config.supportedFeatures).to.contain("LEAVE");
      expect(config.supportedFeatures).to.contain("DISCONNECT");
      expect(config.supportedFeatures).to.contain("ALL_EVENTS");

      const [sockets] = rec.args("all_sockets")[0];
      const byNsp = Object.fromEntries(sockets.map((s) => [s.nsp, s]));
      expect(Object.keys(byNsp).sort()).to.eql(["/", "/admin", "/custom"]);
      const alice = byNsp["/"];
      expect(alice.id).to.be(user.id);
      // the admin UI shows the first 12 characters of the Engine.IO id
      expect(alice.clientId).to.be(user.io.engine.id.slice(0, 12));
      expect(alice.transport).to.be("websocket");
      expect(alice.data).to.eql({ user: "alice" });
      expect(alice.handshake.query.EIO).to.be("4");
      expect(alice.handshake.url).to.match(/^\/socket\.io\/\?/);
      expect(alice.rooms).to.eql([user.id]);
      expect(byNsp["/custom"].data).to.eql({ user: "bob" });
      expect(byNsp["/admin"].id).to.be(admin.id);
    });

    it("follows a socket's life: socket_connected, room_joined, event_received, event_sent, room_left, socket_disconnected", async () => {
      const { rec } = await connectAdmin();
      const user = await connect("/", { auth: { user: "carol" }, transports: ["websocket"] });
      const id = user.id;

      const [connected, when] = await adminGot(rec, "socket_connected", (s) => s.id === id);
      expect(connected).to.eql({
        id,
        clientId: user.io.engine.id.slice(0, 12),
        transport: "websocket",
        nsp: "/",
        data: { user: "carol" },
        handshake: connected.handshake,
        rooms: [id],
      });
      expect(connected.handshake.query).to.eql({ EIO: "4", transport: "websocket" });
      expect(connected.handshake.headers.host).to.be(url.slice("http://".length));
      expect(new Date(when).getTime()).to.be.greaterThan(Date.now() - 5000);
      await adminGot(rec, "room_joined", (nsp, room, sid) => nsp === "/" && room === id && sid === id);

      expect(await user.emitWithAck("join", "room1")).to.be("joined room1");
      await adminGot(rec, "room_joined", (nsp, room, sid) => nsp === "/" && room === "room1" && sid === id);
      // an event with an ack callback is reported without the callback
      await adminGot(rec, "event_received", (nsp, sid, args) => sid === id && args[0] === "join");
      expect(rec.args("event_received").find((a) => a[1] === id)[2]).to.eql(["join", "room1"]);

      // a broadcast goes through the adapter and is still reported per socket
      io.to("room1").emit("news", { n: 1 });
      await once(user, "news");
      await adminGot(rec, "event_sent", (nsp, sid, args) => sid === id && args[0] === "news");
      expect(rec.args("event_sent").find((a) => a[1] === id && a[2][0] === "news")[2]).to.eql([
        "news",
        { n: 1 },
      ]);

      user.emit("leave", "room1");
      await adminGot(rec, "room_left", (nsp, room, sid) => room === "room1" && sid === id);

      user.disconnect();
      const [nsp, , reason] = await adminGot(rec, "socket_disconnected", (n, sid) => sid === id);
      expect(nsp).to.be("/");
      expect(reason).to.be("client namespace disconnect");
      await adminGot(rec, "room_left", (n, room, sid) => room === id && sid === id);
    });

    it("reports the upgrade of a polling client with socket_updated", async () => {
      const { rec } = await connectAdmin();
      const user = await connect("/custom");
      const [connected] = await adminGot(rec, "socket_connected", (s) => s.id === user.id);
      expect(connected.nsp).to.be("/custom");
      expect(connected.transport).to.be("polling");
      const [update] = await adminGot(rec, "socket_updated", (s) => s.id === user.id && "transport" in s);
      expect(update).to.eql({ id: user.id, nsp: "/custom", transport: "websocket" });
    });

    it("tracks a namespace created after instrument()", async () => {
      const { rec } = await connectAdmin();
      const user = await connect("/late", { auth: { user: "dave" } });
      const [connected] = await adminGot(rec, "socket_connected", (s) => s.id === user.id);
      expect(connected.nsp).to.be("/late");
      expect(connected.data).to.eql({ user: "dave" });
      user.emit("hello", 1, "two");
      const [, , args] = await adminGot(
        rec,
        "event_received",
        (nsp, sid) => nsp === "/late" && sid === user.id,
      );
      expect(args).to.eql(["hello", 1, "two"]);
    });

    it("'emit' sends an event to the target socket, to a room, or to the whole namespace", async () => {
      const { admin } = await connectAdmin();
      const [u1, u2] = await Promise.all([
        connect("/", { transports: ["websocket"] }),
        connect("/", { transports: ["websocket"] }),
      ]);
      const r1 = record(u1);
      const r2 = record(u2);
      await u2.emitWithAck("join", "room2");

      admin.emit("emit", "/", u1.id, "to-one", 1);
      await once(u1, "to-one");
      admin.emit("emit", "/", "room2", "to-room", 2);
      await once(u2, "to-room");
      admin.emit("emit", "/", undefined, "to-all", { x: 3 });
      await waitFor(() => r1.events().includes("to-all") && r2.events().includes("to-all"));

      expect(r1.log).to.eql([
        ["to-one", 1],
        ["to-all", { x: 3 }],
      ]);
      expect(r2.log).to.eql([
        ["to-room", 2],
        ["to-all", { x: 3 }],
      ]);
    });

    it("'join' and 'leave' make the target socket join and leave a room", async () => {
      const { admin, rec } = await connectAdmin();
      const user = await connect("/custom", { transports: ["websocket"] });
      const serverSide = () => io.of("/custom").sockets.get(user.id);

      admin.emit("join", "/custom", "vip", user.id);
      await waitFor(() => serverSide().rooms.has("vip"), 3000, "join");
      await adminGot(
        rec,
        "room_joined",
        (nsp, room, sid) => nsp === "/custom" && room === "vip" && sid === user.id,
      );
      io.of("/custom").to("vip").emit("vip-news");
      await once(user, "vip-news");

      admin.emit("leave", "/custom", "vip", user.id);
      await waitFor(() => !serverSide().rooms.has("vip"), 3000, "leave");
      await adminGot(
        rec,
        "room_left",
        (nsp, room, sid) => nsp === "/custom" && room === "vip" && sid === user.id,
      );
    });

    it("'_disconnect' disconnects the target socket only, and closes its connection when asked", async () => {
      const { admin, rec } = await connectAdmin();
      const [u1, u2, u3] = await Promise.all([
        connect("/", { transports: ["websocket"] }),
        connect("/", { transports: ["websocket"] }),
        connect("/custom", { transports: ["websocket"] }),
      ]);

      const id1 = u1.id; // the client forgets its id once disconnected
      const gone = once(u1, "disconnect");
      admin.emit("_disconnect", "/", false, id1);
      expect((await gone)[0]).to.be("io server disconnect");
      const [, , reason] = await adminGot(rec, "socket_disconnected", (nsp, sid) => sid === id1);
      expect(reason).to.be("server namespace disconnect");
      expect(u2.connected).to.be(true);

      const closed = once(u3, "disconnect");
      admin.emit("_disconnect", "/custom", true, u3.id);
      expect((await closed)[0]).to.be("io server disconnect");
      await waitFor(() => !io.of("/custom").sockets.has(u3.id), 3000, "u3 to leave the namespace");
      await waitFor(() => io.engine.clientsCount === 2, 3000, "u3's connection to close");
      expect(u2.connected).to.be(true);
    });
  });

  describe("instrument() before the server is attached", () => {
    beforeEach(() => startServer({ auth: false, mode: "development" }, { attachLater: true }));

    it("sends server_stats every 2 s, counting clients, polling clients, namespaces and traffic", async () => {
      const { rec } = await connectAdmin();
      await connect("/", { transports: ["polling"] });
      await connect("/custom", { transports: ["websocket"] });
      const [stats] = await adminGot(rec, "server_stats", () => true, 3500);
      expect(stats.serverId).to.be(os.hostname());
      expect(stats.hostname).to.be(os.hostname());
      expect(stats.pid).to.be(process.pid);
      expect(stats.uptime).to.be.a("number");
      expect(stats.clientsCount).to.be(3);
      expect(stats.clientsCount).to.be(io.engine.clientsCount);
      expect(stats.pollingClientsCount).to.be(1);
      const nsps = Object.fromEntries(stats.namespaces.map((n) => [n.name, n.socketsCount]));
      expect(nsps).to.eql({ "/": 1, "/custom": 1, "/late": 0, "/admin": 1 });
      const types = new Set(stats.aggregatedEvents.map((e) => e.type));
      for (const type of ["rawConnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"]) {
        expect(types.has(type)).to.be(true);
      }
      const total = (type) =>
        stats.aggregatedEvents.filter((e) => e.type === type).reduce((sum, e) => sum + e.count, 0);
      expect(total("rawConnection")).to.be(3);
      expect(total("bytesIn")).to.be.greaterThan(0);
      expect(total("bytesOut")).to.be.greaterThan(0);
    });
  });

  describe("production mode", () => {
    beforeEach(() => startServer({ auth: false, mode: "production" }));

    it("sends no per-socket detail, only the config and aggregated server_stats", async () => {
      const admin = ioc(url + "/admin", { forceNew: true, reconnection: false });
      clients.push(admin);
      const rec = record(admin);
      const [config] = await once(admin, "config");
      expect(config.supportedFeatures).to.contain("AGGREGATED_EVENTS");
      expect(config.supportedFeatures).not.to.contain("ALL_EVENTS");

      const user = await connect("/", { transports: ["websocket"] });
      user.emit("hello");
      await user.emitWithAck("join", "room1");
      const [stats] = await adminGot(rec, "server_stats", () => true, 3500);
      expect(stats.clientsCount).to.be(2);
      const nsps = Object.fromEntries(stats.namespaces.map((n) => [n.name, n.socketsCount]));
      expect(nsps).to.eql({ "/": 1, "/custom": 0, "/late": 0, "/admin": 1 });
      expect(stats.aggregatedEvents.some((e) => e.type === "packetsIn")).to.be(true);
      const detailed = ["all_sockets", "socket_connected", "room_joined", "event_received", "event_sent"];
      expect(rec.events().filter((e) => detailed.includes(e))).to.eql([]);
    });
  });

  describe("basic authentication", () => {
    // bcrypt hash of "changeit" (cost 4, to keep the test fast)
    const password = "$2a$04$dDsZ/xYHHt0Yx5nDGEP1D.0B5bnfKJw/piiZw1OAAjHguL3jSVr46";
    beforeEach(() =>
      startServer({ auth: { type: "basic", username: "admin", password }, mode: "development" }),
    );

    const connectError = (auth) =>
      new Promise((resolve, reject) => {
        const admin = ioc(url + "/admin", { forceNew: true, reconnection: false, auth });
        clients.push(admin);
        admin.once("connect", () => reject(new Error("connected with " + JSON.stringify(auth))));
        admin.once("connect_error", resolve);
      });

    it("refuses wrong credentials with the middleware's error", async () => {
      expect((await connectError({ username: "admin", password: "wrong" })).message).to.be(
        "invalid credentials",
      );
      expect((await connectError({ username: "root", password: "changeit" })).message).to.be(
        "invalid credentials",
      );
      expect((await connectError({ sessionId: "made-up" })).message).to.be("invalid credentials");
    });

    it("accepts the credentials, hands out a session (emitted from the middleware) and accepts it later", async () => {
      const admin = ioc(url + "/admin", {
        forceNew: true,
        reconnection: false,
        auth: { username: "admin", password: "changeit" },
      });
      clients.push(admin);
      const rec = record(admin);
      await once(admin, "connect");
      // emitted before the connection was accepted, delivered once connected
      const [sessionId] = await waitFor(() => rec.args("session")[0], 3000, "session");
      expect(sessionId).to.be.a("string");
      await waitFor(() => rec.events().includes("all_sockets"), 3000, "all_sockets");
      admin.disconnect();

      const again = ioc(url + "/admin", { forceNew: true, reconnection: false, auth: { sessionId } });
      clients.push(again);
      const [config] = await once(again, "config");
      expect(config.supportedFeatures).to.contain("ALL_EVENTS");
    });
  });

  describe("readonly", () => {
    beforeEach(() => startServer({ auth: false, mode: "development", readonly: true }));

    it("advertises no write feature and ignores the commands", async () => {
      const { admin, rec } = await connectAdmin();
      const [config] = rec.args("config")[0];
      expect(config.supportedFeatures).not.to.contain("JOIN");
      expect(config.supportedFeatures).not.to.contain("DISCONNECT");

      const user = await connect("/", { transports: ["websocket"] });
      const r = record(user);
      admin.emit("join", "/", "vip", user.id);
      admin.emit("_disconnect", "/", false, user.id);
      admin.emit("emit", "/", user.id, "sneaky");
      // An ignored command has no answer to wait for. The control: an acknowledged event
      // on "/" over the admin's own connection, whose packets the server handles in order,
      // so its answer comes after the commands above were handled.
      const probe = admin.io.socket("/");
      probe.connect();
      expect(await probe.timeout(3000).emitWithAck("join", "probe-room")).to.be("joined probe-room");
      probe.disconnect();
      expect(io.of("/").sockets.get(user.id).rooms.has("vip")).to.be(false);
      expect(user.connected).to.be(true);
      expect(r.events()).to.eql([]);
    });
  });
});
