"use strict";

// io.metrics(): the counters and gauges of a server, checked against what real clients
// and raw peers did to it (every packet and byte of the raw peers is known), and
// io.registerMetrics(): the same values in a prom-client registry, read at scrape time.
// The reference has no metrics: ours only.
const { execFileSync } = require("child_process");
const path = require("path");
const expect = require("expect.js");
const promClient = require("prom-client");
const {
  Server,
  REFERENCE,
  useHarness,
  connected,
  upgraded,
  waitFor,
  until,
  disconnectReason,
  request,
} = require("./support/util");

const SEPARATOR = "\x1e";
const bytes = (text) => Buffer.byteLength(text);

(REFERENCE ? describe.skip : describe)("metrics", () => {
  const h = useHarness();

  describe("io.metrics()", () => {
    it("is a plain object with every counter at 0 on a server that has seen nothing", async () => {
      const io = await h.server();
      const metrics = io.metrics();
      expect(JSON.parse(JSON.stringify(metrics))).to.eql(metrics);
      expect(metrics).to.eql({
        engine: {
          sessions: { polling: 0, websocket: 0 },
          handshakes: 0,
          connectionErrors: { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0 },
          rateLimitedHandshakes: 0,
          upgrades: 0,
          packetsReceived: 0,
          packetsSent: 0,
          bytesReceived: 0,
          bytesSent: 0,
          volatileDrops: 0,
          slowClientsClosed: 0,
          heartbeatTimeouts: 0,
          forwardedRequests: 0,
          forwardedUpgrades: 0,
          forwardingFailures: 0,
          retriedPolls: 0,
        },
        namespaces: {
          "/": {
            sockets: 0,
            eventsReceived: 0,
            eventsSent: 0,
            acksPending: 0,
            recoveries: 0,
            recoveryFailures: 0,
            rateLimitDrops: 0,
            rateLimitDisconnects: 0,
          },
        },
      });
    });

    it("works before the server is attached (no engine yet)", () => {
      const io = new Server();
      const metrics = io.metrics();
      expect(metrics.engine.sessions).to.eql({});
      expect(metrics.engine.handshakes).to.be(0);
      expect(metrics.namespaces["/"].sockets).to.be(0);
    });

    it("counts sessions by transport, handshakes and upgrades", async () => {
      const io = await h.server();
      const ws1 = await h.connect("/", { transports: ["websocket"] });
      await h.connect("/", { transports: ["websocket"] });
      const polling = await h.connect("/", { transports: ["polling"] });
      const upgrading = await h.connect("/");
      await upgraded(upgrading);
      // the client has sent the upgrade packet: the server switches when it reads it
      await until(() => io.engine.clients[upgrading.io.engine.id].upgraded, "the upgrade on the server");

      let { engine, namespaces } = io.metrics();
      expect(engine.sessions).to.eql({ polling: 1, websocket: 3 });
      expect(engine.handshakes).to.be(4);
      expect(engine.upgrades).to.be(1);
      expect(namespaces["/"].sockets).to.be(4);

      ws1.disconnect();
      polling.disconnect();
      await until(() => io.engine.clientsCount === 2, "two sessions left");
      ({ engine, namespaces } = io.metrics());
      expect(engine.sessions).to.eql({ polling: 0, websocket: 2 });
      expect(engine.handshakes).to.be(4);
      expect(engine.upgrades).to.be(1);
      expect(namespaces["/"].sockets).to.be(2);
    });

    it("counts events received and sent per namespace, a broadcast once per socket reached", async () => {
      const io = await h.server();
      io.of("/chat");
      const got = [];
      io.on("connection", (socket) => socket.on("ev", (n) => got.push(n)));
      io.of("/chat").on("connection", (socket) => socket.on("ev", (n) => got.push(n)));
      const a = await h.connect("/", { transports: ["websocket"] });
      const b = await h.connect("/", { transports: ["websocket"] });
      const c = await h.connect("/chat", { transports: ["websocket"] });
      for (let i = 0; i < 3; i++) a.emit("ev", i);
      b.emit("ev", 3);
      c.emit("ev", 4);
      c.emit("ev", 5);
      await until(() => got.length === 6, "the 6 events");

      const received = Promise.all([waitFor(a, "news"), waitFor(b, "news"), waitFor(a, "direct")]);
      io.emit("news", 1); // two sockets in "/"
      io.sockets.sockets.get(a.id).emit("direct");
      await received;
      const { namespaces } = io.metrics();
      expect(namespaces["/"].eventsReceived).to.be(4);
      expect(namespaces["/chat"].eventsReceived).to.be(2);
      expect(namespaces["/"].eventsSent).to.be(3);
      expect(namespaces["/chat"].eventsSent).to.be(0);
    });

    it("counts the acknowledgements awaited from the clients, direct and broadcast", async () => {
      const io = await h.server();
      const a = await h.connect("/", { transports: ["websocket"] });
      const b = await h.connect("/", { transports: ["websocket"] });
      let answer;
      a.on("direct", (cb) => (answer = cb));
      const asked = Promise.all([waitFor(a, "direct"), waitFor(a, "everyone"), waitFor(b, "everyone")]);
      const socketA = io.sockets.sockets.get(a.id);
      const acked = new Promise((resolve) => socketA.emit("direct", resolve));
      // nobody answers this one
      io.timeout(60000).emit("everyone", () => {});
      await asked;
      // a: its direct emit and the broadcast; b: the broadcast
      expect(io.metrics().namespaces["/"].acksPending).to.be(3);
      answer();
      await acked;
      expect(io.metrics().namespaces["/"].acksPending).to.be(2);
    });

    it("counts the refused requests by error code", async () => {
      const io = await h.server({ allowRequest: (req, fn) => fn(null, !req.headers["x-refuse"]) });
      const errors = [];
      io.engine.on("connection_error", (err) => errors.push(err.code));
      const port = h.port;
      await request(port, { path: "/socket.io/?EIO=4&transport=carrier-pigeon" }); // 0
      await request(port, { path: "/socket.io/?EIO=4&transport=polling&sid=nope" }); // 1
      await request(port, { path: "/socket.io/?EIO=4&transport=polling&sid=nope" }); // 1
      await request(port, { method: "POST", path: "/socket.io/?EIO=4&transport=polling", body: "x" }); // 2
      await request(port, { path: "/socket.io/?EIO=4&transport=websocket" }); // 3
      await request(port, { path: "/socket.io/?EIO=4&transport=polling", headers: { "x-refuse": "1" } }); // 4
      await request(port, { path: "/socket.io/?EIO=3&transport=polling" }); // 5
      expect(errors).to.eql([0, 1, 1, 2, 3, 4, 5]);
      const { engine } = io.metrics();
      expect(engine.connectionErrors).to.eql({ 0: 1, 1: 2, 2: 1, 3: 1, 4: 1, 5: 1, 6: 0, 7: 0 });
      expect(engine.handshakes).to.be(0);
    });

    it("counts the sessions closed by the heartbeat", async () => {
      const io = await h.server({ pingInterval: 50, pingTimeout: 50 });
      const peer = await h.rawWs();
      peer.autoPong = false;
      const [reason] = await waitFor(io.engine.clients[peer.sid], "close");
      expect(reason).to.be("ping timeout");
      expect(io.metrics().engine.heartbeatTimeouts).to.be(1);
    });

    it("counts volatile drops and slow-client closes from the engine's counters", async () => {
      const io = await h.server({ maxBufferedAmount: 4096 });
      // a polling peer with no GET pending: its transport is not writable
      const peer = await h.rawPolling();
      await peer.post("40");
      expect((await peer.get()).body.toString()).to.match(/^40/);
      const socket = [...io.sockets.sockets.values()][0];
      socket.volatile.emit("dropped");
      expect(io.metrics().engine.volatileDrops).to.be(1);
      // the same peer never polls again: queued packets pile up, tick after tick
      const closed = disconnectReason(socket);
      const payload = "x".repeat(1000);
      for (let i = 0; i < 20 && socket.connected; i++) {
        socket.emit("big", payload);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await closed).to.be("write buffer full");
      const { engine } = io.metrics();
      expect(engine.slowClientsClosed).to.be(1);
      expect(engine.volatileDrops).to.be(1);
    });

    it("counts every packet and byte a raw WebSocket peer exchanged, the probe of an upgrade aside", async () => {
      const io = await h.server({ pingInterval: 60000 });
      io.on("connection", (socket) => socket.on("echo", (data, cb) => cb(data)));

      const peer = await h.rawWs();
      const open = "0" + JSON.stringify(peer.handshake);
      peer.send("40");
      const connect = await peer.next();
      peer.send('421["echo","héllo"]');
      const ack = await peer.next();
      expect(ack).to.be('431["héllo"]');
      const sent = [open, connect, ack];
      const received = ["40", '421["echo","héllo"]'];

      const { engine } = io.metrics();
      expect(engine.packetsSent).to.be(sent.length);
      expect(engine.bytesSent).to.be(sent.reduce((n, m) => n + bytes(m), 0));
      expect(engine.packetsReceived).to.be(received.length);
      expect(engine.bytesReceived).to.be(received.reduce((n, m) => n + bytes(m), 0));
    });

    it("counts every packet and byte of a raw polling peer, then of its upgrade", async () => {
      const io = await h.server({ pingInterval: 60000 });
      io.on("connection", (socket) => socket.on("echo", (data, cb) => cb(data)));
      const peer = await h.rawPolling();
      const open = "0" + JSON.stringify(peer.handshake);
      let bodiesIn = bytes("40") + bytes('420["echo",1]' + SEPARATOR + '421["echo","ü"]');
      expect((await peer.post("40")).status).to.be(200);
      const first = (await peer.get()).body.toString();
      expect((await peer.post('420["echo",1]' + SEPARATOR + '421["echo","ü"]')).status).to.be(200);
      const second = (await peer.get()).body.toString();
      expect(second.split(SEPARATOR)).to.eql(["430[1]", '431["ü"]']);
      let { engine } = io.metrics();
      expect(engine.packetsReceived).to.be(3);
      expect(engine.bytesReceived).to.be(bodiesIn);
      expect(engine.packetsSent).to.be(4); // open, connect, two acks
      expect(engine.bytesSent).to.be(bytes(open) + bytes(first) + bytes(second));

      // the upgrade: the probe is not the session's traffic; the noop that releases the
      // pending GET and what follows on the WebSocket are
      const WebSocket = require("ws");
      const ws = new WebSocket(
        `ws://localhost:${h.port}/socket.io/?EIO=4&transport=websocket&sid=${peer.sid}`,
      );
      h.onCleanup(() => ws.terminate());
      const messages = [];
      ws.on("message", (data) => messages.push(data.toString()));
      await waitFor(ws, "open");
      const poll = peer.get();
      ws.send("2probe");
      await until(() => messages.length === 1, "the probe's answer");
      expect(messages[0]).to.be("3probe");
      const noop = (await poll).body.toString();
      expect(noop).to.be("6");
      ws.send("5");
      await waitFor(io.engine.clients[peer.sid], "upgrade");
      ws.send('422["echo",true]');
      await until(() => messages.length === 2, "the ack over the WebSocket");
      expect(messages[1]).to.be("432[true]");
      bodiesIn += bytes('422["echo",true]');
      ({ engine } = io.metrics());
      expect(engine.upgrades).to.be(1);
      expect(engine.packetsReceived).to.be(4);
      expect(engine.bytesReceived).to.be(bodiesIn);
      expect(engine.packetsSent).to.be(6);
      expect(engine.bytesSent).to.be(
        bytes(open) + bytes(first) + bytes(second) + bytes("6") + bytes("432[true]"),
      );
    });

    it("counts a broadcast's bytes per WebSocket client (pre-encoded frames), binary ones included", async () => {
      const io = await h.server({ pingInterval: 60000 });
      const a = await h.rawWs();
      const b = await h.rawWs();
      for (const peer of [a, b]) {
        peer.send("40");
        await peer.next();
      }
      const before = io.metrics().engine;
      const big = "y".repeat(70000); // a frame with a 64-bit length field
      io.emit("m", "short");
      io.emit("m", big);
      io.emit("bin", Buffer.from([1, 2, 3]));
      const texts = ['42["m","short"]', `42["m","${big}"]`, '451-["bin",{"_placeholder":true,"num":0}]'];
      for (const peer of [a, b]) {
        for (const text of texts) expect(await peer.next()).to.be(text);
        expect(Buffer.compare(await peer.next(), Buffer.from([1, 2, 3]))).to.be(0);
      }
      const after = io.metrics().engine;
      expect(after.packetsSent - before.packetsSent).to.be(8);
      const perClient = texts.reduce((n, t) => n + bytes(t), 0) + 3;
      expect(after.bytesSent - before.bytesSent).to.be(2 * perClient);
    });

    it("counts recoveries and failed recoveries per namespace", async () => {
      const io = await h.server({ connectionStateRecovery: { maxDisconnectionDuration: 5000 } });
      io.on("connection", (socket) => {
        if (!socket.recovered) socket.emit("welcome");
      });
      const client = h.client("/", {
        transports: ["websocket"],
        reconnection: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 50,
        randomizationFactor: 0,
      });
      const welcome = waitFor(client, "welcome");
      await connected(client);
      await welcome; // the client has an offset to present
      const first = io.sockets.sockets.get(client.id);
      const dropped = disconnectReason(first);
      client.io.engine.close();
      expect(await dropped).to.be("transport close");
      await waitFor(client, "connect");
      expect(client.recovered).to.be(true);

      // a session the server does not know
      const peer = await h.rawWs();
      peer.send('40{"pid":"unknown","offset":"0-0"}');
      expect(await peer.next()).to.match(/^40/);
      const { namespaces } = io.metrics();
      expect(namespaces["/"].recoveries).to.be(1);
      expect(namespaces["/"].recoveryFailures).to.be(1);
      expect(namespaces["/"].sockets).to.be(2);
    });
  });

  describe("io.registerMetrics()", () => {
    it("puts every metric in the registry, read when it is scraped", async () => {
      const io = await h.server();
      const register = new promClient.Registry();
      expect(io.registerMetrics(promClient, { register })).to.be(io);
      const names = (await register.getMetricsAsJSON()).map((m) => `${m.name} ${m.type}`);
      expect(names).to.eql([
        "socketio_engine_sessions gauge",
        "socketio_engine_handshakes_total counter",
        "socketio_engine_connection_errors_total counter",
        "socketio_engine_rate_limited_handshakes_total counter",
        "socketio_engine_upgrades_total counter",
        "socketio_engine_packets_received_total counter",
        "socketio_engine_packets_sent_total counter",
        "socketio_engine_bytes_received_total counter",
        "socketio_engine_bytes_sent_total counter",
        "socketio_engine_volatile_drops_total counter",
        "socketio_engine_slow_clients_closed_total counter",
        "socketio_engine_heartbeat_timeouts_total counter",
        "socketio_engine_forwarded_requests_total counter",
        "socketio_engine_forwarded_upgrades_total counter",
        "socketio_engine_forwarding_failures_total counter",
        "socketio_engine_retried_polls_total counter",
        "socketio_sockets gauge",
        "socketio_events_received_total counter",
        "socketio_events_sent_total counter",
        "socketio_acks_pending gauge",
        "socketio_recoveries_total counter",
        "socketio_recovery_failures_total counter",
        "socketio_rate_limit_drops_total counter",
        "socketio_rate_limit_disconnects_total counter",
      ]);

      let text = await register.metrics();
      expect(text).to.contain('socketio_engine_sessions{transport="websocket"} 0\n');
      expect(text).to.contain("socketio_engine_handshakes_total 0\n");
      expect(text).to.contain('socketio_sockets{namespace="/"} 0\n');
      expect(text).to.contain(
        'socketio_engine_connection_errors_total{code="1",message="Session ID unknown"} 0\n',
      );

      // registered before anything happened: the values are those of the scrape
      io.of("/chat");
      const got = waitFor(io.of("/chat"), "connection");
      const client = await h.connect("/chat", { transports: ["websocket"] });
      const socket = await got;
      const received = new Promise((resolve) => socket.on("ev", resolve));
      client.emit("ev");
      await received;
      await request(h.port, { path: "/socket.io/?EIO=4&transport=polling&sid=nope" });
      text = await register.metrics();
      expect(text).to.contain('socketio_engine_sessions{transport="websocket"} 1\n');
      expect(text).to.contain('socketio_engine_sessions{transport="polling"} 0\n');
      expect(text).to.contain("socketio_engine_handshakes_total 1\n");
      expect(text).to.contain('socketio_sockets{namespace="/chat"} 1\n');
      expect(text).to.contain('socketio_sockets{namespace="/"} 0\n');
      expect(text).to.contain('socketio_events_received_total{namespace="/chat"} 1\n');
      expect(text).to.contain(
        'socketio_engine_connection_errors_total{code="1",message="Session ID unknown"} 1\n',
      );
      // the same values twice in a row: a counter is set to the total, not added to
      expect(await register.metrics()).to.be(text);
    });

    it("goes to the default registry unless told otherwise, under the given prefix", async () => {
      const io = await h.server();
      io.registerMetrics(promClient, { prefix: "chat_" });
      try {
        await h.connect("/", { transports: ["websocket"] });
        const text = await promClient.register.metrics();
        expect(text).to.contain("chat_engine_handshakes_total 1\n");
        expect(text).not.to.contain("socketio_");
      } finally {
        promClient.register.clear();
      }
    });

    it("two servers share a registry under two prefixes; the same prefix twice is refused", async () => {
      const one = await h.server();
      const two = new Server();
      const register = new promClient.Registry();
      one.registerMetrics(promClient, { register, prefix: "one_" });
      two.registerMetrics(promClient, { register, prefix: "two_" });
      await h.connect("/", { transports: ["websocket"] });
      const text = await register.metrics();
      expect(text).to.contain("one_engine_handshakes_total 1\n");
      expect(text).to.contain("two_engine_handshakes_total 0\n");
      expect(() => two.registerMetrics(promClient, { register, prefix: "one_" })).to.throwError(
        /already been registered/,
      );
    });

    it("needs the prom-client module, and the package never loads it by itself", async () => {
      const io = new Server();
      expect(() => io.registerMetrics(new promClient.Registry())).to.throwError(/prom-client module/);
      const dist = path.join(__dirname, "..", "..", "dist");
      const script = `
        const { Server } = require(${JSON.stringify(dist)});
        new Server().metrics();
        const loaded = Object.keys(require.cache).filter((file) => file.includes("prom-client"));
        console.log(JSON.stringify(loaded));
      `;
      expect(JSON.parse(execFileSync(process.execPath, ["-e", script]).toString())).to.eql([]);
    });
  });
});
