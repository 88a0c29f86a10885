"use strict";

// io.drain(): taking a node out of service without ending its clients' sessions.
// Real servers, real socket.io-client 4.8 and ws peers. Ours only: the reference has no drain.
const path = require("path");
const http = require("http");
const { spawn } = require("child_process");
const expect = require("expect.js");
const WebSocket = require("ws");
const { useHarness, connected, disconnectReason, waitFor, until, REFERENCE } = require("./support/util");

const describeOurs = REFERENCE ? describe.skip : describe;

const RECONNECT = {
  reconnection: true,
  reconnectionDelay: 50,
  reconnectionDelayMax: 50,
  randomizationFactor: 0,
};

/** Resolves with the status and body of a plain HTTP GET. */
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

/** Resolves with the HTTP status a WebSocket handshake was answered with. */
function wsHandshakeStatus(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode);
      res.resume();
      ws.terminate();
    });
    ws.on("open", () => {
      ws.terminate();
      reject(new Error("handshake accepted"));
    });
    ws.on("error", () => {});
  });
}

/** Connects `n` websocket clients; resolves them once all are connected. */
async function connectMany(h, n, opts = {}) {
  const clients = [];
  for (let i = 0; i < n; i++) clients.push(h.client("/", { transports: ["websocket"], ...opts }));
  await Promise.all(clients.map((c) => connected(c)));
  return clients;
}

describeOurs("io.drain()", () => {
  const h = useHarness();

  it("refuses new handshakes with 503 while the open sessions go on", async () => {
    const io = await h.server();
    io.on("connection", (socket) => socket.on("echo", (x, ack) => ack(x)));
    const errors = [];
    io.engine.on("connection_error", (err) => errors.push(err.code));
    // two sessions, one closed at once and the other a second later (for 2 reconnections
    // a second, the pace is 1 a second)
    const [first] = await connectMany(h, 2);
    const drained = io.drain({ rate: 2, batchSize: 1, deadline: 5000 });

    const polling = await get(`${h.url("/socket.io/")}?EIO=4&transport=polling`);
    expect(polling.status).to.be(503);
    expect(polling.headers["content-type"]).to.be("application/json");
    expect(JSON.parse(polling.body)).to.eql({ code: 7, message: "Service unavailable" });
    const upgrade = await wsHandshakeStatus(`ws://localhost:${h.port}/socket.io/?EIO=4&transport=websocket`);
    expect(upgrade).to.be(503);
    expect(errors).to.eql([7, 7]);

    // a session not yet closed still works
    const stillOpen = first.connected ? first : h.clients[1];
    expect(await stillOpen.timeout(2000).emitWithAck("echo", "ok")).to.be("ok");

    const result = await drained;
    expect(result).to.eql({ ...result, closed: 2, persisted: 0, notPersisted: 0, timedOut: false });
  });

  it("closes the sessions in batches at an even pace under the rate, as reconnectable transport closes", async () => {
    const io = await h.server({ connectionStateRecovery: {} });
    const serverReasons = [];
    const closedAt = [];
    io.on("connection", (socket) =>
      socket.on("disconnect", (reason) => {
        serverReasons.push(reason);
        closedAt.push(Date.now());
      }),
    );
    const clients = await connectMany(h, 10, RECONNECT);
    const clientReasons = Promise.all(clients.map((c) => disconnectReason(c, 5000)));
    const retried = Promise.all(clients.map((c) => waitFor(c, "connect_error", 5000)));

    // for 20 reconnections a second, 13.6 closes a second, 2 at a time: a batch every
    // 147 ms, 5 batches
    const started = Date.now();
    const result = await io.drain({ rate: 20, batchSize: 2, deadline: 5000 });
    const elapsed = Date.now() - started;

    expect(result.closed).to.be(10);
    expect(result.timedOut).to.be(false);
    expect(elapsed).to.be.greaterThan(4 * 147 - 20);
    expect(serverReasons).to.eql(new Array(10).fill("forced close"));
    // the official client takes it as a lost connection, not as a final disconnect
    expect(await clientReasons).to.eql(new Array(10).fill("transport close"));
    // ...and tries again (refused here: the node is out of service)
    await retried;
    expect(clients.every((c) => c.active)).to.be(true);
    // no two batches closer than the pace allows (timer slack tolerated)
    const batches = [];
    for (let i = 0; i < closedAt.length; i += 2) batches.push(closedAt[i]);
    for (let i = 1; i < batches.length; i++) expect(batches[i] - batches[i - 1]).to.be.greaterThan(127);
    expect(io.engine.clientsCount).to.be(0);
  });

  // Clients reconnect after a random delay (socket.io-client's defaults here: 1 s ± 50 %),
  // so the reconnections of sessions closed at an even pace arrive unevenly: closed at
  // exactly 50 a second, the busiest second of this drain would see about 59 (a count of
  // random arrivals fluctuates by about its square root). The drain's pace leaves room for it.
  it("sends the other node at most `rate` reconnections in any second (+10 %), with the client's random delays", async function () {
    this.timeout(30000);
    const RATE = 50;
    const CLIENTS = 250;
    const nodeA = await h.server({ connectionStateRecovery: {} });
    const portA = h.port;
    const nodeB = await h.server({ connectionStateRecovery: {} });
    const portB = h.port;
    const arrivals = [];
    nodeB.on("connection", () => arrivals.push(Date.now()));
    h.usePort(portA);
    const clients = [];
    for (let i = 0; i < CLIENTS; i++) {
      // reconnectionDelay and randomizationFactor at their defaults
      const client = h.client("/", { transports: ["websocket"], reconnection: true });
      // the load balancer: the next handshake goes to node B
      client.io.on("reconnect_attempt", () => {
        client.io.uri = `http://localhost:${portB}`;
        client.io.opts.port = String(portB);
      });
      clients.push(client);
    }
    await Promise.all(clients.map((c) => connected(c, 10000)));

    const result = await nodeA.drain({ rate: RATE, deadline: 20000 });
    expect(result).to.eql({ ...result, closed: CLIENTS, timedOut: false });
    await until(() => arrivals.length === CLIENTS, "every client on node B", 10000);
    // the most arrivals within any 1 s (sliding windows)
    arrivals.sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; i < arrivals.length; i++) {
      while (arrivals[i] - arrivals[j] >= 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    console.log("      peak reconnections in 1 s: %d for a rate of %d", peak, RATE);
    expect(peak).to.be.within(RATE * 0.6, RATE * 1.1);
    // 250 sessions at 39.2 a second
    expect(result.duration).to.be.within(5500, 8000);
  });

  it("closes HTTP long-polling sessions the same way", async () => {
    const io = await h.server({ connectionStateRecovery: {} });
    const serverReasons = [];
    io.on("connection", (socket) => socket.on("disconnect", (reason) => serverReasons.push(reason)));
    const clients = await connectMany(h, 3, { ...RECONNECT, transports: ["polling"] });
    const clientReasons = Promise.all(clients.map((c) => disconnectReason(c, 5000)));
    const result = await io.drain({ rate: 100, deadline: 5000 });
    expect(result).to.eql({ ...result, closed: 3, timedOut: false });
    expect(await clientReasons).to.eql(new Array(3).fill("transport close"));
    expect(serverReasons).to.eql(new Array(3).fill("forced close"));
  });

  it("hands the sessions over: the client recovers on another node with what it missed", async () => {
    // two nodes sharing one session store, as a redis-streams adapter does across processes
    const { SessionAwareAdapter } = require(path.join(__dirname, "..", "..", "dist", "adapter"));
    const store = { sessions: new Map(), packets: [] };
    class SharedStore extends SessionAwareAdapter {
      constructor(nsp) {
        super(nsp);
        this.sessions = store.sessions;
        this.packets = store.packets;
      }
    }
    const opts = { adapter: SharedStore, connectionStateRecovery: {} };
    const nodeA = await h.server(opts);
    const portA = h.port;
    const nodeB = await h.server(opts);
    const portB = h.port;
    for (const node of [nodeA, nodeB]) {
      node.on("connection", (socket) => {
        if (!socket.recovered) {
          socket.join("room");
          socket.data.user = "alice";
        }
      });
    }
    h.usePort(portA);
    const client = h.client("/", RECONNECT);
    const received = [];
    client.on("seq", (n) => received.push(n));
    await connected(client);
    const firstId = client.id;
    nodeA.to("room").emit("seq", 1);
    await until(() => received.length === 1);

    // the load balancer: the next handshake goes to node B
    client.io.on("reconnect_attempt", () => {
      client.io.uri = `http://localhost:${portB}`;
      client.io.opts.port = String(portB);
    });
    const drained = nodeA.drain({ rate: 100, deadline: 3000 });
    nodeA.to("room").emit("seq", 2);
    await drained;
    nodeB.to("room").emit("seq", 3);
    const recoveredSocket = await waitFor(nodeB, "connection", 3000);
    await until(() => received.length === 3);

    expect(recoveredSocket.recovered).to.be(true);
    expect(client.recovered).to.be(true);
    expect(client.id).to.be(firstId);
    expect(recoveredSocket.rooms.has("room")).to.be(true);
    expect(recoveredSocket.data).to.eql({ user: "alice" });
    expect(received).to.eql([1, 2, 3]);
  });

  it("waits until the adapter has stored every session", async () => {
    const stored = [];
    const io = await h.server({ connectionStateRecovery: {} });
    const adapter = io.of("/").adapter;
    const persist = adapter.persistSession.bind(adapter);
    // an adapter storing sessions elsewhere (redis-streams, postgres) answers with a promise
    adapter.persistSession = (session) =>
      new Promise((resolve) =>
        setTimeout(() => {
          persist(session);
          stored.push(session.sid);
          resolve();
        }, 300),
      );
    await connectMany(h, 4);
    const result = await io.drain({ rate: 1000, deadline: 5000 });
    expect(stored.length).to.be(4);
    expect(result).to.eql({ ...result, closed: 4, persisted: 4, notPersisted: 0, timedOut: false });
  });

  it("ends within the deadline, closing whatever is left at once", async () => {
    const io = await h.server({ connectionStateRecovery: {} });
    const reasons = [];
    io.on("connection", (socket) => socket.on("disconnect", (reason) => reasons.push(reason)));
    const adapter = io.of("/").adapter;
    // a store that never answers
    adapter.persistSession = () => new Promise(() => {});
    await connectMany(h, 6);
    const started = Date.now();
    // one a second would take 6 s
    const result = await io.drain({ rate: 1, batchSize: 1, deadline: 600 });
    const elapsed = Date.now() - started;
    expect(elapsed).to.be.within(550, 1500);
    expect(result.timedOut).to.be(true);
    expect(result.closed).to.be(6);
    expect(result.notPersisted).to.be(6);
    expect(io.engine.clientsCount).to.be(0);
    expect(reasons).to.eql(new Array(6).fill("forced close"));
  });

  it("leaves the http server to the application unless closeHttpServer", async () => {
    const httpServer = http.createServer((req, res) => res.end("app"));
    const io = await h.server({}, httpServer);
    await io.drain({ deadline: 2000 });
    expect(httpServer.listening).to.be(true);
    expect((await get(`http://localhost:${h.port}/health`)).body).to.be("app");

    const other = http.createServer((req, res) => res.end("app"));
    const io2 = await h.server({}, other);
    await connectMany(h, 1);
    await io2.drain({ deadline: 2000, closeHttpServer: true });
    expect(other.listening).to.be(false);
  });

  it("runs on SIGTERM as documented, and the process exits 0 within the deadline", async () => {
    const child = spawn(process.execPath, [path.join(__dirname, "support", "drain-server.js")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await until(() => /listening (\d+)/.test(output), "the child listening", 10000);
      h.usePort(Number(/listening (\d+)/.exec(output)[1]));
      const clients = await connectMany(h, 5, RECONNECT);
      const reasons = Promise.all(clients.map((c) => disconnectReason(c, 5000)));
      const signalled = Date.now();
      child.kill("SIGTERM");
      expect(await exited).to.be(0);
      expect(Date.now() - signalled).to.be.lessThan(3000);
      expect(await reasons).to.eql(new Array(5).fill("transport close"));
      expect(output).to.match(/drained {"closed":5,/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
