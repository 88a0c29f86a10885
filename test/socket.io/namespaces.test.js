"use strict";

const expect = require("expect.js");
const {
  forEachTransport,
  useHarness,
  connected,
  connectError,
  waitFor,
  expectNoEvent,
  sleep,
  until,
} = require("./support/util");

describe("namespaces", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports });

    it("connects to the main namespace by default", async () => {
      const io = await h.server();
      const [socket, client] = await Promise.all([waitFor(io, "connection"), h.connect()]);
      expect(socket.nsp).to.be(io.sockets);
      expect(socket.nsp.name).to.be("/");
      expect(socket.id).to.be(client.id);
      expect(io.sockets.sockets.get(socket.id)).to.be(socket);
    });

    it("emits both 'connection' and 'connect' on the namespace", async () => {
      const io = await h.server();
      const both = Promise.all([waitFor(io.sockets, "connection"), waitFor(io.sockets, "connect")]);
      await h.connect();
      const [a, b] = await both;
      expect(a).to.be(b);
    });

    it("io.of(name) creates a namespace; clients connect to it only", async () => {
      const io = await h.server();
      const chat = io.of("/chat");
      expect(io.of("/chat")).to.be(chat);
      expect(io.of("chat")).to.be(chat);
      const mainSpy = [];
      io.on("connection", (s) => mainSpy.push(s));
      const [socket, client] = await Promise.all([waitFor(chat, "connection"), h.connect("/chat")]);
      expect(socket.nsp).to.be(chat);
      expect(chat.name).to.be("/chat");
      expect(chat.sockets.size).to.be(1);
      // positive control: "/" joined afterwards over the same connection (packets in order)
      // is seen there; nothing else was
      const control = client.io.socket("/");
      const [controlSocket] = await Promise.all([waitFor(io, "connection"), connected(control)]);
      const others = mainSpy.filter((s) => s !== controlSocket);
      expect(others).to.have.length(0);
      expect([...io.sockets.sockets.values()].filter((s) => s !== controlSocket).length).to.be(0);
    });

    it("io.of(name, fn) registers a connection listener", async () => {
      const io = await h.server();
      const got = new Promise((resolve) => io.of("/fn", resolve));
      await h.connect("/fn");
      const socket = await got;
      expect(socket.nsp.name).to.be("/fn");
    });

    it("multiplexes several namespaces over one connection", async () => {
      const io = await h.server();
      io.of("/a").on("connection", (s) => s.emit("which", "a"));
      io.of("/b").on("connection", (s) => s.emit("which", "b"));
      const a = h.client("/a");
      const b = a.io.socket("/b");
      h.clients.push(b);
      const [wa, wb] = await Promise.all([waitFor(a, "which"), waitFor(b, "which")]);
      expect([wa, wb]).to.eql(["a", "b"]);
      expect(io.engine.clientsCount).to.be(1);
    });

    it("rejects an unknown namespace with 'Invalid namespace'", async () => {
      const io = await h.server();
      const err = await connectError(h.client("/doesnotexist"));
      expect(err.message).to.be("Invalid namespace");
      expect(io._nsps.has("/doesnotexist")).to.be(false);
    });

    it("leaving one namespace keeps the others connected", async () => {
      const io = await h.server();
      io.on("connection", (s) => s.on("ping", (cb) => cb("pong")));
      const reason = new Promise((resolve) =>
        io.of("/chat").on("connection", (s) => s.on("disconnect", resolve)),
      );
      const main = await h.connect();
      const chat = main.io.socket("/chat");
      h.clients.push(chat);
      await connected(chat);
      chat.disconnect();
      expect(await reason).to.be("client namespace disconnect");
      expect(await main.timeout(2000).emitWithAck("ping")).to.be("pong");
    });

    it("three namespaces over one connection: each gets its own events, one left and joined again, all closed together", async () => {
      const io = await h.server();
      const names = ["/", "/a", "/b"];
      const live = new Map();
      const reasons = [];
      for (const name of names) {
        io.of(name).on("connection", (s) => {
          live.set(name, s);
          s.on("which", (cb) => cb(name));
          s.on("disconnect", (reason) => reasons.push([name, reason]));
        });
      }
      const main = await h.connect();
      const a = main.io.socket("/a");
      const b = main.io.socket("/b");
      h.clients.push(a, b);
      await Promise.all([connected(a), connected(b)]);
      expect(io.engine.clientsCount).to.be(1);
      const answers = await Promise.all([main, a, b].map((c) => c.timeout(2000).emitWithAck("which")));
      expect(answers).to.eql(names);

      a.disconnect();
      await until(() => reasons.length === 1);
      expect(reasons).to.eql([["/a", "client namespace disconnect"]]);
      expect(await b.timeout(2000).emitWithAck("which")).to.be("/b");
      a.connect();
      await connected(a);
      expect(await a.timeout(2000).emitWithAck("which")).to.be("/a");

      main.io.engine.close();
      await until(() => reasons.length === 4);
      expect(reasons.slice(1).sort()).to.eql([
        ["/", "transport close"],
        ["/a", "transport close"],
        ["/b", "transport close"],
      ]);
      for (const s of live.values()) expect(s.connected).to.be(false);
    });

    it("namespaces are isolated: an emit on one does not reach another", async () => {
      const io = await h.server();
      io.of("/chat");
      const main = await h.connect();
      const chat = await h.connect("/chat");
      const got = waitFor(chat, "hello");
      const none = expectNoEvent(main, "hello", 200);
      io.of("/chat").emit("hello", "chat only");
      expect(await got).to.be("chat only");
      await none;
    });

    describe("dynamic namespaces", () => {
      it("io.of(regex) accepts matching names and returns the parent namespace", async () => {
        const io = await h.server();
        const parent = io.of(/^\/dynamic-\d+$/);
        const created = waitFor(io, "new_namespace");
        const [socket] = await Promise.all([waitFor(parent, "connection"), h.connect("/dynamic-101")]);
        expect(socket.nsp.name).to.be("/dynamic-101");
        expect(socket.nsp).not.to.be(parent);
        expect((await created).name).to.be("/dynamic-101");
        expect(io._nsps.get("/dynamic-101")).to.be(socket.nsp);
        const err = await connectError(h.client("/dynamic-abc"));
        expect(err.message).to.be("Invalid namespace");
      });

      it("io.of(fn) lets the function decide with the name and the auth payload", async () => {
        const io = await h.server();
        const seen = [];
        const parent = io.of((name, auth, next) => {
          seen.push([name, auth]);
          next(null, auth.token === "ok");
        });
        const [socket] = await Promise.all([
          waitFor(parent, "connection"),
          h.connect("/room-1", { auth: { token: "ok" } }),
        ]);
        expect(socket.nsp.name).to.be("/room-1");
        const err = await connectError(h.client("/room-2", { auth: { token: "bad" } }));
        expect(err.message).to.be("Invalid namespace");
        expect(seen).to.eql([
          ["/room-1", { token: "ok" }],
          ["/room-2", { token: "bad" }],
        ]);
      });

      it("a parent namespace broadcasts to all its children only", async () => {
        const io = await h.server();
        const parent = io.of(/^\/dyn-\d+$/);
        const c1 = await h.connect("/dyn-1");
        const c2 = await h.connect("/dyn-2");
        const main = await h.connect("/");
        const got = Promise.all([waitFor(c1, "hello"), waitFor(c2, "hello")]);
        const none = expectNoEvent(main, "hello", 200);
        parent.emit("hello", 42);
        expect(await got).to.eql([42, 42]);
        await none;
      });

      it("a parent namespace middleware runs for each child", async () => {
        const io = await h.server();
        const parent = io.of(/^\/mw-\d+$/);
        parent.use((socket, next) => {
          next(socket.nsp.name === "/mw-1" ? null : new Error("only mw-1"));
        });
        await h.connect("/mw-1");
        const err = await connectError(h.client("/mw-2"));
        expect(err.message).to.be("only mw-1");
      });

      it("an existing static namespace takes precedence over the dynamic one", async () => {
        const io = await h.server();
        const parent = io.of(/.*/);
        const fixed = io.of("/fixed");
        const spy = [];
        parent.on("connection", (s) => spy.push(s));
        const [socket] = await Promise.all([waitFor(fixed, "connection"), h.connect("/fixed")]);
        expect(socket.nsp).to.be(fixed);
        // positive control: a dynamic name, connected after, reaches the parent
        await Promise.all([waitFor(parent, "connection"), h.connect("/dynamic")]);
        expect(spy.map((s) => s.nsp.name)).to.eql(["/dynamic"]);
        spy.pop();
        expect(spy).to.have.length(0);
      });

      it("keeps empty child namespaces by default", async () => {
        const io = await h.server();
        const parent = io.of(/^\/keep-\d+$/);
        const reason = new Promise((resolve) => parent.on("connection", (s) => s.on("disconnect", resolve)));
        const client = await h.connect("/keep-1");
        client.disconnect();
        await reason;
        // the child would be removed synchronously with its last socket's disconnection
        expect(io._nsps.has("/keep-1")).to.be(true);
      });

      it("cleanupEmptyChildNamespaces removes a child once its last socket leaves", async () => {
        const io = await h.server({ cleanupEmptyChildNamespaces: true });
        const parent = io.of(/^\/tmp-\d+$/);
        const reason = new Promise((resolve) => parent.on("connection", (s) => s.on("disconnect", resolve)));
        const c1 = await h.connect("/tmp-1");
        const c2 = await h.connect("/tmp-1");
        expect(io._nsps.has("/tmp-1")).to.be(true);
        c1.disconnect();
        await reason;
        expect(io._nsps.has("/tmp-1")).to.be(true);
        const last = waitFor(io._nsps.get("/tmp-1").sockets.values().next().value, "disconnect");
        c2.disconnect();
        await last;
        await until(() => !io._nsps.has("/tmp-1"), "the child is removed");
        expect(io._nsps.has("/tmp-1")).to.be(false);
        // the name is still accepted and the child re-created
        const [socket] = await Promise.all([waitFor(parent, "connection"), h.connect("/tmp-1")]);
        expect(socket.nsp.name).to.be("/tmp-1");
        expect(io._nsps.get("/tmp-1")).to.be(socket.nsp);
      });
    });
  });

  describe("connectTimeout", () => {
    const h = useHarness();

    it("closes a connection that joins no namespace in time", async () => {
      const io = await h.server({ connectTimeout: 150 });
      const peer = await h.rawWs();
      const start = Date.now();
      expect(io.engine.clientsCount).to.be(1);
      await peer.closedWithin(2000);
      expect(Date.now() - start).to.be.greaterThan(100);
      expect(io.engine.clientsCount).to.be(0);
    });

    it("does not close a connection that joined a namespace", async () => {
      await h.server({ connectTimeout: 150 });
      const peer = await h.rawWs();
      peer.send("40");
      expect((await peer.next()).slice(0, 2)).to.be("40");
      await sleep(400); // a silence window, well past connectTimeout (the test before shows the close within it)
      expect(peer.closed).to.be(false);
    });

    it("a connection that only failed to join an unknown namespace is closed", async () => {
      await h.server({ connectTimeout: 150 });
      const peer = await h.rawWs();
      peer.send("40/nope,");
      expect(await peer.next()).to.be('44/nope,{"message":"Invalid namespace"}');
      await peer.closedWithin(2000);
    });
  });

  describe("the server as the main namespace's emitter", () => {
    const { Server } = require("./support/util");
    const { REFERENCE } = require("../support/impl");

    it("forwards every EventEmitter method to the main namespace", () => {
      const io = new Server();
      const nsp = io.sockets;
      const a = () => {};
      const b = () => {};
      // the reference returns the namespace from the chainable methods, this package the server
      const chained = (result) => expect(result).to.be(REFERENCE ? nsp : io);
      chained(io.on("connection", a));
      chained(io.addListener("connection", b));
      expect(nsp.listeners("connection")).to.eql([a, b]);
      expect(io.listeners("connection")).to.eql([a, b]);
      expect(io.listenerCount("connection")).to.be(2);
      chained(io.prependListener("new_namespace", a));
      chained(io.prependOnceListener("new_namespace", b));
      expect(nsp.listeners("new_namespace")).to.eql([b, a]);
      expect(io.rawListeners("new_namespace")).to.have.length(2);
      expect(io.eventNames()).to.eql(nsp.eventNames());
      expect(io.eventNames()).to.contain("connection");
      chained(io.off("connection", a));
      chained(io.removeListener("connection", b));
      expect(nsp.listenerCount("connection")).to.be(0);
      chained(io.once("connection", a));
      expect(nsp.listenerCount("connection")).to.be(1);
      chained(io.removeAllListeners("connection"));
      expect(nsp.listenerCount("connection")).to.be(0);
      expect(nsp.listenerCount("new_namespace")).to.be(2);
      chained(io.removeAllListeners());
      expect(nsp.eventNames()).to.eql([]);
      chained(io.setMaxListeners(42));
      expect(nsp.getMaxListeners()).to.be(42);
      expect(io.getMaxListeners()).to.be(42);
    });

    it("'new_namespace' reaches the server's listeners", () => {
      const io = new Server();
      const created = [];
      io.on("new_namespace", (nsp) => created.push(nsp.name));
      io.of("/a");
      io.of("/a");
      io.of("/b");
      expect(created).to.eql(["/a", "/b"]);
    });
  });
});
