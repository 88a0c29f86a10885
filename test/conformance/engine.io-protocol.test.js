"use strict";

// Conformance to the Engine.IO protocol, revision 4: the properties that the public test
// suite of socketio/engine.io-protocol (test-suite/test-suite.js, the EIO=4 version, and
// its README) checks, written anew for this project with raw HTTP requests and raw `ws`
// frames, against an Engine.IO server set up as that suite expects: pingInterval 300,
// pingTimeout 200, maxPayload 1e6, every message echoed. The suite checks each case's
// outcome; these tests also check when it happens (the heartbeat's gaps, measured by the
// server's own events) and what the server saw (close reasons, connection errors). The
// cases themselves are in ./support/engine-io-cases.js, shared with the Socket.IO suite.
const http = require("http");
const expect = require("expect.js");
const impl = require("../support/impl");
const { listen, closeHttp } = require("../support/servers");
const { recordSessions } = require("./support/protocol");
const { describeEngineIoCases, PING_INTERVAL, PING_TIMEOUT } = require("./support/engine-io-cases");

describe("Engine.IO protocol conformance (socketio/engine.io-protocol test suite)", function () {
  this.timeout(5000);
  const ctx = {};

  before(async () => {
    const { Server } = impl.engine();
    const httpServer = http.createServer();
    const engine = new Server({
      pingInterval: PING_INTERVAL,
      pingTimeout: PING_TIMEOUT,
      maxHttpBufferSize: 1e6,
    });
    engine.attach(httpServer);
    engine.on("connection", (socket) => {
      socket.on("message", (data) => socket.send(data));
    });
    ctx.httpServer = httpServer;
    ctx.engine = engine;
    ctx.sessions = recordSessions(engine);
    ctx.port = await listen(httpServer);
  });

  after(async () => {
    ctx.engine.close();
    await closeHttp(ctx.httpServer);
  });

  describeEngineIoCases(ctx, {
    path: "/engine.io/",
    messages: true,
    // the upgraded session echoes a message over the WebSocket
    async proveAlive(ws) {
      ws.send("4hello");
      expect((await ws.next()).data).to.be("4hello");
    },
  });
});
