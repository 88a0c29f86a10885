"use strict";

const expect = require("expect.js");
const { forEachTransport, useHarness, waitFor, until } = require("./support/util");

/**
 * Connects `n` clients and resolves [io, serverSockets, clients]; every client
 * records the "msg" events it receives in `client.got`.
 */
async function setup(h, n, serverOpts, nsp = "/") {
  const io = await h.server(serverOpts);
  const sockets = [];
  io.of(nsp).on("connection", (s) => sockets.push(s));
  const clients = [];
  for (let i = 0; i < n; i++) {
    const [, client] = await Promise.all([waitFor(io.of(nsp), "connection"), h.connect(nsp)]);
    client.got = [];
    client.on("msg", (...args) => client.got.push(args.length === 1 ? args[0] : args));
    clients.push(client);
  }
  // match the server sockets with the clients by id
  const byId = new Map(sockets.map((s) => [s.id, s]));
  return [io, clients.map((c) => byId.get(c.id)), clients];
}

/**
 * Broadcasts a marker after the events under test and waits until every client got it:
 * the events before it, sent in order on the same connections, are in by then.
 */
async function flush(io, clients, nsp = "/") {
  const flushed = Promise.all(clients.map((c) => waitFor(c, "flushed").catch(() => {})));
  io.of(nsp).emit("flushed");
  await flushed;
}

const received = (clients) => clients.map((c) => c.got);

describe("broadcasting", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports });

    it("io.emit reaches every client of the main namespace", async () => {
      const [io, , clients] = await setup(h, 3);
      expect(io.emit("msg", 1, "two")).to.be(true);
      await flush(io, clients);
      expect(received(clients)).to.eql([[[1, "two"]], [[1, "two"]], [[1, "two"]]]);
    });

    it("broadcasts of every frame header size arrive intact, multibyte text included", async () => {
      const [io, , clients] = await setup(h, 2);
      // the frame of '2["msg","…"]' with the Engine.IO type: lengths around 125 and 65535 bytes
      const overhead = '42["msg",""]'.length;
      const texts = [125, 126, 127, 65535, 65536, 70000].map((n) => "x".repeat(n - overhead));
      texts.push("é€😀".repeat(30), "é€😀".repeat(9000));
      for (const text of texts) io.emit("msg", text);
      await flush(io, clients);
      expect(received(clients)).to.eql([texts, texts]);
    });

    it("io.to(room) / io.in(room) reach the room members only", async () => {
      const [io, sockets, clients] = await setup(h, 3);
      sockets[0].join("r");
      sockets[1].join("r");
      io.to("r").emit("msg", "to");
      io.in("r").emit("msg", "in");
      await flush(io, clients);
      expect(received(clients)).to.eql([["to", "in"], ["to", "in"], []]);
    });

    it("several rooms reach their union once, whichever way they are chained", async () => {
      const [io, sockets, clients] = await setup(h, 4);
      sockets[0].join(["a", "b"]);
      sockets[1].join("a");
      sockets[2].join("b");
      io.to("a").to("b").emit("msg", 1);
      io.to(["a", "b"]).emit("msg", 2);
      io.in("a").in(["b", "a"]).emit("msg", 3);
      await flush(io, clients);
      expect(received(clients)).to.eql([[1, 2, 3], [1, 2, 3], [1, 2, 3], []]);
    });

    it("io.except(room) excludes the room; it combines with to()", async () => {
      const [io, sockets, clients] = await setup(h, 3);
      sockets[0].join(["a", "vip"]);
      sockets[1].join("a");
      io.except("vip").emit("msg", "not vip");
      io.to("a").except(["vip"]).emit("msg", "a not vip");
      io.except(sockets[2].id).emit("msg", "not #2");
      await flush(io, clients);
      expect(received(clients)).to.eql([["not #2"], ["not vip", "a not vip", "not #2"], ["not vip"]]);
    });

    it("a socket id is a room: io.to(socket.id) targets one client", async () => {
      const [io, sockets, clients] = await setup(h, 2);
      io.to(sockets[1].id).emit("msg", "private");
      await flush(io, clients);
      expect(received(clients)).to.eql([[], ["private"]]);
    });

    it("socket.broadcast.emit reaches everyone but the sender", async () => {
      const [io, sockets, clients] = await setup(h, 3);
      sockets[0].broadcast.emit("msg", "hi");
      await flush(io, clients);
      expect(received(clients)).to.eql([[], ["hi"], ["hi"]]);
    });

    it("socket.to(room) excludes the sender even when it is in the room", async () => {
      const [io, sockets, clients] = await setup(h, 3);
      sockets.forEach((s) => s.join("room"));
      sockets[0].to("room").emit("msg", "to");
      sockets[0].in("room").emit("msg", "in");
      sockets[1].except("room").emit("msg", "nobody");
      await flush(io, clients);
      expect(received(clients)).to.eql([[], ["to", "in"], ["to", "in"]]);
    });

    it("namespace broadcasts stay in their namespace", async () => {
      const io = await h.server();
      io.of("/chat");
      const main = await h.connect("/");
      const chat = await h.connect("/chat");
      const chatGot = waitFor(chat, "msg");
      const mainGot = waitFor(main, "msg");
      io.of("/chat").emit("msg", "chat");
      io.emit("msg", "main");
      expect(await chatGot).to.be("chat");
      expect(await mainGot).to.be("main");
      io.of("/chat").to("nobody-here").emit("msg", "lost");
      main.got = [];
      chat.got = [];
      main.on("msg", (m) => main.got.push(m));
      chat.on("msg", (m) => chat.got.push(m));
      // positive control, sent after: it arrives, the lost event before it did not
      const controls = Promise.all([waitFor(main, "control"), waitFor(chat, "control")]);
      io.of("/chat").emit("control");
      io.emit("control");
      await controls;
      expect([main.got, chat.got]).to.eql([[], []]);
    });

    it("io.local, io.volatile and io.compress(false) still deliver", async () => {
      const [io, , clients] = await setup(h, 2);
      io.local.emit("msg", "local");
      io.compress(false).emit("msg", "uncompressed");
      await flush(io, clients);
      await until(
        () => [...io.sockets.sockets.values()].every((s) => s.conn.transport.writable && !s.conn.upgrading),
        "the transports are writable for the volatile packet",
      );
      io.volatile.emit("msg", "volatile");
      await flush(io, clients);
      expect(received(clients)).to.eql([
        ["local", "uncompressed", "volatile"],
        ["local", "uncompressed", "volatile"],
      ]);
    });

    it("broadcasts binary payloads", async () => {
      const [io, , clients] = await setup(h, 2);
      io.emit("msg", { file: Buffer.from([1, 2, 3]) });
      await flush(io, clients);
      for (const c of clients) {
        expect(c.got).to.have.length(1);
        expect([...Buffer.from(c.got[0].file)]).to.eql([1, 2, 3]);
      }
    });

    describe("with acknowledgements", () => {
      it("io.timeout(ms).emit collects one response per client", async () => {
        const [io, , clients] = await setup(h, 3);
        clients.forEach((c, i) => c.on("q", (n, cb) => cb(n * 10 + i)));
        const [err, responses] = await new Promise((resolve) =>
          io.timeout(2000).emit("q", 4, (...args) => resolve(args)),
        );
        expect(err).to.be(null);
        expect(responses.sort()).to.eql([40, 41, 42]);
      });

      it("io.timeout(ms).emit reports the timeout with the responses received so far", async () => {
        const [io, , clients] = await setup(h, 3);
        clients[0].on("q", (cb) => cb("first"));
        clients[1].on("q", (cb) => cb("second"));
        clients[2].on("q", () => {}); // never answers
        const start = Date.now();
        const [err, responses] = await new Promise((resolve) =>
          io.timeout(200).emit("q", (...args) => resolve(args)),
        );
        expect(err).to.be.an(Error);
        expect(err.message).to.be("operation has timed out");
        expect(responses.sort()).to.eql(["first", "second"]);
        expect(Date.now() - start).to.be.within(150, 2000);
      });

      it("answers at once with no error and no response when nobody is targeted", async () => {
        const [io] = await setup(h, 1);
        const [err, responses] = await new Promise((resolve) =>
          io
            .to("empty-room")
            .timeout(5000)
            .emit("q", (...args) => resolve(args)),
        );
        expect(err).to.be(null);
        expect(responses).to.eql([]);
      });

      it("to(room).timeout(ms).emitWithAck resolves with the room's responses", async () => {
        const [io, sockets, clients] = await setup(h, 3);
        sockets[1].join("r");
        sockets[2].join("r");
        clients.forEach((c, i) => c.on("q", (cb) => cb(i)));
        const responses = await io.to("r").timeout(2000).emitWithAck("q");
        expect(responses.sort()).to.eql([1, 2]);
      });

      it("timeout(ms).emitWithAck rejects on timeout", async () => {
        const [io] = await setup(h, 2);
        let error;
        try {
          await io.timeout(100).emitWithAck("unanswered");
        } catch (e) {
          error = e;
        }
        expect(error).to.be.an(Error);
        expect(error.message).to.be("operation has timed out");
      });

      // the in-memory adapter, and socket.io-adapter's, on which the official adapters build
      for (const [label, adapter] of [
        ["", undefined],
        [" (socket.io-adapter's Adapter)", require("socket.io-adapter").Adapter],
      ]) {
        it(`emitWithAck timing out rejects with err.responses and leaves no pending ack${label}`, async () => {
          const [io, sockets, clients] = await setup(h, 3, adapter && { adapter });
          clients[0].on("q", (cb) => cb("first"));
          clients[1].on("q", (cb) => cb("second"));
          clients[2].on("q", () => {}); // never answers
          let error;
          try {
            await io.timeout(200).emitWithAck("q");
          } catch (e) {
            error = e;
            // checked at once: nothing left for the caller to wait for
            expect(sockets.map((s) => s.acks.size)).to.eql([0, 0, 0]);
          }
          expect(error).to.be.an(Error);
          expect(error.message).to.be("operation has timed out");
          expect(error.responses.sort()).to.eql(["first", "second"]);

          // the callback form too; its error carries no responses (they are the second argument)
          const [err, responses] = await new Promise((resolve) =>
            io
              .to(sockets[2].id)
              .timeout(100)
              .emit("q", (...args) => {
                expect(sockets.map((s) => s.acks.size)).to.eql([0, 0, 0]);
                resolve(args);
              }),
          );
          expect(err.message).to.be("operation has timed out");
          expect(err.responses).to.be(undefined);
          expect(responses).to.eql([]);

          // the acks of later broadcasts still work
          expect(await io.timeout(2000).to(sockets[0].id).emitWithAck("q")).to.eql(["first"]);
        });
      }

      it("socket.broadcast.timeout(ms).emit collects the others' responses", async () => {
        const [, sockets, clients] = await setup(h, 3);
        clients.forEach((c, i) => c.on("q", (cb) => cb(i)));
        const [err, responses] = await new Promise((resolve) =>
          sockets[0].broadcast.timeout(2000).emit("q", (...args) => resolve(args)),
        );
        expect(err).to.be(null);
        expect(responses.sort()).to.eql([1, 2]);
      });
    });
  });
});
