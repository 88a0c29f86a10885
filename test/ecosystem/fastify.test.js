"use strict";

// fastify 4 with the fastify-socket.io plugin, which creates the server itself with
// `require("socket.io")(fastify.server, opts)`: with this package in place of
// socket.io, fastify's routes and Socket.IO share the port, the plugin's options
// reach the server, real clients connect on both transports, and fastify.close()
// disconnects them. (fastify-socket.io 5.x has a preinstall script that only lets
// pnpm install it; 4.0.0 is the same plugin for fastify 4 without it.)
const http = require("http");
const expect = require("expect.js");
const { io: ioc } = require("socket.io-client");
const impl = require("../support/impl");
const { useImplAsSocketIo } = require("./support/socket-io-module");
const { once, connected, waitFor } = require("./support/peers");

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}

describe("fastify with fastify-socket.io" + (impl.REFERENCE ? " (reference)" : ""), function () {
  let restore, Fastify, fastifySocketIo;
  let app, url, clients;

  before(() => {
    restore = useImplAsSocketIo();
    Fastify = require("fastify");
    fastifySocketIo = require("fastify-socket.io");
  });

  after(() => restore());

  beforeEach(async () => {
    clients = [];
    app = Fastify();
    app.register(fastifySocketIo, { pingInterval: 4000, cors: { origin: "https://app.example" } });
    app.get("/health", async () => ({ ok: true, sockets: app.io.engine.clientsCount }));
    // fastify 4 closes its HTTP server before the plugin's onClose hook closes Socket.IO,
    // and the server waits for the open WebSocket connections: the app disconnects its
    // clients in preClose (what fastify-socket.io 5 does itself)
    app.addHook("preClose", (done) => {
      app.io.local.disconnectSockets(true);
      done();
    });
    await app.ready();
    app.io.on("connection", (socket) => {
      socket.on("echo", (msg, cb) => cb("echo: " + msg));
      socket.on("shout", (msg) => app.io.emit("shouted", msg.toUpperCase()));
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    url = "http://127.0.0.1:" + app.server.address().port;
  });

  afterEach(async () => {
    for (const client of clients) client.disconnect();
    await app.close();
  });

  async function connect(opts = {}) {
    const client = ioc(url, { forceNew: true, reconnection: false, ...opts });
    clients.push(client);
    await connected(client);
    return client;
  }

  it("decorates fastify with the implementation's Server, created with the plugin's options", () => {
    expect(app.io).to.be.a(impl.sio().Server);
    expect(app.io.httpServer).to.be(app.server);
    expect(app.io.engine.opts.pingInterval).to.be(4000);
  });

  it("serves Socket.IO and fastify's routes on the same port", async () => {
    const polling = await connect();
    const ws = await connect({ transports: ["websocket"] });
    await waitFor(() => polling.io.engine.transport.name === "websocket", 3000, "the upgrade");
    expect(await polling.emitWithAck("echo", "a")).to.be("echo: a");
    expect(await ws.emitWithAck("echo", "b")).to.be("echo: b");

    const got = Promise.all([once(polling, "shouted"), once(ws, "shouted")]);
    ws.emit("shout", "hi");
    expect(await got).to.eql([["HI"], ["HI"]]);

    const health = await get(url + "/health");
    expect(health.status).to.be(200);
    expect(JSON.parse(health.body)).to.eql({ ok: true, sockets: 2 });
    const notFound = await get(url + "/nope");
    expect(notFound.status).to.be(404);
  });

  it("answers the handshake with the CORS headers of the plugin's options, and serves the client bundle", async () => {
    const res = await new Promise((resolve, reject) => {
      http
        .get(
          url + "/socket.io/?EIO=4&transport=polling",
          { headers: { origin: "https://app.example" } },
          resolve,
        )
        .on("error", reject);
    });
    res.resume();
    expect(res.statusCode).to.be(200);
    expect(res.headers["access-control-allow-origin"]).to.be("https://app.example");
    const bundle = await get(url + "/socket.io/socket.io.js");
    expect(bundle.status).to.be(200);
    expect(bundle.headers["content-type"]).to.match(/javascript/);
  });

  it("fastify.close() completes, every client of every transport told 'io server disconnect'", async () => {
    const clientA = await connect({ transports: ["websocket"] });
    const clientB = await connect({ transports: ["polling"] });
    const clientC = await connect();
    await waitFor(() => clientC.io.engine.transport.name === "websocket", 3000, "the upgrade");
    const gone = Promise.all([clientA, clientB, clientC].map((client) => once(client, "disconnect")));
    await app.close();
    expect((await gone).map((args) => args[0])).to.eql(new Array(3).fill("io server disconnect"));
  });
});
