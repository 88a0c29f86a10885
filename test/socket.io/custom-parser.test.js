"use strict";

const expect = require("expect.js");
const parser = require("socket.io-msgpack-parser");
const { forEachTransport, useHarness, waitFor, connectError, disconnectReason } = require("./support/util");

const bytes = (v) => [...new Uint8Array(v.buffer || v, v.byteOffset || 0, v.byteLength)];

describe("custom parser (socket.io-msgpack-parser on both sides)", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports, parser });

    async function pair(serverOpts = {}, nsp = "/") {
      const io = await h.server({ parser, ...serverOpts });
      const conn = waitFor(io.of(nsp), "connection");
      const client = await h.connect(nsp);
      return [io, await conn, client];
    }

    it("connects, with the auth payload decoded by the custom parser", async () => {
      const io = await h.server({ parser });
      const conn = waitFor(io, "connection");
      const client = await h.connect("/", { auth: { token: "abc", n: 1 } });
      const socket = await conn;
      expect(socket.handshake.auth).to.eql({ token: "abc", n: 1 });
      expect(socket.id).to.be(client.id);
    });

    it("events in both directions keep their types", async () => {
      const [, socket, client] = await pair();
      const down = waitFor(client, "down");
      socket.emit("down", 1, 2.5, "s", true, null, [1, [2]], { a: { b: "c" } });
      expect(await down).to.eql([1, 2.5, "s", true, null, [1, [2]], { a: { b: "c" } }]);
      const up = waitFor(socket, "up");
      client.emit("up", { list: [1, 2, 3] }, "x");
      expect(await up).to.eql([{ list: [1, 2, 3] }, "x"]);
    });

    it("binary needs no attachments: Buffers arrive intact both ways", async () => {
      const [, socket, client] = await pair();
      const down = waitFor(client, "bin");
      socket.emit("bin", { file: Buffer.from([1, 2, 3]) });
      expect(bytes((await down).file)).to.eql([1, 2, 3]);
      const up = waitFor(socket, "bin");
      client.emit("bin", Buffer.from([4, 5]));
      expect(bytes(await up)).to.eql([4, 5]);
    });

    it("acks and acks with timeout", async () => {
      const [, socket, client] = await pair();
      socket.on("q", (v, cb) => cb(v * 2));
      expect(await client.timeout(2000).emitWithAck("q", 21)).to.be(42);
      client.on("r", (cb) => cb("answer"));
      expect(await socket.timeout(2000).emitWithAck("r")).to.be("answer");
      let err;
      try {
        await socket.timeout(100).emitWithAck("unanswered");
      } catch (e) {
        err = e;
      }
      expect(err.message).to.be("operation has timed out");
    });

    it("namespaces, rooms and broadcasts", async () => {
      const io = await h.server({ parser });
      io.of("/chat").on("connection", (s) => s.join("room"));
      const a = await h.connect("/chat");
      const b = await h.connect("/chat");
      const both = Promise.all([waitFor(a, "news"), waitFor(b, "news")]);
      io.of("/chat").to("room").emit("news", { n: 1 });
      expect(await both).to.eql([{ n: 1 }, { n: 1 }]);
      const responses = [];
      a.on("poll", (cb) => cb("a"));
      b.on("poll", (cb) => cb("b"));
      responses.push(...(await io.of("/chat").timeout(2000).emitWithAck("poll")));
      expect(responses.sort()).to.eql(["a", "b"]);
    });

    it("middleware errors keep their message and data", async () => {
      const io = await h.server({ parser });
      io.use((socket, next) => next(Object.assign(new Error("denied"), { data: { why: "test" } })));
      const err = await connectError(h.client());
      expect(err.message).to.be("denied");
      expect(err.data).to.eql({ why: "test" });
    });

    it("an unknown namespace gets 'Invalid namespace'", async () => {
      await h.server({ parser });
      const err = await connectError(h.client("/nope"));
      expect(err.message).to.be("Invalid namespace");
    });

    it("server-side disconnect reaches the client", async () => {
      const [, socket, client] = await pair();
      const reason = disconnectReason(client);
      socket.disconnect();
      expect(await reason).to.be("io server disconnect");
    });

    it("a client with the default parser cannot connect", async () => {
      await h.server({ parser, connectTimeout: 300 });
      const client = h.client("/", { parser: undefined }); // falls back to the default codec
      const outcome = await Promise.race([
        connectError(client, 2000).then(() => "connect_error"),
        disconnectReason(client, 2000).then(() => "disconnected"),
      ]).catch((e) => e.message);
      expect(outcome).not.to.be("unexpectedly connected");
      expect(client.connected).to.be(false);
    });
  });
});
