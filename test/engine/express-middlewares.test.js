"use strict";

// Real Express middlewares mounted with engine.use(): helmet and express-session
// must act on the polling requests and on the WebSocket upgrade request alike,
// as the reference documents for `io.engine.use(sessionMiddleware)`.
const expect = require("expect.js");
const http = require("http");
const WebSocket = require("ws");
const helmet = require("helmet");
const session = require("express-session");
const { Socket: ClientSocket } = require("engine.io-client");
const eio = require("../support/impl").engine();

function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get({ port, path, headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      })
      .on("error", reject);
  });
}

// the headers of the 101 response to a WebSocket handshake
function upgradeHeaders(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://localhost:${port}${path}`, { headers });
    ws.on("upgrade", (res) => {
      resolve({ headers: res.headers, ws });
    });
    ws.on("error", reject);
  });
}

function sessionCookie(setCookie) {
  const cookie = (setCookie || []).find((c) => c.startsWith("connect.sid="));
  return cookie && cookie.split(";")[0];
}

describe("engine with Express middlewares", () => {
  let engine;
  let port;
  const sockets = [];

  beforeEach((done) => {
    engine = eio.listen(0, {}, () => {
      port = engine.httpServer.address().port;
      done();
    });
  });

  afterEach((done) => {
    sockets.splice(0).forEach((s) => s.close());
    engine.close();
    engine.httpServer.close(() => done());
  });

  describe("helmet", () => {
    beforeEach(() => {
      engine.use(helmet());
    });

    it("sets its headers on the polling handshake", async () => {
      const res = await get(port, "/engine.io/?EIO=4&transport=polling");
      expect(res.status).to.be(200);
      expect(res.body[0]).to.be("0");
      expect(res.headers["x-content-type-options"]).to.be("nosniff");
      expect(res.headers["x-frame-options"]).to.be("SAMEORIGIN");
      expect(res.headers["strict-transport-security"]).to.match(/max-age=/);
    });

    it("sets its headers on the WebSocket upgrade response", async () => {
      const { headers, ws } = await upgradeHeaders(port, "/engine.io/?EIO=4&transport=websocket");
      sockets.push(ws);
      expect(headers["x-content-type-options"]).to.be("nosniff");
      expect(headers["x-frame-options"]).to.be("SAMEORIGIN");
    });

    it("lets a real client connect and upgrade", (done) => {
      const client = new ClientSocket(`ws://localhost:${port}`);
      sockets.push(client);
      client.on("upgrade", (transport) => {
        expect(transport.name).to.be("websocket");
        done();
      });
    });
  });

  describe("express-session", () => {
    beforeEach(() => {
      engine.use(session({ secret: "keyboard cat", resave: false, saveUninitialized: true }));
    });

    it("sets the session cookie on the polling handshake and exposes req.session", async () => {
      const seen = new Promise((resolve) => engine.once("connection", (socket) => resolve(socket)));
      const res = await get(port, "/engine.io/?EIO=4&transport=polling");
      const cookie = sessionCookie(res.headers["set-cookie"]);
      expect(cookie).to.be.ok();
      const socket = await seen;
      expect(socket.request.session).to.be.an("object");
      expect(cookie).to.contain(encodeURIComponent(`s:${socket.request.sessionID}`).slice(0, 10));
    });

    it("finds the same session on the upgrade request of that client", async () => {
      // the session each request carried, as seen once the middlewares ran
      const sessionIDs = [];
      engine.on("headers", (headers, req) => sessionIDs.push(req.sessionID));
      const seen = new Promise((resolve) => engine.once("connection", (socket) => resolve(socket)));
      const res = await get(port, "/engine.io/?EIO=4&transport=polling");
      const cookie = sessionCookie(res.headers["set-cookie"]);
      const sid = JSON.parse(res.body.slice(1)).sid;
      const socket = await seen;

      const upgraded = new Promise((resolve) => socket.once("upgrade", resolve));
      const { headers, ws } = await upgradeHeaders(port, `/engine.io/?EIO=4&transport=websocket&sid=${sid}`, {
        cookie,
      });
      sockets.push(ws);
      ws.send("2probe");
      await new Promise((resolve) => ws.once("message", resolve));
      ws.send("5");
      await upgraded;
      expect(socket.transport.name).to.be("websocket");
      expect(sessionIDs).to.have.length(2);
      expect(sessionIDs[1]).to.be(sessionIDs[0]);
      expect(sessionIDs[0]).to.be(socket.request.sessionID);
      // a known session: no new cookie on the 101 response
      expect(sessionCookie([].concat(headers["set-cookie"] || []))).to.be(undefined);
    });

    it("sets the session cookie on the 101 response of a WebSocket-only handshake", async () => {
      const seen = new Promise((resolve) => engine.once("connection", (socket) => resolve(socket)));
      const { headers, ws } = await upgradeHeaders(port, "/engine.io/?EIO=4&transport=websocket");
      sockets.push(ws);
      const cookie = sessionCookie([].concat(headers["set-cookie"] || []));
      expect(cookie).to.be.ok();
      const socket = await seen;
      expect(socket.request.session).to.be.an("object");
    });
  });
});
