"use strict";

const expect = require("expect.js");
const {
  forEachTransport,
  useHarness,
  connected,
  connectError,
  waitFor,
  disconnectReason,
  expectNoEvent,
  until: untilTrue,
} = require("./support/util");

describe("middlewares", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports });

    describe("namespace middlewares (io.use / nsp.use)", () => {
      it("run in order before 'connection', with the handshake available", async () => {
        const io = await h.server();
        const order = [];
        expect(
          io.use((socket, next) => {
            order.push(["first", socket.handshake.auth.token, socket.connected]);
            socket.data.user = "alice";
            next();
          }),
        ).to.be(io);
        io.use((socket, next) => {
          order.push(["second", socket.data.user]);
          setTimeout(next, 10); // async middlewares are awaited
        });
        const conn = waitFor(io, "connection");
        await h.connect("/", { auth: { token: "t0k" } });
        const socket = await conn;
        order.push(["connection", socket.data.user]);
        expect(order).to.eql([
          ["first", "t0k", false],
          ["second", "alice"],
          ["connection", "alice"],
        ]);
      });

      it("next(err) sends CONNECT_ERROR with err.message and err.data", async () => {
        const io = await h.server();
        io.use((socket, next) => {
          const err = new Error("not authorized");
          err.data = { content: "please retry later", code: 401 };
          next(err);
        });
        const spy = [];
        io.on("connection", (s) => spy.push(s));
        const client = h.client();
        const err = await connectError(client);
        expect(err.message).to.be("not authorized");
        expect(err.data).to.eql({ content: "please retry later", code: 401 });
        expect(client.connected).to.be(false);
        // the refusal (CONNECT_ERROR) was sent instead of the connection: no "connection" can follow
        expect(spy).to.have.length(0);
        expect(io.sockets.sockets.size).to.be(0);
      });

      it("an error stops the chain: later middlewares do not run", async () => {
        const io = await h.server();
        const ran = [];
        io.use((socket, next) => {
          ran.push(1);
          next(new Error("stop"));
        });
        io.use((socket, next) => {
          ran.push(2);
          next();
        });
        const err = await connectError(h.client());
        expect(err.message).to.be("stop");
        expect(ran).to.eql([1]);
      });

      it("the client may retry after a rejection and connect", async () => {
        const io = await h.server();
        io.use((socket, next) => {
          next(socket.handshake.auth.token === "good" ? undefined : new Error("bad token"));
        });
        const client = h.client("/", { auth: { token: "bad" } });
        expect((await connectError(client)).message).to.be("bad token");
        client.auth = { token: "good" };
        client.connect();
        await connected(client);
        expect(io.sockets.sockets.size).to.be(1);
      });

      it("nsp.use only applies to its namespace", async () => {
        const io = await h.server();
        io.of("/admin").use((socket, next) => next(new Error("admins only")));
        await h.connect("/");
        const err = await connectError(h.client("/admin"));
        expect(err.message).to.be("admins only");
      });

      it("a rejection in one namespace leaves the others of the connection connected", async () => {
        const io = await h.server();
        io.of("/admin").use((socket, next) => next(new Error("admins only")));
        io.on("connection", (s) => s.on("ping", (cb) => cb("pong")));
        const main = await h.connect("/");
        const admin = main.io.socket("/admin");
        h.clients.push(admin);
        expect((await connectError(admin)).message).to.be("admins only");
        expect(await main.timeout(2000).emitWithAck("ping")).to.be("pong");
      });
    });

    it("the namespace tracks the sockets running its middlewares in _preConnectSockets", async () => {
      const io = await h.server();
      const nsp = io.of("/");
      expect(nsp._preConnectSockets).to.be.a(Map);
      const pending = [];
      io.use((socket, next) => pending.push({ socket, next }));
      const until = async (count) => {
        await untilTrue(() => pending.length >= count, `${count} socket(s) in the middleware`);
        return pending[count - 1];
      };

      // accepted: tracked while the middleware runs, then moved to `sockets`
      const conn = waitFor(io, "connection");
      const accepted = h.client();
      const first = await until(1);
      expect(nsp._preConnectSockets.size).to.be(1);
      expect(nsp._preConnectSockets.get(first.socket.id)).to.be(first.socket);
      expect(nsp.sockets.has(first.socket.id)).to.be(false);
      expect(first.socket.connected).to.be(false);
      first.next();
      expect(await conn).to.be(first.socket);
      await connected(accepted);
      expect(nsp._preConnectSockets.size).to.be(0);
      expect(nsp.sockets.get(first.socket.id)).to.be(first.socket);

      // refused: forgotten
      const refused = h.client();
      const second = await until(2);
      expect(nsp._preConnectSockets.get(second.socket.id)).to.be(second.socket);
      second.next(new Error("nope"));
      expect((await connectError(refused)).message).to.be("nope");
      expect(nsp._preConnectSockets.size).to.be(0);
      expect(nsp.sockets.has(second.socket.id)).to.be(false);
    });

    describe("socket middlewares (socket.use)", () => {
      it("sees every incoming packet as [event, ...args] and may alter it", async () => {
        const io = await h.server();
        const seen = [];
        io.on("connection", (socket) => {
          socket.use((packet, next) => {
            seen.push(packet.slice());
            packet[1] = packet[1] * 10;
            next();
          });
          socket.on("num", (n, cb) => cb(n));
        });
        const client = await h.connect();
        expect(await client.timeout(2000).emitWithAck("num", 4)).to.be(40);
        expect(seen).to.have.length(1);
        expect(seen[0][0]).to.be("num");
        expect(seen[0][1]).to.be(4);
        expect(seen[0][2]).to.be.a("function");
      });

      it("next(err) drops the packet and emits 'error' on the socket", async () => {
        const io = await h.server();
        const handled = [];
        let allowed;
        const allowedHandled = new Promise((resolve) => (allowed = resolve));
        const error = new Promise((resolve) =>
          io.on("connection", (socket) => {
            socket.use(([event], next) => next(event === "forbidden" ? new Error("nope") : null));
            socket.on("forbidden", () => handled.push("forbidden"));
            socket.on("allowed", () => allowed(handled.push("allowed")));
            socket.on("error", resolve);
          }),
        );
        const client = await h.connect();
        client.emit("forbidden");
        client.emit("allowed");
        const err = await error;
        expect(err).to.be.an(Error);
        expect(err.message).to.be("nope");
        // "allowed" may come in a later polling request than "forbidden"
        await allowedHandled;
        expect(handled).to.eql(["allowed"]);
        expect(client.connected).to.be(true);
      });

      it("an error handler may disconnect the socket", async () => {
        const io = await h.server();
        io.on("connection", (socket) => {
          socket.use((packet, next) => next(new Error("unauthorized event")));
          socket.on("error", (err) => {
            if (err.message === "unauthorized event") socket.disconnect();
          });
        });
        const client = await h.connect();
        const reason = disconnectReason(client);
        client.emit("anything");
        expect(await reason).to.be("io server disconnect");
      });

      it("runs several socket middlewares in order", async () => {
        const io = await h.server();
        const order = [];
        io.on("connection", (socket) => {
          socket.use((p, next) => order.push("a") && next());
          socket.use((p, next) => order.push("b") && setTimeout(next, 5));
          socket.on("evt", () => order.push("handler"));
        });
        const client = await h.connect();
        const done = expectNoEvent(client, "disconnect", 150);
        client.emit("evt");
        await done;
        expect(order).to.eql(["a", "b", "handler"]);
      });
    });
  });
});
