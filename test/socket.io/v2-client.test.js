"use strict";

const expect = require("expect.js");
const {
  forEachTransport,
  useHarness,
  waitFor,
  connected,
  disconnectReason,
  expectNoEvent,
} = require("./support/util");

/** Server with allowEIO3 and one connected v2 client; resolves [io, serverSocket, client]. */
async function pair(h, nsp = "/", opts = {}, serverOpts = {}) {
  const io = await h.server({ allowEIO3: true, ...serverOpts });
  const conn = waitFor(io.of(nsp), "connection");
  const client = h.clientV2(nsp, opts);
  await waitFor(client, "connect");
  return [io, await conn, client];
}

describe("socket.io-client v2 (EIO3) compatibility", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports });

    it("is refused without allowEIO3", async () => {
      const io = await h.server();
      const spy = [];
      io.on("connection", (s) => spy.push(s));
      const client = h.clientV2();
      const err = await waitFor(client, "connect_error");
      expect(err).to.be.ok();
      expect(client.connected).to.be(false);
      expect(spy).to.have.length(0);
    });

    it("connects with allowEIO3: protocol 3, id, handshake query", async () => {
      const [, socket, client] = await pair(h, "/", { query: { foo: "bar" } });
      expect(socket.conn.protocol).to.be(3);
      expect(socket.handshake.query.EIO).to.be("3");
      expect(socket.handshake.query.foo).to.be("bar");
      expect(socket.handshake.auth).to.eql({});
      // v2 clients know their socket by the engine id
      expect(socket.id).to.be(socket.conn.id);
      expect(client.id).to.be(socket.id);
    });

    it("a non-root namespace id is '<nsp>#<engine id>' as v2 clients expect", async () => {
      const io = await h.server({ allowEIO3: true });
      const conn = waitFor(io.of("/chat"), "connection");
      const client = h.clientV2("/chat");
      await waitFor(client, "connect");
      const socket = await conn;
      expect(socket.id).to.be(`/chat#${socket.conn.id}`);
      expect(client.id).to.be(socket.id);
    });

    it("events in both directions, with acks both ways", async () => {
      const [, socket, client] = await pair(h);
      socket.on("up", (a, b, cb) => cb(a + b));
      const sum = await new Promise((resolve) => client.emit("up", 1, 2, resolve));
      expect(sum).to.be(3);
      client.on("down", (obj, cb) => cb({ ...obj, seen: true }));
      const res = await socket.timeout(2000).emitWithAck("down", { x: 1 });
      expect(res).to.eql({ x: 1, seen: true });
    });

    it("binary in both directions, nested and in acks", async () => {
      const [, socket, client] = await pair(h);
      const got = waitFor(client, "bin");
      socket.emit("bin", Buffer.from([1, 2]), { nested: Buffer.from([5]) });
      const [buf, obj] = await got;
      expect([...buf]).to.eql([1, 2]);
      expect([...obj.nested]).to.eql([5]);

      const up = waitFor(socket, "up");
      client.emit("up", Buffer.from([9]), new Uint8Array([1, 2]).buffer, "s");
      const [b1, b2, s] = await up;
      expect(Buffer.isBuffer(b1)).to.be(true);
      expect([...b1]).to.eql([9]);
      expect([...b2]).to.eql([1, 2]);
      expect(s).to.be("s");

      client.on("ask", (cb) => cb(Buffer.from([3]), "x"));
      const answer = await new Promise((resolve) => socket.emit("ask", (...args) => resolve(args)));
      expect([...answer[0]]).to.eql([3]);
      expect(answer[1]).to.be("x");
    });

    it("namespaces: a v2 client joins '/' and the requested namespace", async () => {
      const io = await h.server({ allowEIO3: true });
      const main = waitFor(io, "connection");
      const chat = waitFor(io.of("/chat"), "connection");
      const client = h.clientV2("/chat");
      await waitFor(client, "connect");
      const [m, c] = await Promise.all([main, chat]);
      expect(m.conn).to.be(c.conn);
      const got = waitFor(client, "in-chat");
      io.of("/chat").emit("in-chat", "yes");
      expect(await got).to.be("yes");
    });

    it("an unknown namespace gets an 'error' event with 'Invalid namespace'", async () => {
      await h.server({ allowEIO3: true });
      const client = h.clientV2("/nope");
      const err = await waitFor(client, "error");
      expect(err.message || err).to.be("Invalid namespace");
    });

    it("a middleware error reaches the v2 client as an 'error' event", async () => {
      const io = await h.server({ allowEIO3: true });
      io.use((socket, next) => next(new Error("auth failed")));
      const client = h.clientV2();
      expect(await waitFor(client, "error")).to.be("auth failed");
    });

    it("a middleware error with data sends err.data to the v2 client", async () => {
      const io = await h.server({ allowEIO3: true });
      io.use((socket, next) => next(Object.assign(new Error("auth failed"), { data: { code: 42 } })));
      const client = h.clientV2();
      expect(await waitFor(client, "error")).to.eql({ code: 42 });
    });

    it("broadcasts reach v2 and v4 clients alike, rooms included", async () => {
      const io = await h.server({ allowEIO3: true });
      io.on("connection", (s) => s.join("room"));
      const v2 = h.clientV2();
      await waitFor(v2, "connect");
      const v4 = await h.connect();
      const both = Promise.all([waitFor(v2, "news"), waitFor(v4, "news")]);
      io.to("room").emit("news", { headline: "hi" });
      expect(await both).to.eql([{ headline: "hi" }, { headline: "hi" }]);
      const bin = Promise.all([waitFor(v2, "bin"), waitFor(v4, "bin")]);
      io.emit("bin", Buffer.from([7]));
      const [a, b] = await bin;
      expect([...Buffer.from(a)]).to.eql([7]);
      expect([...Buffer.from(b)]).to.eql([7]);
    });

    it("broadcast acks with timeout collect v2 and v4 answers", async () => {
      const io = await h.server({ allowEIO3: true });
      const v2 = h.clientV2();
      await waitFor(v2, "connect");
      const v4 = await h.connect();
      v2.on("q", (cb) => cb("v2"));
      v4.on("q", (cb) => cb("v4"));
      const responses = await io.timeout(2000).emitWithAck("q");
      expect(responses.sort()).to.eql(["v2", "v4"]);
    });

    it("server disconnect → v2 'io server disconnect'; v2 disconnect → 'client namespace disconnect'", async () => {
      const [io, socket, client] = await pair(h);
      const clientReason = disconnectReason(client);
      const serverReason = disconnectReason(socket);
      socket.disconnect();
      expect(await serverReason).to.be("server namespace disconnect");
      expect(await clientReason).to.be("io server disconnect");

      const conn = waitFor(io, "connection");
      const other = h.clientV2();
      await waitFor(other, "connect");
      const reason = disconnectReason(await conn);
      other.close();
      expect(await reason).to.be("client namespace disconnect");
    });

    it("the v2 client answers the server's heartbeat (no ping timeout)", async () => {
      const [, socket] = await pair(h, "/", {}, { pingInterval: 100, pingTimeout: 100 });
      await expectNoEvent(socket, "disconnect", 450);
      expect(socket.connected).to.be(true);
    });

    it("a v4 client keeps working next to v2 clients", async () => {
      const io = await h.server({ allowEIO3: true });
      io.on("connection", (s) => s.on("echo", (v, cb) => cb(v)));
      const v2 = h.clientV2();
      await waitFor(v2, "connect");
      const v4 = await connected(h.client());
      expect(await v4.timeout(2000).emitWithAck("echo", "v4")).to.be("v4");
      const v2Echo = await new Promise((resolve) => v2.emit("echo", "v2", resolve));
      expect(v2Echo).to.be("v2");
    });
  });
});
