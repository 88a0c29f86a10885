"use strict";

// io.registerMetrics() scraped by a real Prometheus server (the Debian package, started by
// the test on a free loopback port, scraping the application's /metrics every 200 ms), and
// every value Prometheus stored checked against a scripted ground truth: clients that speak
// the protocol by hand (support/tally-client.js) and count every packet and byte they
// exchanged, over WebSocket, polling and an upgrade; refused requests of every error code;
// a client that never answers the heartbeat; one that stops polling (a volatile drop, then
// closed as too slow); a session recovered and one that cannot be.
const http = require("http");
const expect = require("expect.js");
const promClient = require("prom-client");
const impl = require("../support/impl");
const { listen, closeHttp } = require("../support/servers");
const { until } = require("../support/wait");
const { startPrometheus, prometheusBinary, missingPrometheus } = require("./support/prometheus");
const { TallyClient, newTally, eventPacket, request } = require("./support/tally-client");

const { Server } = impl.sio();

// waits on the server's own state, for synchronization only: never a source of expectations
const settled = (predicate, what) => until(predicate, what, 8000);

(impl.REFERENCE ? describe.skip : describe)("metrics scraped by a real Prometheus server", function () {
  this.timeout(60000);

  let prom, httpServer, io, register, port, scrapes;

  before(async function () {
    if (!prometheusBinary()) {
      if (process.env.CI) throw missingPrometheus();
      console.log(`      skipped: ${missingPrometheus().message}`);
      this.skip();
    }
    register = new promClient.Registry();
    scrapes = [];
    httpServer = http.createServer(async (req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404);
        res.end();
        return;
      }
      scrapes.push(Date.now());
      res.setHeader("Content-Type", register.contentType);
      res.end(await register.metrics());
    });
    io = new Server(httpServer, {
      serveClient: false,
      pingInterval: 3000,
      pingTimeout: 1000,
      maxBufferedAmount: 20000,
      connectionStateRecovery: { maxDisconnectionDuration: 30000 },
      allowRequest: (req, fn) => fn(null, !req.headers["x-refuse"]),
    });
    io.of("/chat");
    io.registerMetrics(promClient, { register });
    port = await listen(httpServer);
    // Prometheus applies its targets a few seconds after it starts: it starts now, and
    // the scenario runs meanwhile
    prom = await startPrometheus({ targets: ["127.0.0.1:" + port], scrapeInterval: "200ms" });
  });

  after(async () => {
    if (io) await new Promise((resolve) => io.close(() => resolve()));
    if (httpServer) await closeHttp(httpServer).catch(() => {});
    if (prom) await prom.stop();
  });

  /**
   * Every series of this server's metrics as Prometheus has them, once it has stored a
   * scrape that began after `since` (ms): { "name{label=value,...}": number }.
   */
  async function scraped(since) {
    await until(() => scrapes.some((t) => t > since), "a scrape after the scenario", 15000);
    const fresh = async () => {
      const result = await prom.query("timestamp(socketio_engine_handshakes_total)");
      return result.length === 1 && Number(result[0].value[1]) * 1000 > since;
    };
    const deadline = Date.now() + 15000;
    while (!(await fresh())) {
      if (Date.now() > deadline) throw new Error("Prometheus stored no scrape after the scenario");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const series = {};
    for (const { metric, value } of await prom.query('{__name__=~"socketio_.+"}')) {
      const { __name__: name, job, instance, ...labels } = metric;
      expect(job).to.be("socketio");
      expect(instance).to.be("127.0.0.1:" + port);
      const keys = Object.keys(labels).sort();
      series[name + (keys.length ? `{${keys.map((k) => `${k}=${labels[k]}`).join(",")}}` : "")] = Number(
        value[1],
      );
    }
    return series;
  }

  it("stores what the clients did: every counter equals the ground truth", async () => {
    const tally = newTally();
    const clients = [];
    const client = (options) => {
      const c = new TallyClient(port, tally, options);
      clients.push(c);
      return c;
    };
    const expected = { handshakes: 0, volatileDrops: 0, emittedNotReceived: 0 };
    const open = async (c) => {
      await c.open();
      expected.handshakes++;
      return c;
    };

    // refused requests, by code: 0 unknown transport, 1 unknown session (twice), 2 a
    // handshake by POST, 3 a websocket handshake without the upgrade, 4 allowRequest, 5 EIO=3
    const refusals = [
      ["GET", "/socket.io/?EIO=4&transport=pigeon", 0],
      ["GET", "/socket.io/?EIO=4&transport=polling&sid=nope", 1],
      ["POST", "/socket.io/?EIO=4&transport=polling&sid=nope", 1],
      ["POST", "/socket.io/?EIO=4&transport=polling", 2],
      ["GET", "/socket.io/?EIO=4&transport=websocket", 3],
      ["GET", "/socket.io/?EIO=3&transport=polling", 5],
    ];
    for (const [method, path] of refusals) {
      expect((await request(port, method, path, "")).status).to.be(400);
    }
    const forbidden = await request(port, "GET", "/socket.io/?EIO=4&transport=polling", "", {
      "x-refuse": "1",
    });
    expect(forbidden.status).to.be(403);

    // three WebSocket clients; the first also joins /chat
    const [w1, w2, w3] = await Promise.all([1, 2, 3].map(() => open(client({ transport: "websocket" }))));
    await w1.connect("/");
    const { sid: w2Sid } = await w2.connect("/");
    await w3.connect("/");
    await w1.connect("/chat");
    // two polling clients; the second upgrades
    const [p1, p2] = await Promise.all([1, 2].map(() => open(client({ transport: "polling" }))));
    await p1.connect("/");
    await p2.connect("/");

    // events from the clients, one POST carrying two of them
    for (let i = 0; i < 3; i++) await w1.emit("/", "up", i);
    await w1.emit("/chat", "up", "chat");
    await w1.emit("/chat", "up", "chat again");
    await w2.emit("/", "up", "w2");
    await p1.send(eventPacket("/", ["up", 1]), eventPacket("/", ["up", 2]));
    await p2.emit("/", "up", "before the upgrade");
    await p2.upgrade();
    await settled(() => io.engine.clients[p2.sid] && io.engine.clients[p2.sid].upgraded, "the upgrade");
    await p2.emit("/", "up", "after the upgrade");

    // a polling client that stops polling: a volatile emit to it is dropped, then what is
    // emitted to it piles up until it is closed as too slow (neither reaches it)
    const slow = await open(client({ transport: "polling", poll: false }));
    const connecting = slow.connect("/");
    await slow.get();
    const { sid: slowSid } = await connecting;
    const slowSocket = io.sockets.sockets.get(slowSid);
    slowSocket.volatile.emit("volatile");
    expected.volatileDrops++;
    expected.emittedNotReceived++;
    const slowClosed = new Promise((resolve) => slowSocket.once("disconnect", resolve));
    const payload = "z".repeat(2000);
    while (slowSocket.connected) {
      slowSocket.emit("big", payload);
      expected.emittedNotReceived++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await slowClosed).to.be("write buffer full");

    // a client that never answers the heartbeat
    const silent = await open(client({ transport: "websocket", autoPong: false }));
    const silentClosed = new Promise((resolve) => io.engine.clients[silent.sid].once("close", resolve));

    // connection state recovery: a session left and restored, and one unknown to the server
    const leaving = await open(client({ transport: "websocket" }));
    const { sid, pid } = await leaving.connect("/");
    io.sockets.sockets.get(sid).emit("hello");
    const [, offset] = await leaving.event("hello");
    const left = new Promise((resolve) => io.sockets.sockets.get(sid).once("disconnect", resolve));
    await leaving.close();
    expect(await left).to.be("transport close");
    const back = await open(client({ transport: "websocket" }));
    expect((await back.connect("/", { pid, offset })).sid).to.be(sid);
    const stranger = await open(client({ transport: "websocket" }));
    expect((await stranger.connect("/", { pid: "unknown", offset })).sid).not.to.be(sid);

    // events from the server: a broadcast to "/", one to "/chat", a direct emit with an
    // acknowledgement that never comes
    io.emit("news", 1);
    io.of("/chat").emit("news", 2);
    io.sockets.sockets.get(w2Sid).emit("question", () => {});
    const inRoot = [w1, w2, w3, p1, p2, back, stranger];
    await Promise.all(inRoot.map((c) => c.event("news")));
    await w1.next((p) => p.startsWith('42/chat,["news"'));
    await w2.event("question");

    expect(await silentClosed).to.be("ping timeout");

    // the live state: gauges
    const liveAt = Date.now();
    let series = await scraped(liveAt);
    expect(series).to.have.property("socketio_engine_sessions{transport=polling}", 1); // p1
    // w1, w2, w3, p2, back, stranger
    expect(series["socketio_engine_sessions{transport=websocket}"]).to.be(6);
    expect(series["socketio_sockets{namespace=/}"]).to.be(inRoot.length);
    expect(series["socketio_sockets{namespace=/chat}"]).to.be(1);
    expect(series["socketio_acks_pending{namespace=/}"]).to.be(1);
    expect(series["socketio_acks_pending{namespace=/chat}"]).to.be(0);

    // every client leaves (the slow one is gone already, unknowingly); then every counter is final
    await Promise.all(clients.filter((c) => c !== slow).map((c) => c.close()));
    await settled(() => io.engine.clientsCount === 0, "every session closed");
    // the server closed the silent client, and no other
    expect(clients.filter((c) => c.closedByServer)).to.eql([silent]);
    expect(tally.refused).to.eql([]);
    const doneAt = Date.now();
    series = await scraped(doneAt);

    const groundTruth = {
      "socketio_engine_sessions{transport=polling}": 0,
      "socketio_engine_sessions{transport=websocket}": 0,
      socketio_engine_handshakes_total: expected.handshakes,
      "socketio_engine_connection_errors_total{code=0,message=Transport unknown}": 1,
      "socketio_engine_connection_errors_total{code=1,message=Session ID unknown}": 2,
      "socketio_engine_connection_errors_total{code=2,message=Bad handshake method}": 1,
      "socketio_engine_connection_errors_total{code=3,message=Bad request}": 1,
      "socketio_engine_connection_errors_total{code=4,message=Forbidden}": 1,
      "socketio_engine_connection_errors_total{code=5,message=Unsupported protocol version}": 1,
      "socketio_engine_connection_errors_total{code=6,message=Too many requests}": 0,
      "socketio_engine_connection_errors_total{code=7,message=Service unavailable}": 0,
      socketio_engine_rate_limited_handshakes_total: 0,
      socketio_engine_upgrades_total: 1,
      socketio_engine_packets_received_total: tally.packetsReceived,
      socketio_engine_packets_sent_total: tally.packetsSent,
      socketio_engine_bytes_received_total: tally.bytesReceived,
      socketio_engine_bytes_sent_total: tally.bytesSent,
      socketio_engine_volatile_drops_total: expected.volatileDrops,
      socketio_engine_slow_clients_closed_total: 1,
      socketio_engine_heartbeat_timeouts_total: 1,
      socketio_engine_forwarded_requests_total: 0,
      socketio_engine_forwarded_upgrades_total: 0,
      socketio_engine_forwarding_failures_total: 0,
      socketio_engine_retried_polls_total: 0,
      "socketio_sockets{namespace=/}": 0,
      "socketio_sockets{namespace=/chat}": 0,
      "socketio_events_received_total{namespace=/}": tally.eventsReceived["/"],
      "socketio_events_received_total{namespace=/chat}": tally.eventsReceived["/chat"],
      "socketio_events_sent_total{namespace=/}": tally.eventsSent["/"] + expected.emittedNotReceived,
      "socketio_events_sent_total{namespace=/chat}": tally.eventsSent["/chat"],
      "socketio_acks_pending{namespace=/}": 0,
      "socketio_acks_pending{namespace=/chat}": 0,
      "socketio_recoveries_total{namespace=/}": 1,
      "socketio_recoveries_total{namespace=/chat}": 0,
      "socketio_recovery_failures_total{namespace=/}": 1,
      "socketio_recovery_failures_total{namespace=/chat}": 0,
      "socketio_rate_limit_drops_total{namespace=/}": 0,
      "socketio_rate_limit_drops_total{namespace=/chat}": 0,
      "socketio_rate_limit_disconnects_total{namespace=/}": 0,
      "socketio_rate_limit_disconnects_total{namespace=/chat}": 0,
    };
    expect(series).to.eql(groundTruth);
    // the scenario is what it says: the tallies are not trivially small
    expect(tally.eventsReceived).to.eql({ "/": 8, "/chat": 2 });
    expect(tally.packetsSent).to.be.greaterThan(30);
  });
});
