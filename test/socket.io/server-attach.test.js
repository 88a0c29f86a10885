"use strict";

const http = require("http");
const os = require("os");
const fs = require("fs");
const path = require("path");
const { execFile } = require("child_process");
const expect = require("expect.js");
const express = require("express");
const Koa = require("koa");
const impl = require("../support/impl");
const {
  sio,
  Server,
  REFERENCE,
  useHarness,
  connected,
  connectError,
  waitFor,
  request,
} = require("./support/util");

/** Round trip with an ack: proves the whole stack works for this client. */
async function echo(h, io, client) {
  io.on("connection", (socket) => socket.on("echo", (v, cb) => cb(v)));
  await connected(client);
  const res = await client.timeout(2000).emitWithAck("echo", "ping");
  expect(res).to.be("ping");
}

describe("server: entry points and attachment", () => {
  const h = useHarness();

  describe("constructor forms", () => {
    it("new Server() creates an unattached server with the main namespace", () => {
      const io = h.track(new Server());
      expect(io.engine).to.be(undefined);
      expect(io.httpServer).to.be(undefined);
      expect(io.sockets).to.be(io.of("/"));
      expect(io.sockets.name).to.be("/");
    });

    it("new Server(opts) keeps the options until attach()", async () => {
      const io = h.track(new Server({ path: "/custom" }));
      expect(io.engine).to.be(undefined);
      expect(io.path()).to.be("/custom");
      const httpServer = http.createServer();
      io.attach(httpServer);
      await h.listen(httpServer);
      expect(io.httpServer).to.be(httpServer);
      await echo(h, io, h.client("/", { path: "/custom" }));
    });

    it("new Server(httpServer, opts) attaches to the given server", async () => {
      const httpServer = http.createServer();
      const io = h.track(new Server(httpServer, { pingInterval: 300 }));
      await h.listen(httpServer);
      expect(io.httpServer).to.be(httpServer);
      expect(io.engine).to.be.an("object");
      await echo(h, io, h.client());
    });

    it("new Server(port, opts) creates and listens on its own http server", async () => {
      const io = h.track(new Server(0, { path: "/own" }));
      expect(io.httpServer).to.be.an(http.Server);
      if (!io.httpServer.listening) await waitFor(io.httpServer, "listening");
      h.usePort(io.httpServer.address().port);
      await echo(h, io, h.client("/", { path: "/own" }));
    });

    it("the CommonJS export is callable: require('socket.io')(srv, opts)", async () => {
      expect(sio).to.be.a("function");
      const httpServer = http.createServer();
      const io = h.track(sio(httpServer, { path: "/callable" }));
      expect(io).to.be.a(Server);
      await h.listen(httpServer);
      await echo(h, io, h.client("/", { path: "/callable" }));
    });

    it("the CommonJS export is callable without arguments: require('socket.io')()", () => {
      const io = h.track(sio());
      expect(io).to.be.a(Server);
      expect(io.engine).to.be(undefined);
    });

    it("exports the Server, Namespace and Socket classes", async () => {
      expect(sio.Server).to.be(Server);
      expect(sio.Namespace).to.be.a("function");
      expect(sio.Socket).to.be.a("function");
      const io = await h.server();
      expect(io.sockets).to.be.a(sio.Namespace);
      const [serverSocket] = await Promise.all([waitFor(io, "connection"), h.connect()]);
      expect(serverSocket).to.be.a(sio.Socket);
    });
  });

  describe("attach / listen / bind", () => {
    it("io.attach(httpServer, opts) returns the server and applies the options", async () => {
      const io = h.track(new Server());
      const httpServer = http.createServer();
      expect(io.attach(httpServer, { path: "/attached" })).to.be(io);
      await h.listen(httpServer);
      expect(io.httpServer).to.be(httpServer);
      await echo(h, io, h.client("/", { path: "/attached" }));
    });

    it("io.listen(httpServer) is an alias of attach", async () => {
      const io = h.track(new Server());
      const httpServer = http.createServer();
      expect(io.listen(httpServer)).to.be(io);
      await h.listen(httpServer);
      await echo(h, io, h.client());
    });

    it("io.listen(port) listens standalone on an http server it creates", async () => {
      const io = h.track(new Server());
      io.listen(0);
      expect(io.httpServer).to.be.an(http.Server);
      if (!io.httpServer.listening) await waitFor(io.httpServer, "listening");
      h.usePort(io.httpServer.address().port);
      await echo(h, io, h.client());
    });

    it("io.attach(port) listens standalone too", async () => {
      const io = h.track(new Server());
      io.attach(0);
      if (!io.httpServer.listening) await waitFor(io.httpServer, "listening");
      h.usePort(io.httpServer.address().port);
      await echo(h, io, h.client());
    });

    it("io.attach() of a function throws", () => {
      const io = h.track(new Server());
      expect(() => io.attach(() => {})).to.throwError();
    });

    it("io.bind(engine) uses an engine created by the user", async () => {
      const { Server: Engine } = impl.engine();
      const httpServer = http.createServer();
      const engine = new Engine();
      engine.attach(httpServer, { path: "/socket.io" });
      const io = h.track(new Server(), httpServer);
      expect(io.bind(engine)).to.be(io);
      expect(io.engine).to.be(engine);
      await h.listen(httpServer);
      await echo(h, io, h.client());
      expect(engine.clientsCount).to.be(1);
    });

    it("io.engine is the Engine.IO server and counts clients", async () => {
      const io = await h.server();
      await h.connect();
      await h.connect();
      expect(io.engine.clientsCount).to.be(2);
    });
  });

  describe("getters and setters", () => {
    it("io.path() defaults to /socket.io, strips a trailing slash and chains", () => {
      const io = h.track(new Server());
      expect(io.path()).to.be("/socket.io");
      expect(io.path("/foo/")).to.be(io);
      expect(io.path()).to.be("/foo");
    });

    it("io.serveClient() defaults to true and chains", () => {
      const io = h.track(new Server());
      expect(io.serveClient()).to.be(true);
      expect(io.serveClient(false)).to.be(io);
      expect(io.serveClient()).to.be(false);
      expect(h.track(new Server({ serveClient: false })).serveClient()).to.be(false);
    });

    it("io.connectTimeout() defaults to 45000 and chains", () => {
      const io = h.track(new Server());
      expect(io.connectTimeout()).to.be(45000);
      expect(io.connectTimeout(1000)).to.be(io);
      expect(io.connectTimeout()).to.be(1000);
      expect(h.track(new Server({ connectTimeout: 123 })).connectTimeout()).to.be(123);
    });

    it("io.adapter() returns the adapter class; the setter re-creates namespace adapters", () => {
      const io = h.track(new Server());
      const Default = io.adapter();
      expect(Default).to.be.a("function");
      expect(io.sockets.adapter).to.be.a(Default);
      class Other extends Default {}
      expect(io.adapter(Other)).to.be(io);
      expect(io.adapter()).to.be(Other);
      expect(io.sockets.adapter).to.be.an(Other);
      expect(io.of("/later").adapter).to.be.an(Other);
    });

    it("has the reference's option defaults", () => {
      const io = h.track(new Server());
      expect(io.opts.cleanupEmptyChildNamespaces).to.be(false);
      expect(io.opts.connectionStateRecovery).to.be(undefined);
    });

    it("fills connectionStateRecovery defaults", () => {
      const io = h.track(new Server({ connectionStateRecovery: {} }));
      expect(io.opts.connectionStateRecovery).to.eql({
        maxDisconnectionDuration: 2 * 60 * 1000,
        skipMiddlewares: true,
      });
      expect(io.sockets.adapter.persistSession).to.be.a("function");
      expect(io.sockets.adapter.restoreSession).to.be.a("function");
    });
  });

  describe("engine options are passed through", () => {
    it("pingInterval / pingTimeout / maxPayload reach the Engine.IO handshake", async () => {
      await h.server({ pingInterval: 321, pingTimeout: 123, maxHttpBufferSize: 4567 });
      const peer = await h.rawWs();
      expect(peer.handshake.pingInterval).to.be(321);
      expect(peer.handshake.pingTimeout).to.be(123);
      expect(peer.handshake.maxPayload).to.be(4567);
    });

    it("transports restricts the accepted transports", async () => {
      await h.server({ transports: ["websocket"] });
      await connectError(h.client("/", { transports: ["polling"] }));
      await connected(h.client("/", { transports: ["websocket"] }));
    });

    it("a client on another path does not reach the server", async () => {
      const notFound = http.createServer((req, res) => {
        res.writeHead(404);
        res.end();
      });
      await h.server({ path: "/custom" }, notFound);
      await connectError(h.client("/"));
      await connected(h.client("/", { path: "/custom" }));
    });
  });

  describe("frameworks", () => {
    it("works with a plain http.Server that has its own request handler", async () => {
      const httpServer = http.createServer((req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end("plain");
      });
      const io = await h.server({}, httpServer);
      await echo(h, io, h.client());
      const res = await request(h.port, { path: "/hello" });
      expect(res.status).to.be(200);
      expect(res.body.toString()).to.be("plain");
    });

    it("works with an Express 4 app's server", async () => {
      const app = express();
      app.get("/hello", (req, res) => res.send("express"));
      const io = await h.server({}, http.createServer(app));
      await echo(h, io, h.client());
      const res = await request(h.port, { path: "/hello" });
      expect(res.body.toString()).to.be("express");
    });

    it("works with a Koa 2 app's callback() server", async () => {
      const app = new Koa();
      app.use((ctx) => {
        ctx.body = "koa";
      });
      const io = await h.server({}, http.createServer(app.callback()));
      await echo(h, io, h.client());
      const res = await request(h.port, { path: "/hello" });
      expect(res.body.toString()).to.be("koa");
    });
  });

  describe("io.close()", () => {
    it("disconnects every socket with 'server shutting down' and closes the given http server", async () => {
      const io = await h.server();
      const reasons = [];
      io.on("connection", (socket) => socket.on("disconnect", (r) => reasons.push(r)));
      const c1 = await h.connect();
      const c2 = await h.connect();
      const clientsGone = Promise.all([waitFor(c1, "disconnect"), waitFor(c2, "disconnect")]);
      await new Promise((resolve) => io.close(resolve));
      expect(reasons).to.eql(["server shutting down", "server shutting down"]);
      expect(io.httpServer.listening).to.be(false);
      await clientsGone;
      expect(c1.connected).to.be(false);
      await connectError(h.client());
    });

    it("closes the http server it created itself", async () => {
      const io = h.track(new Server(0));
      if (!io.httpServer.listening) await waitFor(io.httpServer, "listening");
      h.usePort(io.httpServer.address().port);
      await h.connect();
      await new Promise((resolve) => io.close(resolve));
      expect(io.httpServer.listening).to.be(false);
      expect(io.engine.clientsCount).to.be(0);
    });
  });

  describe("ESM entry point", function () {
    this.timeout(10000);

    // Resolved as an installed copy would be: node_modules/socket.io -> the repo.
    (REFERENCE ? it.skip : it)("import { Server } from 'socket.io' works", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-esm-"));
      h.onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
      fs.mkdirSync(path.join(dir, "node_modules"));
      fs.symlinkSync(path.join(__dirname, "..", ".."), path.join(dir, "node_modules", "socket.io"));
      const script = `
        import { Server, Namespace, Socket } from "socket.io";
        import { io as ioc } from "socket.io-client";
        const server = new Server(0);
        server.on("connection", (socket) => socket.emit("hi", socket instanceof Socket));
        server.httpServer.on("listening", () => {
          const client = ioc("http://localhost:" + server.httpServer.address().port, { reconnection: false });
          client.on("hi", (isSocket) => {
            console.log(JSON.stringify({
              server: typeof Server, nsp: server.sockets instanceof Namespace, isSocket,
            }));
            client.disconnect();
            server.close();
          });
        });`;
      const env = { ...process.env, NODE_PATH: path.join(__dirname, "..", "..", "node_modules") };
      // socket.io-client is resolved from the repo's node_modules through a second symlink
      fs.symlinkSync(
        path.join(__dirname, "..", "..", "node_modules", "socket.io-client"),
        path.join(dir, "node_modules", "socket.io-client"),
      );
      const stdout = await new Promise((resolve, reject) =>
        execFile(
          process.execPath,
          ["--input-type=module", "-e", script],
          { cwd: dir, env, timeout: 8000 },
          (err, out, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(out)),
        ),
      );
      expect(JSON.parse(stdout.trim())).to.eql({
        server: "function",
        nsp: true,
        isSocket: true,
      });
    });
  });
});
