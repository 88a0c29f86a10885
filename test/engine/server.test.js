"use strict";

// The public server API: exports, listen/attach, options, handshake, clients,
// generateId, middlewares, header events, cookie, CORS and close().
const expect = require("expect.js");
const http = require("http");
const zlib = require("zlib");
const WebSocket = require("ws");
const { Socket: ClientSocket } = require("engine.io-client");
const net = require("net");
const { REFERENCE, engine: engineImpl } = require("../support/impl");
const { request } = require("../support/http");

const eio = engineImpl();

const EIO4 = "EIO=4&transport=polling";

function portOf(server) {
  return (server.httpServer || server).address().port;
}

function openPacket(text) {
  expect(text[0]).to.be("0");
  return JSON.parse(text.slice(1));
}

describe("engine server API", () => {
  let engine;
  let httpServer;
  let clients;

  beforeEach(() => {
    clients = [];
  });

  afterEach((done) => {
    clients.forEach((c) => c.close());
    if (engine) engine.close();
    const srv = httpServer || (engine && engine.httpServer);
    engine = httpServer = undefined;
    if (srv && srv.listening) srv.close(() => done());
    else done();
  });

  function listen(opts) {
    return new Promise((resolve) => {
      engine = eio.listen(0, opts || {}, () => resolve(portOf(engine)));
    });
  }

  function attachTo(opts) {
    httpServer = http.createServer((req, res) => {
      res.writeHead(200);
      res.end("app");
    });
    engine = eio.attach(httpServer, opts || {});
    return new Promise((resolve) => httpServer.listen(0, () => resolve(httpServer.address().port)));
  }

  function client(port, opts) {
    const socket = new ClientSocket(`http://localhost:${port}`, opts);
    clients.push(socket);
    return socket;
  }

  describe("module", () => {
    it("exports the engine API", () => {
      expect(eio.Server).to.be.a("function");
      expect(eio.Socket).to.be.a("function");
      expect(eio.Transport).to.be.a("function");
      expect(eio.transports.polling).to.be.a("function");
      expect(eio.transports.websocket).to.be.a("function");
      expect(eio.parser.encodePacket).to.be.a("function");
      expect(eio.protocol).to.be(4);
      expect(eio.listen).to.be.a("function");
      expect(eio.attach).to.be.a("function");
      expect(eio.Server.errors).to.eql({
        UNKNOWN_TRANSPORT: 0,
        UNKNOWN_SID: 1,
        BAD_HANDSHAKE_METHOD: 2,
        BAD_REQUEST: 3,
        FORBIDDEN: 4,
        UNSUPPORTED_PROTOCOL_VERSION: 5,
        // the per-address limits' refusal (addressLimits), not in engine.io 6.6
        ...(REFERENCE ? {} : { TOO_MANY_REQUESTS: 6 }),
      });
    });

    it("resolves the options with the reference defaults", () => {
      engine = new eio.Server();
      const o = engine.opts;
      expect(o.pingInterval).to.be(25000);
      expect(o.pingTimeout).to.be(20000);
      expect(o.upgradeTimeout).to.be(10000);
      expect(o.maxHttpBufferSize).to.be(1e6);
      expect(o.transports).to.eql(["polling", "websocket"]);
      expect(o.allowUpgrades).to.be(true);
      expect(o.perMessageDeflate).to.not.be.ok();
      expect(o.httpCompression).to.eql({ threshold: 1024 });
      expect(o.cors).to.be(false);
      expect(o.allowEIO3).to.be(false);
      expect(o.cookie).to.not.be.ok();
      expect(engine.ws.handleUpgrade).to.be.a("function");
      expect(engine.clients).to.eql({});
      expect(engine.clientsCount).to.be(0);
    });

    it("fills in the cookie and perMessageDeflate options", () => {
      engine = new eio.Server({ cookie: true, perMessageDeflate: true });
      expect(engine.opts.cookie).to.eql({ name: "io", path: "/", httpOnly: true, sameSite: "lax" });
      expect(engine.opts.perMessageDeflate).to.eql({ threshold: 1024 });
      engine.close();
      engine = new eio.Server({ cookie: { name: "sid" } });
      expect(engine.opts.cookie).to.eql({ name: "sid", path: "/", httpOnly: true, sameSite: "lax" });
    });
  });

  describe("listen() and attach()", () => {
    it("listen() answers 501 outside of the engine path", async () => {
      const port = await listen();
      const res = await request(port, { path: "/other" });
      expect(res.status).to.be(501);
    });

    it("performs the polling handshake", async () => {
      const port = await listen();
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(res.status).to.be(200);
      expect(res.headers["content-type"]).to.be("text/plain; charset=UTF-8");
      expect(res.headers["cache-control"]).to.be("no-store");
      const open = openPacket(res.body.toString());
      expect(open.sid).to.be.a("string");
      expect(open.upgrades).to.eql(["websocket"]);
      expect(open.pingInterval).to.be(25000);
      expect(open.pingTimeout).to.be(20000);
      expect(open.maxPayload).to.be(1e6);
      expect(engine.clientsCount).to.be(1);
      expect(engine.clients[open.sid]).to.be.an(eio.Socket);
    });

    it("attach() keeps the other request listeners", async () => {
      const port = await attachTo();
      expect((await request(port, { path: "/" })).body.toString()).to.be("app");
      expect((await request(port, { path: `/engine.io/?${EIO4}` })).body.toString()[0]).to.be("0");
    });

    it("honours a custom path, with and without the trailing slash", async () => {
      const port = await attachTo({ path: "/custom" });
      expect((await request(port, { path: `/engine.io/?${EIO4}` })).body.toString()).to.be("app");
      expect((await request(port, { path: `/custom/?${EIO4}` })).body.toString()[0]).to.be("0");
      expect((await request(port, { path: `/custom?${EIO4}` })).body.toString()).to.be("app");
    });

    it("matches the path without a trailing slash when addTrailingSlash is false", async () => {
      const port = await attachTo({ path: "/custom", addTrailingSlash: false });
      expect((await request(port, { path: `/custom?${EIO4}` })).body.toString()[0]).to.be("0");
    });

    it("new Server().attach() works like attach()", async () => {
      httpServer = http.createServer();
      engine = new eio.Server({ pingInterval: 1234 });
      engine.attach(httpServer, { path: "/x" });
      await new Promise((r) => httpServer.listen(0, r));
      const res = await request(httpServer.address().port, { path: `/x/?${EIO4}` });
      expect(openPacket(res.body.toString()).pingInterval).to.be(1234);
    });
  });

  describe("sessions", () => {
    it("exposes the socket properties and tracks clients", async () => {
      const port = await listen();
      const socket = await new Promise((resolve) => {
        engine.on("connection", resolve);
        client(port, { transports: ["polling"] });
      });
      await new Promise((resolve) => clients[0].on("open", resolve));
      expect(socket.id).to.be.a("string");
      expect(socket.readyState).to.be("open");
      expect(socket.protocol).to.be(4);
      expect(socket.transport.name).to.be("polling");
      expect(socket.upgraded).to.be(false);
      expect(socket.upgrading).to.be(false);
      expect(socket.request.headers).to.be.an("object");
      expect(socket.request._query.EIO).to.be("4");
      expect(socket.request._query.transport).to.be("polling");
      expect(socket.remoteAddress).to.match(/127\.0\.0\.1|::1/);
      expect(engine.clients[socket.id]).to.be(socket);
      expect(engine.clientsCount).to.be(1);
      await new Promise((resolve) => {
        socket.on("close", resolve);
        clients[0].close();
      });
      expect(engine.clientsCount).to.be(0);
      expect(engine.clients[socket.id]).to.be(undefined);
    });

    it("uses generateId (sync)", async () => {
      const port = await listen();
      engine.generateId = () => "custom-id";
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(openPacket(res.body.toString()).sid).to.be("custom-id");
    });

    it("uses generateId (promise)", async () => {
      const port = await listen();
      engine.generateId = (req) =>
        new Promise((r) => setTimeout(() => r("async-" + req._query.transport), 10));
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(openPacket(res.body.toString()).sid).to.be("async-polling");
    });

    it("refuses the handshake when generateId rejects", async () => {
      const port = await listen();
      engine.generateId = () => Promise.reject(new Error("no id"));
      const errors = [];
      engine.on("connection_error", (e) => errors.push(e));
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(res.status).to.be(400);
      expect(JSON.parse(res.body)).to.eql({ code: 3, message: "Bad request" });
      expect(errors[0].context.name).to.be("ID_GENERATION_ERROR");
    });

    // What a raw peer reads after a WebSocket handshake request (a new session).
    function rawUpgrade(port) {
      return new Promise((resolve, reject) => {
        const socket = net.connect(port, "localhost", () => {
          socket.write(
            "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n" +
              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
          );
        });
        let received = "";
        socket.on("data", (data) => (received += data.toString("latin1")));
        socket.on("error", reject);
        socket.on("close", () => resolve(received));
      });
    }

    const REFUSED =
      "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: 11\r\n\r\nBad request";

    for (const [label, generateId] of [
      [
        "throws",
        () => {
          throw new Error("no id");
        },
      ],
      ["rejects", () => Promise.reject(new Error("no id"))],
    ]) {
      it(`refuses a WebSocket-only handshake when generateId ${label}`, async () => {
        const port = await listen();
        engine.generateId = generateId;
        const errors = [];
        engine.on("connection_error", (e) => errors.push(e));

        // This package generates the id before the upgrade, so the upgrade is
        // refused with an HTTP answer. The reference upgrades first, then writes
        // the same answer over the upgraded connection.
        const raw = await rawUpgrade(port);
        if (REFERENCE) {
          expect(raw).to.match(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
          expect(raw.endsWith("\r\n\r\n" + REFUSED)).to.be(true);
        } else {
          expect(raw).to.be(REFUSED);
        }
        expect(errors).to.have.length(1);
        expect(errors[0].code).to.be(3);
        expect(errors[0].message).to.be("Bad request");
        expect(errors[0].context.name).to.be("ID_GENERATION_ERROR");
        expect(errors[0].context.error.message).to.be("no id");
        expect(errors[0].req.url).to.contain("transport=websocket");

        // a real client never opens
        const socket = client(port, { transports: ["websocket"] });
        await new Promise((resolve, reject) => {
          socket.on("open", () => reject(new Error("opened")));
          socket.on("error", () => resolve());
        });
        expect(engine.clientsCount).to.be(0);
      });
    }

    it("survives a WebSocket client leaving while its id is generated", async () => {
      const port = await listen();
      let release;
      const asked = new Promise((asking) => {
        engine.generateId = () => {
          asking();
          return new Promise((resolve) => (release = resolve));
        };
      });
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      ws.on("error", () => {});
      await asked;
      // the client is gone (its connection reset) before the id comes
      const gone = new Promise((resolve) => ws.once("close", resolve));
      ws.terminate();
      await gone;
      release("late-id");
      engine.generateId = () => "next-id";
      const socket = client(port, { transports: ["websocket"] });
      await new Promise((resolve) => socket.on("open", resolve));
      expect(socket.id).to.be("next-id");
      expect(Object.keys(engine.clients)).to.eql(["next-id"]);
    });

    it("offers no upgrade when allowUpgrades is false", async () => {
      const port = await listen({ allowUpgrades: false });
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(openPacket(res.body.toString()).upgrades).to.eql([]);
    });

    it("offers no upgrade when websocket is not an allowed transport", async () => {
      const port = await listen({ transports: ["polling"] });
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(openPacket(res.body.toString()).upgrades).to.eql([]);
      expect(engine.ws).to.be(undefined);
    });

    it("handshakes directly over WebSocket", async () => {
      const port = await listen({ pingInterval: 300 });
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const first = await new Promise((resolve) => ws.once("message", (m) => resolve(m.toString())));
      const open = openPacket(first);
      expect(open.upgrades).to.eql([]);
      expect(open.pingInterval).to.be(300);
      expect(engine.clients[open.sid].transport.name).to.be("websocket");
      ws.close();
    });

    it("sends the initialPacket right after the open packet", async () => {
      const port = await listen({ initialPacket: "welcome" });
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      const packets = res.body.toString().split("\x1e");
      expect(packets[0][0]).to.be("0");
      expect(packets[1]).to.be("4welcome");
    });
  });

  describe("prepare()", () => {
    it("an override runs on every polling request and upgrade, and may complete the query", async () => {
      const calls = [];
      class TenantEngine extends eio.Server {
        prepare(req) {
          calls.push(req.headers.upgrade ? "upgrade" : req.method);
          super.prepare(req);
          req._query.tenant = req.headers["x-tenant"];
        }
      }
      engine = new TenantEngine();
      httpServer = http.createServer();
      engine.attach(httpServer);
      const port = await new Promise((resolve) =>
        httpServer.listen(0, () => resolve(httpServer.address().port)),
      );
      const connection = new Promise((resolve) => engine.on("connection", resolve));
      const socket = client(port, { extraHeaders: { "x-tenant": "acme" } });
      const serverSocket = await connection;
      expect(serverSocket.request._query.tenant).to.be("acme");
      await new Promise((resolve) => socket.on("upgrade", resolve));
      const received = new Promise((resolve) => serverSocket.on("message", resolve));
      socket.send("hello");
      expect(await received).to.be("hello");
      expect(calls[0]).to.be("GET");
      expect(calls).to.contain("upgrade");
      expect(calls.filter((c) => c === "upgrade")).to.have.length(1);
      expect(calls.length).to.be.greaterThan(2);
    });
  });

  describe("headers", () => {
    it("emits initial_headers and headers on polling", async () => {
      const port = await listen();
      const seen = [];
      engine.on("initial_headers", (headers, req) => {
        expect(req.headers).to.be.an("object");
        headers["x-initial"] = "1";
        seen.push("initial");
      });
      engine.on("headers", (headers) => {
        headers["x-every"] = "2";
        seen.push("headers");
      });
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(res.headers["x-initial"]).to.be("1");
      expect(res.headers["x-every"]).to.be("2");
      const sid = openPacket(res.body.toString()).sid;
      const post = await request(port, {
        method: "POST",
        path: `/engine.io/?${EIO4}&sid=${sid}`,
        body: "4hi",
      });
      expect(post.body.toString()).to.be("ok");
      expect(post.headers["x-initial"]).to.be(undefined);
      expect(post.headers["x-every"]).to.be("2");
      expect(seen).to.eql(["initial", "headers", "headers"]);
    });

    it("emits initial_headers and headers on the WebSocket upgrade", async () => {
      const port = await listen();
      engine.on("initial_headers", (headers) => {
        headers["x-initial"] = "1";
      });
      engine.on("headers", (headers) => {
        headers["x-every"] = "2";
      });
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const res = await new Promise((resolve) => ws.on("upgrade", resolve));
      expect(res.headers["x-initial"]).to.be("1");
      expect(res.headers["x-every"]).to.be("2");
      ws.close();
    });

    it("sets the session cookie on the polling handshake", async () => {
      const port = await listen({ cookie: true });
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      const sid = openPacket(res.body.toString()).sid;
      expect(res.headers["set-cookie"]).to.eql([`io=${sid}; Path=/; HttpOnly; SameSite=Lax`]);
    });

    it("honours the cookie options", async () => {
      const port = await listen({
        cookie: { name: "woot", path: "/custom", httpOnly: false, sameSite: "strict" },
      });
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      const sid = openPacket(res.body.toString()).sid;
      expect(res.headers["set-cookie"]).to.eql([`woot=${sid}; Path=/custom; SameSite=Strict`]);
    });

    it("sets the session cookie on a WebSocket-only handshake (not the reference)", async () => {
      const port = await listen({ cookie: { name: "sid", sameSite: "strict" } });
      engine.use((req, res, next) => {
        res.setHeader("set-cookie", "session=abc"); // another cookie, e.g. express-session's
        next();
      });
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const opened = new Promise((resolve) => ws.once("message", (m) => resolve(openPacket(m.toString()))));
      const res = await new Promise((resolve) => ws.on("upgrade", resolve));
      const { sid } = await opened;
      expect(res.headers["set-cookie"]).to.eql(
        REFERENCE ? ["session=abc"] : ["session=abc", `sid=${sid}; Path=/; HttpOnly; SameSite=Strict`],
      );
      ws.close();
    });

    it("sets no cookie by default", async () => {
      const port = await listen();
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(res.headers["set-cookie"]).to.be(undefined);
    });
  });

  describe("cors", () => {
    it("adds the CORS headers given to the cors package", async () => {
      const port = await listen({ cors: { origin: true, credentials: true } });
      const res = await request(port, {
        path: `/engine.io/?${EIO4}`,
        headers: { origin: "https://example.com" },
      });
      expect(res.headers["access-control-allow-origin"]).to.be("https://example.com");
      expect(res.headers["access-control-allow-credentials"]).to.be("true");
    });

    it("answers the preflight request", async () => {
      const port = await listen({ cors: { origin: "https://example.com", methods: ["GET", "POST"] } });
      const res = await request(port, {
        method: "OPTIONS",
        path: `/engine.io/?${EIO4}`,
        headers: { origin: "https://example.com", "access-control-request-method": "POST" },
      });
      expect(res.status).to.be(204);
      expect(res.headers["access-control-allow-origin"]).to.be("https://example.com");
      expect(res.headers["access-control-allow-methods"]).to.be("GET,POST");
    });

    it("without cors, a preflight is a bad handshake method", async () => {
      const port = await listen();
      const res = await request(port, { method: "OPTIONS", path: `/engine.io/?${EIO4}` });
      expect(res.status).to.be(400);
      expect(JSON.parse(res.body)).to.eql({ code: 2, message: "Bad handshake method" });
    });
  });

  describe("use()", () => {
    it("runs middlewares on polling and upgrade requests, in order", async () => {
      const port = await listen();
      const calls = [];
      engine.use((req, res, next) => {
        calls.push("first " + req._query.transport);
        res.setHeader("x-mw", "yes");
        next();
      });
      engine.use((req, res, next) => {
        calls.push("second " + req._query.transport);
        setTimeout(next, 5);
      });
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(res.headers["x-mw"]).to.be("yes");
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const up = await new Promise((resolve) => ws.on("upgrade", resolve));
      expect(up.headers["x-mw"]).to.be("yes");
      expect(calls).to.eql(["first polling", "second polling", "first websocket", "second websocket"]);
      ws.close();
    });

    it("supports express-style middlewares hooking writeHead on the upgrade request", async () => {
      const port = await listen();
      engine.use((req, res, next) => {
        // what on-headers (express-session) does: set a header right before the head is written
        const writeHead = res.writeHead;
        res.writeHead = function (...args) {
          res.setHeader("set-cookie", "session=abc");
          return writeHead.apply(this, args);
        };
        next();
      });
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const up = await new Promise((resolve) => ws.on("upgrade", resolve));
      expect(up.headers["set-cookie"]).to.eql(["session=abc"]);
      ws.close();
    });

    it("refuses the request when a middleware fails", async () => {
      const port = await listen();
      const errors = [];
      engine.on("connection_error", (e) => errors.push(e));
      engine.use((req, res, next) => next(new Error("nope")));
      const res = await request(port, { path: `/engine.io/?${EIO4}` });
      expect(res.status).to.be(400);
      expect(JSON.parse(res.body)).to.eql({ code: 3, message: "Bad request" });
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const status = await new Promise((resolve) => {
        ws.on("unexpected-response", (req, r) => resolve(r.statusCode));
        ws.on("error", () => {});
      });
      expect(status).to.be(400);
      expect(errors.map((e) => [e.code, e.message, e.context.name])).to.eql([
        [3, "Bad request", "MIDDLEWARE_FAILURE"],
        [3, "Bad request", "MIDDLEWARE_FAILURE"],
      ]);
      expect(engine.clientsCount).to.be(0);
    });
  });

  describe("close()", () => {
    it("closes every session with 'forced close' and leaves the http server open", async () => {
      const port = await listen();
      const reasons = [];
      engine.on("connection", (s) => s.on("close", (reason) => reasons.push(reason)));
      const a = client(port, { transports: ["polling"] });
      const b = client(port, { transports: ["websocket"] });
      await Promise.all([a, b].map((c) => new Promise((r) => c.on("open", r))));
      const closed = Promise.all([a, b].map((c) => new Promise((r) => c.on("close", r))));
      engine.close();
      expect(reasons).to.eql(["forced close", "forced close"]);
      expect(engine.clientsCount).to.be(0);
      await closed;
      expect((await request(port, { path: "/other" })).status).to.be(501);
    });

    it("the socket's close() flushes buffered packets first", async () => {
      const port = await listen();
      engine.on("connection", (s) => {
        s.send("bye");
        s.close();
      });
      const c = client(port, { transports: ["websocket"] });
      const got = [];
      c.on("message", (m) => got.push(m));
      const reason = await new Promise((r) => c.on("close", r));
      expect(got).to.eql(["bye"]);
      expect(reason).to.be("transport close");
    });
  });

  describe("compression", () => {
    it("gzips polling responses above the threshold", async () => {
      const port = await listen({ initialPacket: "x".repeat(2000) });
      const res = await request(port, {
        path: `/engine.io/?${EIO4}`,
        headers: { "accept-encoding": "gzip" },
      });
      expect(res.headers["content-encoding"]).to.be("gzip");
      expect(zlib.gunzipSync(res.body).toString()).to.contain("4" + "x".repeat(2000));
    });

    it("deflates when only deflate is accepted", async () => {
      const port = await listen({ initialPacket: "x".repeat(2000) });
      const res = await request(port, {
        path: `/engine.io/?${EIO4}`,
        headers: { "accept-encoding": "deflate" },
      });
      expect(res.headers["content-encoding"]).to.be("deflate");
      expect(zlib.inflateSync(res.body).toString()).to.contain("x".repeat(2000));
    });

    it("does not compress below the threshold, or when disabled", async () => {
      let port = await listen();
      let res = await request(port, { path: `/engine.io/?${EIO4}`, headers: { "accept-encoding": "gzip" } });
      expect(res.headers["content-encoding"]).to.be(undefined);
      engine.close();
      engine.httpServer.close();
      port = await listen({ httpCompression: false, initialPacket: "x".repeat(2000) });
      res = await request(port, { path: `/engine.io/?${EIO4}`, headers: { "accept-encoding": "gzip" } });
      expect(res.headers["content-encoding"]).to.be(undefined);
    });

    it("does not compress a payload whose packets all disable compression", async () => {
      const port = await listen();
      engine.on("connection", (s) => s.send("y".repeat(2000), { compress: false }));
      const hs = await request(port, { path: `/engine.io/?${EIO4}` });
      const sid = openPacket(hs.body.toString()).sid;
      const res = await request(port, {
        path: `/engine.io/?${EIO4}&sid=${sid}`,
        headers: { "accept-encoding": "gzip" },
      });
      expect(res.headers["content-encoding"]).to.be(undefined);
      expect(res.body.toString()).to.be("4" + "y".repeat(2000));
    });

    it("negotiates permessage-deflate when enabled", async () => {
      const port = await listen({ perMessageDeflate: true });
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const res = await new Promise((resolve) => ws.on("upgrade", resolve));
      expect(res.headers["sec-websocket-extensions"]).to.contain("permessage-deflate");
      ws.close();
    });

    it("does not negotiate permessage-deflate by default", async () => {
      const port = await listen();
      const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`);
      const res = await new Promise((resolve) => ws.on("upgrade", resolve));
      expect(res.headers["sec-websocket-extensions"]).to.be(undefined);
      ws.close();
    });
  });
});
