"use strict";

// The `sessionForwarding` option (issue 15): three nodes in this process, each an http
// server with our Socket.IO server and the same secret, behind a TCP balancer written here
// that hands each incoming connection to the next node in turn (nginx round-robin without
// keepalive). The official clients open one connection per request (engine.io-client in
// Node uses no keep-alive agent), so the requests of one session land on every node; the
// node that owns the session answers them all. Ours only: the reference has no such option.
const expect = require("expect.js");
const http = require("http");
const fs = require("fs");
const net = require("net");
const path = require("path");
const { fork } = require("child_process");
const WebSocket = require("ws");
const { io: ioc } = require("socket.io-client");
const { Socket: EngineClient } = require("engine.io-client");
const { REFERENCE, sio, engine: eio } = require("../support/impl");
const { request, requestText } = require("../support/http");
const { waitFor, until, sleep } = require("../support/wait");
const { listen, closeHttp } = require("../support/servers");

const SECRET = "a test secret, long enough";
const HEADER = "x-socket-io-forwarding";
const UNKNOWN_SID = { code: 1, message: "Session ID unknown" };
const sessionTag = () => require(path.join(__dirname, "..", "..", "dist", "engine", "session-tag"));

/** A TCP server that accepts connections and never answers; counts them and keeps their bytes. */
async function decoy() {
  const d = { connections: 0, received: "", sockets: new Set() };
  d.server = net.createServer((socket) => {
    d.connections++;
    d.sockets.add(socket);
    socket.on("data", (chunk) => (d.received += chunk.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => d.sockets.delete(socket));
  });
  d.port = await listen(d.server);
  d.close = () => {
    for (const s of d.sockets) s.destroy();
    d.server.close();
  };
  return d;
}

/**
 * A fake owner that speaks raw HTTP over TCP: for each request it reads (head, and a body
 * of the Content-Length it gives), `answer(socket, request, index)` writes what the test
 * wants, as it wants it (in pieces, truncated, not HTTP at all...). `request` is
 * { head, body }; `connections` counts the connections the forwarding node opened. `slow`:
 * it stops reading for 300 ms after the first bytes of each connection.
 */
async function rawOwner(answer, { slow = false } = {}) {
  const o = { connections: 0, requests: [], sockets: new Set() };
  o.server = net.createServer((socket) => {
    o.connections++;
    o.sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => o.sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    let first = true;
    socket.on("data", (chunk) => {
      if (slow && first) {
        first = false;
        socket.pause();
        setTimeout(() => socket.resume(), 300);
      }
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buffered.subarray(0, end).toString("latin1");
        const length = Number((/\r\ncontent-length: *(\d+)/i.exec(head) || [0, 0])[1]);
        if (buffered.length < end + 4 + length) return;
        const request = { head, body: buffered.subarray(end + 4, end + 4 + length).toString() };
        buffered = buffered.subarray(end + 4 + length);
        o.requests.push(request);
        answer(socket, request, o.requests.length - 1);
      }
    });
  });
  o.port = await listen(o.server);
  o.close = () => {
    for (const s of o.sockets) s.destroy();
    o.server.close();
  };
  return o;
}

/** Writes `pieces` one by one, a turn of the event loop apart (so that they are read apart). */
async function writeApart(socket, pieces) {
  for (const piece of pieces) {
    socket.write(piece);
    await sleep(5);
  }
}

/** A session id owned by `address` ("host:port"), tagged with `secret`. */
function sidFor(address, { secret = SECRET, id = "forged-id" } = {}) {
  return new (sessionTag().SessionTagCodec)(secret).tag(id, address);
}

/** What a polling request gets: { status, headers, json or text }. */
async function poll(port, query, options = {}) {
  const res = await requestText(port, { path: `/socket.io/?EIO=4&transport=polling&${query}`, ...options });
  let json;
  try {
    json = JSON.parse(res.body);
  } catch (e) {
    // not JSON: a polling payload
  }
  return { status: res.status, headers: res.headers, body: res.body, json };
}

/** A polling handshake on `port`; resolves the sid. */
async function handshake(port, headers = {}) {
  const res = await poll(port, "", { headers });
  expect(res.status).to.be(200);
  return JSON.parse(res.body.slice(1)).sid;
}

/** A WebSocket upgrade expected to be refused: resolves { status, body }. */
function refusedUpgrade(port, query, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://localhost:${port}/socket.io/?EIO=4&transport=websocket&${query}`, {
      headers,
    });
    ws.on("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    ws.on("open", () => reject(new Error("the upgrade should have been refused")));
    ws.on("error", () => {});
  });
}

/** Headers of a response that say something about it (not when or over which connection). */
function comparable(headers) {
  const out = { ...headers };
  delete out.date;
  delete out.connection;
  delete out["keep-alive"];
  return out;
}

(REFERENCE ? describe.skip : describe)("sessionForwarding", function () {
  this.timeout(20000);
  const { Server } = sio();
  let nodes;
  let balancers;
  let clients;
  let others;

  beforeEach(() => {
    nodes = [];
    balancers = [];
    clients = [];
    others = [];
  });

  afterEach(async () => {
    clients.forEach((c) => c.close());
    balancers.forEach((b) => b.close());
    others.forEach((close) => close());
    for (const node of nodes) {
      if (node.io) await node.io.close();
      else node.engine.close();
      await closeHttp(node.httpServer);
    }
  });

  /**
   * Starts a node: its http server, its Socket.IO server (or, `engineOnly`, an engine on
   * the same path, for raw Engine.IO messages), its internal listener.
   */
  async function startNode(options = {}, { forwarding = {}, engineOnly = false } = {}) {
    const httpServer = http.createServer();
    const opts = {
      sessionForwarding: forwarding === null ? undefined : { secret: SECRET, ...forwarding },
      ...options,
    };
    const node = { httpServer, index: nodes.length, errors: [] };
    if (engineOnly) {
      node.engine = eio().attach(httpServer, { path: "/socket.io", ...opts });
    } else {
      node.io = new Server(httpServer, opts);
      node.engine = node.io.engine;
      node.io.on("connection", (socket) => {
        socket.on("echo", (value, ack) => ack(value));
        socket.on("length", (value, ack) => ack(value.length));
        socket.on("send-me", (event, value) => socket.emit(event, value));
      });
    }
    const engine = node.engine;
    engine.on("connection_error", (e) => node.errors.push(e.code));
    node.port = await listen(httpServer);
    if (forwarding !== null) {
      await until(() => engine._forwarding.address !== undefined, "the internal listener listens");
      node.internalPort = Number(engine._forwarding.address.split(":").pop());
    }
    nodes.push(node);
    return node;
  }

  const ENGINE_ONLY = { engineOnly: true };
  const startNodes = async (n, options, extra) => {
    const started = [];
    for (let i = 0; i < n; i++) started.push(await startNode(options, extra));
    return started;
  };

  /** The node holding `sid`. */
  const ownerOf = (sid) => nodes.find((n) => Object.prototype.hasOwnProperty.call(n.engine.clients, sid));

  /**
   * The balancer: each new connection goes to the next node in turn (a node refusing the
   * connection is skipped, as nginx does on `error`); `route(requestLine)` may choose
   * instead. `log` has one { node, line } per connection.
   */
  async function balancer(targets = nodes) {
    const lb = { next: 0, log: [], route: null, sockets: new Set() };
    const track = (socket) => {
      lb.sockets.add(socket);
      socket.on("close", () => lb.sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    };
    lb.server = net.createServer((client) => {
      track(client);
      client.once("data", (first) => {
        client.pause();
        const text = first.toString("latin1");
        const line = text.slice(0, text.indexOf("\r\n"));
        let index = lb.route ? lb.route(line) : undefined;
        if (index === undefined) index = lb.next++ % targets.length;
        const attempt = (i, left) => {
          const upstream = net.connect(targets[i].port, "127.0.0.1");
          track(upstream);
          upstream.once("error", () => {
            if (left > 1 && !upstream.connectedOnce) attempt((i + 1) % targets.length, left - 1);
            else client.destroy();
          });
          upstream.once("connect", () => {
            upstream.connectedOnce = true;
            lb.log.push({ node: i, line });
            upstream.write(first);
            client.pipe(upstream);
            upstream.pipe(client);
            client.resume();
            client.on("close", () => upstream.destroy());
            upstream.on("close", () => client.destroy());
          });
        };
        attempt(index, targets.length);
      });
    });
    lb.port = await listen(lb.server);
    lb.close = () => {
      for (const s of lb.sockets) s.destroy();
      lb.server.close();
    };
    /** The nodes the requests of a session went to. */
    lb.nodesOf = (sid) => new Set(lb.log.filter((e) => e.line.includes(`sid=${sid}`)).map((e) => e.node));
    balancers.push(lb);
    return lb;
  }

  const client = (port, options) => {
    const socket = ioc(`http://localhost:${port}`, { forceNew: true, ...options });
    clients.push(socket);
    return socket;
  };

  describe("polling through round-robin", () => {
    it("serves a polling-only socket.io-client from every node: events both ways, acks, binary", async () => {
      await startNodes(3);
      const lb = await balancer();
      const socket = client(lb.port, { transports: ["polling"] });
      await waitFor(socket, "connect");
      const sid = socket.io.engine.id;
      const owner = ownerOf(sid);
      expect(owner).to.be.ok();

      for (let i = 0; i < 6; i++) {
        expect(await socket.emitWithAck("echo", `hello ${i}`)).to.be(`hello ${i}`);
      }
      const binary = await socket.emitWithAck("echo", { bytes: Buffer.from([1, 2, 3, 255]) });
      expect(Buffer.from(binary.bytes)).to.eql(Buffer.from([1, 2, 3, 255]));
      // server to client: a push answering a pending GET, whichever node holds it
      socket.emit("send-me", "pushed", { n: 1 });
      expect(await waitFor(socket, "pushed")).to.eql({ n: 1 });
      owner.io.to(socket.id).emit("binary", Buffer.from("bytes"));
      expect(Buffer.from(await waitFor(socket, "binary")).toString()).to.be("bytes");
      // the server's own acks, over forwarded requests
      const [serverSocket] = await owner.io.fetchSockets();
      socket.on("question", (ack) => ack("answer"));
      expect(await serverSocket.timeout(3000).emitWithAck("question")).to.be("answer");

      // the session's requests went to every node; only the others forwarded
      expect(lb.nodesOf(sid).size).to.be(3);
      const others = nodes.filter((n) => n !== owner);
      expect(owner.engine.forwardedRequestsCount).to.be(0);
      for (const node of others) expect(node.engine.forwardedRequestsCount).to.be.greaterThan(0);
      expect(nodes.map((n) => n.engine.forwardingFailuresCount)).to.eql([0, 0, 0]);
      expect(nodes.map((n) => n.errors.length)).to.eql([0, 0, 0]);
      expect(owner.engine.clientsCount).to.be(1);
      // io.metrics() reads the same counters
      for (const node of nodes) {
        expect(node.io.metrics().engine.forwardedRequests).to.be(node.engine.forwardedRequestsCount);
        expect(node.io.metrics().engine.forwardingFailures).to.be(0);
      }
    });

    it("serves an engine.io-client session (polling only), custom generateId included: <custom>.<tag>", async () => {
      await startNodes(3, {}, ENGINE_ONLY);
      let n = 0;
      // one async, two sync: the owner of the id is tagged either way
      nodes[0].engine.generateId = async () => `custom-${n++}`;
      nodes[1].engine.generateId = () => `custom-${n++}`;
      nodes[2].engine.generateId = () => `custom-${n++}`;
      const lb = await balancer();
      const sockets = [];
      for (let i = 0; i < 3; i++) {
        const engineClient = new EngineClient(`ws://localhost:${lb.port}`, {
          path: "/socket.io/",
          transports: ["polling"],
        });
        clients.push(engineClient);
        await waitFor(engineClient, "open");
        sockets.push(engineClient);
      }
      for (const engineClient of sockets) {
        expect(engineClient.id).to.match(/^custom-\d+\.[A-Za-z0-9_-]{20,}$/);
        const owner = ownerOf(engineClient.id);
        const [serverSocket] = Object.values(owner.engine.clients).filter((s) => s.id === engineClient.id);
        // client to server, then server to client, over several requests
        for (let i = 0; i < 3; i++) {
          engineClient.send(`ping ${i}`);
          expect(await waitFor(serverSocket, "message")).to.be(`ping ${i}`);
          serverSocket.send(`pong ${i}`);
          expect(await waitFor(engineClient, "message")).to.be(`pong ${i}`);
        }
        expect(lb.nodesOf(engineClient.id).size).to.be(3);
      }
    });

    it("relays a POST near maxHttpBufferSize whole, and answers one over it as the owner does locally", async () => {
      const max = 20000;
      const [owner, other] = await startNodes(2, { maxHttpBufferSize: max }, ENGINE_ONLY);
      const near = "4" + "x".repeat(max - 1);
      const post = (port, sid, body) =>
        requestText(port, {
          method: "POST",
          path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
          headers: { "content-type": "text/plain;charset=UTF-8" },
          body,
        });

      // near the limit: forwarded whole
      const sid = await handshake(owner.port);
      const message = waitFor(owner.engine.clients[sid], "message");
      const accepted = await post(other.port, sid, near);
      expect(accepted.status).to.be(200);
      expect(accepted.body).to.be("ok");
      expect((await message).length).to.be(max - 1);

      // over it: the owner's 413 and the session closed, as for the same POST sent to it
      const local = await handshake(owner.port);
      const forwarded = await handshake(owner.port);
      const closed = (id) =>
        new Promise((resolve) => owner.engine.clients[id].once("close", (reason) => resolve(reason)));
      const localClose = closed(local);
      const forwardedClose = closed(forwarded);
      const localAnswer = await post(owner.port, local, near + "x");
      const forwardedAnswer = await post(other.port, forwarded, near + "x");
      expect(localAnswer.status).to.be(413);
      expect(forwardedAnswer.status).to.be(localAnswer.status);
      expect(forwardedAnswer.body).to.be(localAnswer.body);
      expect(comparable(forwardedAnswer.headers)).to.eql(comparable(localAnswer.headers));
      expect(forwardedAnswer.headers.connection).to.be("close");
      expect(await forwardedClose).to.be(await localClose);
      expect(other.engine.forwardingFailuresCount).to.be(0);
    });

    it("takes a socket.io-client emit near maxHttpBufferSize, and closes on one over it as locally", async () => {
      const max = 100000;
      await startNodes(3, { maxHttpBufferSize: max });
      const lb = await balancer();
      // through the balancer, every request of a session goes to a node that does not own it
      lb.route = (line) => {
        const match = /sid=([^& ]+)/.exec(line);
        return match ? (ownerOf(match[1]).index + 1) % 3 : undefined;
      };
      // the same client and emits, directly on one node and through the balancer
      const run = async (port) => {
        const socket = client(port, { transports: ["polling"], reconnection: false });
        await waitFor(socket, "connect");
        const owner = ownerOf(socket.io.engine.id);
        const near = "z".repeat(max - 100);
        expect(await socket.emitWithAck("length", near)).to.be(near.length);
        const [serverSocket] = await owner.io.fetchSockets();
        const closedOnServer = new Promise((resolve) => {
          owner.io.sockets.sockets.get(serverSocket.id).once("disconnect", resolve);
        });
        const closedOnClient = waitFor(socket, "disconnect");
        socket.emit("length", "z".repeat(max + 1));
        const [clientReason] = await closedOnClient;
        return { clientReason, serverReason: await closedOnServer };
      };
      const local = await run(nodes[0].port);
      const forwarded = await run(lb.port);
      expect(local.serverReason).to.be("transport error");
      expect(forwarded).to.eql(local);
      // the handshake aside, each request of the second client was forwarded
      const forwardedRequests = lb.log.filter((e) => e.line.includes("sid=")).length;
      expect(nodes.reduce((sum, n) => sum + n.engine.forwardedRequestsCount, 0)).to.be(forwardedRequests);
      expect(nodes.map((n) => n.engine.forwardingFailuresCount)).to.eql([0, 0, 0]);
    });

    it("relays a POST body that trickles in, with a Content-Length or chunked", async () => {
      const [owner, other] = await startNodes(2, {}, ENGINE_ONLY);
      const sid = await handshake(owner.port);
      const serverSocket = owner.engine.clients[sid];
      for (const chunked of [false, true]) {
        const pieces = ["42", '["echo",', '"slow', ' body"]'];
        const body = pieces.join("");
        const message = waitFor(serverSocket, "message");
        const answer = new Promise((resolve, reject) => {
          const req = http.request(
            {
              port: other.port,
              method: "POST",
              path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
              agent: false,
              headers: chunked ? {} : { "content-length": Buffer.byteLength(body) },
            },
            (res) => {
              let text = "";
              res.on("data", (c) => (text += c));
              res.on("end", () => resolve({ status: res.statusCode, text }));
            },
          );
          req.on("error", reject);
          (async () => {
            for (const piece of pieces) {
              req.write(piece);
              await sleep(30);
            }
            req.end();
          })();
        });
        expect(await answer).to.eql({ status: 200, text: "ok" });
        expect(await message).to.be('2["echo","slow body"]');
      }
      expect(other.engine.forwardedRequestsCount).to.be(2);
    });

    it("sends the body of a request whose Connection header lists its Content-Length (chunked, then)", async () => {
      const [owner, other] = await startNodes(2, {}, ENGINE_ONLY);
      const sid = await handshake(owner.port);
      const message = waitFor(owner.engine.clients[sid], "message");
      const answer = await poll(other.port, `sid=${sid}`, {
        method: "POST",
        headers: { connection: "Content-Length, X-Other", "x-other": "dropped" },
        body: "4listed",
      });
      expect(answer.body).to.be("ok");
      expect(await message).to.be("listed");
      expect(other.engine.forwardingFailuresCount).to.be(0);
    });

    it("relays the owner's CORS headers, as a local request gets them (preflight included)", async () => {
      const cors = { origin: "https://app.example", credentials: true };
      const [owner, other] = await startNodes(2, { cors }, ENGINE_ONLY);
      const sid = await handshake(owner.port, { origin: "https://app.example" });
      const headers = { origin: "https://app.example", "content-type": "text/plain;charset=UTF-8" };
      const postTo = (port) => poll(port, `sid=${sid}`, { method: "POST", headers, body: "4x" });
      const local = await postTo(owner.port);
      const forwarded = await postTo(other.port);
      expect(local.headers["access-control-allow-origin"]).to.be("https://app.example");
      expect(local.headers["access-control-allow-credentials"]).to.be("true");
      expect(forwarded.status).to.be(local.status);
      expect(forwarded.body).to.be(local.body);
      expect(comparable(forwarded.headers)).to.eql(comparable(local.headers));

      const preflight = (port) =>
        poll(port, `sid=${sid}`, {
          method: "OPTIONS",
          headers: { origin: "https://app.example", "access-control-request-method": "POST" },
        });
      const localPreflight = await preflight(owner.port);
      const forwardedPreflight = await preflight(other.port);
      expect(localPreflight.status).to.be(204);
      expect(forwardedPreflight.status).to.be(204);
      expect(comparable(forwardedPreflight.headers)).to.eql(comparable(localPreflight.headers));
      expect(other.engine.forwardedRequestsCount).to.be(2);
    });

    it("closes the session on the owner when the client aborts a forwarded long poll, as an aborted local poll does, a second later", async () => {
      const [owner, other] = await startNodes(2, {}, ENGINE_ONLY);
      const abortedPoll = async (port) => {
        const sid = await handshake(owner.port);
        const socket = owner.engine.clients[sid];
        // the events the engine's user sees: the close, and the response written after it
        const events = [];
        const onHeaders = (headers, req) => req._query.sid === sid && events.push("headers");
        owner.engine.on("headers", onHeaders);
        let aborted;
        const closed = new Promise((resolve) =>
          socket.once("close", (reason, description) => {
            events.push("close");
            resolve({ reason, description, ms: Date.now() - aborted });
          }),
        );
        const req = http.request({
          port,
          path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
          agent: false,
        });
        req.on("error", () => {});
        req.end();
        // the GET is pending on the owner (nothing to send): then the client goes away
        await until(() => socket.transport.writable === true, "the GET is pending on the owner");
        const before = events.length;
        aborted = Date.now();
        req.destroy();
        const { reason, description, ms } = await closed;
        await until(() => events.length === before + 2, "the response of the aborted GET");
        owner.engine.off("headers", onHeaders);
        return { ms, observed: { reason, description: description && description.message, events } };
      };
      const local = await abortedPoll(owner.port);
      const forwarded = await abortedPoll(other.port);
      expect(local.observed.reason).to.be("transport error");
      expect(local.observed.description).to.be("poll connection closed prematurely");
      expect(forwarded.observed).to.eql(local.observed);
      // the owner waits a second for the GET a proxy would retry through another node
      // (a node relaying a long poll that dies: below)
      expect(local.ms).to.be.lessThan(500);
      expect(forwarded.ms).to.be.within(950, 2500);
      expect(other.engine.forwardingFailuresCount).to.be(0);
      expect(owner.engine.clientsCount).to.be(0);
    });
  });

  describe("WebSocket through a tunnel", () => {
    it("upgrades a default client on a node that does not own the session", async () => {
      await startNodes(3);
      const lb = await balancer();
      // every upgrade goes to a node other than the session's owner
      lb.route = (line) => {
        const match = /transport=websocket&sid=([^& ]+)/.exec(line);
        if (!match) return undefined;
        return (ownerOf(match[1]).index + 1) % 3;
      };
      const socket = client(lb.port);
      const upgraded = new Promise((resolve) =>
        socket.io.once("open", () => socket.io.engine.once("upgrade", resolve)),
      );
      await waitFor(socket, "connect");
      await upgraded;
      const sid = socket.io.engine.id;
      const owner = ownerOf(sid);
      const tunnel = nodes[(owner.index + 1) % 3];
      expect(socket.io.engine.transport.name).to.be("websocket");
      // the upgrade packet, sent over the tunnel, completes it on the owner
      await until(() => owner.engine.upgradesCount === 1, "the owner upgraded the session");
      expect(owner.engine.clients[sid].transport.name).to.be("websocket");
      expect(tunnel.engine.forwardedUpgradesCount).to.be(1);
      expect(tunnel.io.metrics().engine.forwardedUpgrades).to.be(1);
      expect(nodes.reduce((sum, n) => sum + n.engine.forwardedUpgradesCount, 0)).to.be(1);

      const before = nodes.map((n) => n.engine.forwardedRequestsCount);
      for (let i = 0; i < 5; i++) expect(await socket.emitWithAck("echo", i)).to.be(i);
      const big = "y".repeat(200000);
      expect(await socket.emitWithAck("length", big)).to.be(big.length);
      const binary = await socket.emitWithAck("echo", Buffer.from([9, 8, 7]));
      expect(Buffer.from(binary)).to.eql(Buffer.from([9, 8, 7]));
      socket.emit("send-me", "pushed", "over the tunnel");
      expect(await waitFor(socket, "pushed")).to.be("over the tunnel");
      // over the WebSocket: no more polling requests
      expect(nodes.map((n) => n.engine.forwardedRequestsCount)).to.eql(before);

      // the owner closing the session closes the tunnel, and the client sees it
      const disconnected = waitFor(socket, "disconnect");
      owner.engine.clients[sid].close();
      expect((await disconnected)[0]).to.be("transport close");
    });

    it("relays the owner's refusal of an upgrade (a session it no longer has)", async () => {
      const [owner, other] = await startNodes(2, {}, ENGINE_ONLY);
      const sid = await handshake(owner.port);
      const local = await refusedUpgrade(owner.port, `sid=${sid}x`);
      // the client closes its session
      await poll(owner.port, `sid=${sid}`, { method: "POST", body: "1" });
      await until(() => owner.engine.clientsCount === 0, "the session closed");
      const forwarded = await refusedUpgrade(other.port, `sid=${sid}`);
      expect(local).to.eql({ status: 400, body: "Session ID unknown" });
      expect(forwarded).to.eql(local);
      expect(other.engine.forwardedUpgradesCount).to.be(1);
      expect(other.engine.forwardingFailuresCount).to.be(0);
    });

    it("engine.close() on the tunnelling node closes its tunnels and its internal listener", async () => {
      const [owner, other] = await startNodes(2);
      const lb = await balancer();
      lb.route = (line) => (/transport=websocket&sid=/.test(line) ? other.index : owner.index);
      const socket = client(lb.port);
      const upgraded = new Promise((resolve) =>
        socket.io.once("open", () => socket.io.engine.once("upgrade", resolve)),
      );
      await waitFor(socket, "connect");
      await upgraded;
      socket.io.reconnection(false);
      // and a long poll of another session, forwarded through it to the owner, pending
      const sid = await handshake(owner.port);
      const pending = poll(other.port, `sid=${sid}`);
      await until(
        () => owner.engine.clients[sid].transport.writable === true,
        "the GET is pending on the owner",
      );
      const disconnected = waitFor(socket, "disconnect");
      const internalPort = other.internalPort;
      other.engine.close();
      expect((await disconnected)[0]).to.be("transport close");
      // its connections to the owner cut, and the poll it relayed cut unanswered (a proxy
      // sends it again through another node: see "a node that dies while it relays")
      const cut = await pending.then(
        (answer) => answer,
        (err) => err,
      );
      expect(cut).to.be.an(Error);
      expect(cut.message).to.be("socket hang up");
      expect(other.engine.forwardingFailuresCount).to.be(0);
      const refused = await new Promise((resolve) => {
        const probe = net.connect(internalPort, "127.0.0.1");
        probe.on("connect", () => {
          probe.destroy();
          resolve(false);
        });
        probe.on("error", (err) => resolve(err.code));
      });
      expect(refused).to.be("ECONNREFUSED");
    });
  });

  describe("a node gone or silent", () => {
    it("answers 400 code 1 once the owner is killed, and the client reconnects on another node", async () => {
      await startNodes(3);
      const lb = await balancer();
      const socket = client(lb.port, {
        transports: ["polling"],
        reconnectionDelay: 100,
        reconnectionDelayMax: 100,
        randomizationFactor: 0,
      });
      await waitFor(socket, "connect");
      const sid = socket.io.engine.id;
      const owner = ownerOf(sid);
      const survivors = nodes.filter((n) => n !== owner);
      // from now on the session's requests go to the other nodes only
      lb.route = (line) => (line.includes(`sid=${sid}`) ? survivors[0].index : undefined);
      expect(await socket.emitWithAck("echo", "before")).to.be("before");
      await until(
        () => survivors[0].engine.forwardedRequestsCount > 0 && owner.engine.clients[sid].transport.writable,
      );
      const clientError = new Promise((resolve) =>
        socket.io.engine.once("close", (reason, error) => resolve({ reason, error })),
      );

      // killed: its ports close and every connection it had is cut, without a word
      const reconnected = waitFor(socket, "connect", 10000);
      owner.httpServer.close();
      owner.httpServer.closeAllConnections();
      owner.engine._forwarding.listener.close();
      owner.engine._forwarding.listener.closeAllConnections();

      // the client's pending GET, forwarded to the owner, is answered 400 code 1
      const { reason, error } = await clientError;
      expect(reason).to.be("transport error");
      expect(error.message).to.be("xhr poll error");
      // (the client's XHR is reset by then: its body is read from the survivor below)
      expect(error.description).to.be(400);
      expect(owner.errors).to.eql([]);

      // the raw answer of a surviving node to the dead session: as for any unknown session
      const answer = await poll(survivors[0].port, `sid=${sid}`);
      expect(answer.status).to.be(400);
      expect(answer.json).to.eql(UNKNOWN_SID);
      expect(answer.headers["content-type"]).to.be("application/json");
      expect(survivors[0].errors).to.contain(1);
      expect(survivors[0].engine.forwardingFailuresCount).to.be.greaterThan(0);
      expect(survivors[0].io.metrics().engine.forwardingFailures).to.be(
        survivors[0].engine.forwardingFailuresCount,
      );

      await reconnected;
      const newOwner = ownerOf(socket.io.engine.id);
      expect(socket.io.engine.id).not.to.be(sid);
      expect(survivors).to.contain(newOwner);
      expect(await socket.emitWithAck("echo", "again")).to.be("again");
    });

    it("answers a request whose owner never answers with 400 code 1 within the timeout", async () => {
      const [node] = await startNodes(1, {}, { forwarding: { timeout: 300 } });
      const silent = await decoy();
      others.push(silent.close);
      const sid = sidFor(`127.0.0.1:${silent.port}`);
      const started = Date.now();
      const answer = await poll(node.port, `sid=${sid}`);
      const elapsed = Date.now() - started;
      expect(answer.status).to.be(400);
      expect(answer.json).to.eql(UNKNOWN_SID);
      expect(elapsed).to.be.within(290, 2000);
      expect(silent.connections).to.be(1);

      const upgradeStarted = Date.now();
      expect(await refusedUpgrade(node.port, `sid=${sid}`)).to.eql({
        status: 400,
        body: "Session ID unknown",
      });
      expect(Date.now() - upgradeStarted).to.be.within(290, 2000);
      expect(silent.connections).to.be(2);
      expect(node.engine.forwardedRequestsCount).to.be(1);
      expect(node.engine.forwardedUpgradesCount).to.be(1);
      expect(node.engine.forwardingFailuresCount).to.be(2);
      expect(node.errors).to.eql([1, 1]);
    });

    it("answers 400 code 1 when the owner's port is closed (connection refused)", async () => {
      const [node] = await startNodes(1);
      const closed = await decoy();
      closed.close();
      const sid = sidFor(`127.0.0.1:${closed.port}`);
      expect((await poll(node.port, `sid=${sid}`, { method: "POST", body: "4x" })).json).to.eql(UNKNOWN_SID);
      expect(await refusedUpgrade(node.port, `sid=${sid}`)).to.eql({
        status: 400,
        body: "Session ID unknown",
      });
      expect(node.engine.forwardingFailuresCount).to.be(2);
    });
  });

  describe("a node that dies while it relays a long poll", () => {
    /** A node in a process of its own, to stop and kill (support/forwarding-node.js): { port, child }. */
    async function forkNode() {
      const child = fork(path.join(__dirname, "support", "forwarding-node.js"), [SECRET]);
      others.push(() => child.kill("SIGKILL"));
      // ("message" has two arguments: the message and a handle)
      const [{ port }] = await waitFor(child, "message", 10000);
      return { port, child };
    }

    /** Stops a forked node, and resolves once the kernel says it is stopped. */
    async function stop(node) {
      node.child.kill("SIGSTOP");
      const state = () => fs.readFileSync(`/proc/${node.child.pid}/stat`, "latin1").split(") ")[1][0];
      await until(() => state() === "T", "the node is stopped");
    }

    async function kill(node) {
      const exited = waitFor(node.child, "exit");
      node.child.kill("SIGKILL");
      await exited;
    }

    /**
     * An http balancer that does what nginx does with its defaults (`proxy_next_upstream
     * error timeout`): `route(req)` lists the nodes to try; a GET whose node fails before a
     * response header is sent again, the same request, to the next one. `log`: one
     * { method, url, port } per attempt; `upstreams`: the request of each attempt.
     */
    async function retryingBalancer(route) {
      const lb = { log: [], upstreams: [], route };
      lb.server = http.createServer((req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
          const targets = lb.route(req);
          const headers = { ...req.headers };
          delete headers.connection;
          const attempt = (i) => {
            const port = targets[i].port;
            lb.log.push({ method: req.method, url: req.url, port });
            const upstream = http.request(
              { host: "127.0.0.1", port, method: req.method, path: req.url, headers, agent: false },
              (answer) => {
                res.writeHead(answer.statusCode, answer.headers);
                answer.pipe(res);
              },
            );
            lb.upstreams.push(upstream);
            upstream.on("error", () => {
              if (!res.headersSent && req.method === "GET" && i + 1 < targets.length) attempt(i + 1);
              else res.destroy();
            });
            upstream.end(Buffer.concat(chunks));
          };
          attempt(0);
        });
      });
      lb.port = await listen(lb.server);
      others.push(() => {
        lb.server.closeAllConnections();
        lb.server.close();
      });
      return lb;
    }

    /**
     * An engine.io-client (polling only) through a retrying balancer, its session on
     * `owner`; then its GETs go to `relay` first, `third` next, with a GET pending on the
     * owner through the relay.
     */
    async function pollingThroughRelay(owner, relay, third) {
      const lb = await retryingBalancer(() => [owner]);
      const engineClient = new EngineClient(`ws://localhost:${lb.port}`, {
        path: "/socket.io/",
        transports: ["polling"],
        reconnection: false,
      });
      clients.push(engineClient);
      const received = [];
      engineClient.on("message", (m) => received.push(m));
      await waitFor(engineClient, "open");
      const serverSocket = owner.engine.clients[engineClient.id];
      lb.route = (req) => (req.method === "GET" ? [relay, third] : [owner]);
      // the pending GET (on the owner) answered: the next one goes through the relay
      serverSocket.send("m0");
      await until(() => received.length === 1 && serverSocket.transport.writable, "a GET through the relay");
      const lastGet = lb.log.filter((e) => e.method === "GET").pop();
      expect(lastGet.port).to.be(relay.port);
      // the closes of the session from now on, on both sides
      const closes = [];
      engineClient.on("close", (reason) => closes.push(reason));
      serverSocket.on("close", (reason) => closes.push(`server: ${reason}`));
      return { lb, engineClient, serverSocket, received, closes };
    }

    it("answers the GET a proxy retries after the relay was killed with the answer it lost: no packet lost, none twice", async () => {
      const [owner, third] = await startNodes(2, {}, ENGINE_ONLY);
      const relay = await forkNode();
      const { lb, engineClient, serverSocket, received, closes } = await pollingThroughRelay(
        owner,
        relay,
        third,
      );

      // the owner answers the GET into the relay's connection, which the relay never reads
      await stop(relay);
      serverSocket.send("m1");
      expect(serverSocket.transport.writable).to.be(false);
      await kill(relay);
      // no response header: the balancer sends the same GET (same t) to the third node,
      // which forwards it to the owner
      await until(() => received.length === 2, "the lost answer delivered");
      expect(received).to.eql(["m0", "m1"]);
      const [lost, retried] = lb.log.filter((e) => e.method === "GET").slice(-2);
      expect(lost.port).to.be(relay.port);
      expect(retried).to.eql({ ...lost, port: third.port });
      expect(retried.url).to.match(/[?&]t=[^&]+/);
      expect(owner.engine.retriedPollsCount).to.be(1);
      expect(owner.engine.packetsSentCount).to.be(3); // the open packet, m0, m1: m1 once

      // what follows comes once, in order, both ways
      serverSocket.send("m2");
      serverSocket.send("m3");
      await until(() => received.length === 4, "m2 and m3");
      engineClient.send("up");
      expect(await waitFor(serverSocket, "message")).to.be("up");
      serverSocket.send("m4");
      await until(() => received.length === 5, "m4");
      expect(received).to.eql(["m0", "m1", "m2", "m3", "m4"]);
      expect(owner.engine.retriedPollsCount).to.be(1);
      expect(closes).to.eql([]);
      expect(owner.engine.clientsCount).to.be(1);
      expect(owner.errors).to.eql([]);
    });

    // RETRY_GRACE in lib/engine/transports/polling.ts
    const GRACE = 1000;

    it("keeps the session when the relay of a GET still pending is killed: the proxy's retry through a third node is the poll, every packet sent after the kill delivered once, in order", async () => {
      const [owner, third] = await startNodes(2, {}, ENGINE_ONLY);
      const relay = await forkNode();
      const { lb, engineClient, serverSocket, received, closes } = await pollingThroughRelay(
        owner,
        relay,
        third,
      );
      // the owner's side of the relay's connection, which carries the pending GET
      const relayed = serverSocket.transport.pollReq.socket;
      const lost = lb.log.filter((e) => e.method === "GET").pop();

      await kill(relay);
      // sent once the owner saw that connection close (before, they would answer the GET into
      // it: the answer kept and sent again, above): the next GET takes them
      await until(() => relayed.destroyed, "the relay's connection closed");
      serverSocket.send("m1");
      serverSocket.send("m2");
      await until(() => received.length === 3, "m1 and m2");
      // the balancer sent the same GET (same t) to the third node, which forwarded it
      expect(lost.port).to.be(relay.port);
      const again = lb.log
        .slice(lb.log.indexOf(lost) + 1)
        .filter((e) => e.method === "GET" && e.url === lost.url);
      expect(again.map((e) => e.port)).to.eql([third.port]);

      // what follows comes once, in order, both ways
      serverSocket.send("m3");
      await until(() => received.length === 4, "m3");
      engineClient.send("up");
      expect(await waitFor(serverSocket, "message")).to.be("up");
      serverSocket.send("m4");
      await until(() => received.length === 5, "m4");
      expect(received).to.eql(["m0", "m1", "m2", "m3", "m4"]);
      expect(owner.engine.packetsSentCount).to.be(6); // the open packet, m0 to m4: each once
      // no close later either: the wait for a GET ended with the retry
      await sleep(GRACE + 200);
      expect(closes).to.eql([]);
      expect(owner.engine.clientsCount).to.be(1);
      expect(owner.engine.retriedPollsCount).to.be(0);
      expect(owner.errors).to.eql([]);
    });

    it("takes the proxy's retry for the pending GET when it comes before the owner sees the relay's connection close: nothing written into that connection, its close ignored", async () => {
      const [owner, third] = await startNodes(2, {}, ENGINE_ONLY);
      const relay = await forkNode();
      const { lb, engineClient, serverSocket, received, closes } = await pollingThroughRelay(
        owner,
        relay,
        third,
      );
      // the GET pending on the owner, through the relay, and its connection
      const relayedGet = serverSocket.transport.pollReq;
      const relayed = relayedGet.socket;
      const written = relayed.bytesWritten;

      // the relay stops (its connection to the owner stays open); the balancer sees its
      // connection to the relay fail and sends the same GET to the third node
      await stop(relay);
      const gets = () => lb.log.filter((e) => e.method === "GET");
      const before = gets().length;
      lb.upstreams[lb.log.lastIndexOf(gets().pop())].destroy();
      await until(() => gets().length === before + 1, "the GET retried");
      const [lost, retried] = gets().slice(-2);
      expect(retried).to.eql({ ...lost, port: third.port });
      // taken for the pending GET: the next packet answers it
      await until(
        () =>
          closes.length > 0 ||
          (serverSocket.transport.writable && serverSocket.transport.pollReq !== relayedGet),
        "the retry pending",
      );
      expect(closes).to.eql([]);
      serverSocket.send("m1");
      await until(() => received.length === 2, "m1");
      expect(relayed.bytesWritten).to.be(written);
      // the relay dies: its connection's close changes nothing
      await kill(relay);
      await until(() => relayed.destroyed, "the relay's connection closed");
      serverSocket.send("m2");
      await until(() => received.length === 3, "m2");
      engineClient.send("up");
      expect(await waitFor(serverSocket, "message")).to.be("up");
      expect(received).to.eql(["m0", "m1", "m2"]);
      expect(relayed.bytesWritten).to.be(written);
      await sleep(GRACE + 200);
      expect(closes).to.eql([]);
      expect(owner.engine.clientsCount).to.be(1);
      expect(owner.errors).to.eql([]);
    });

    it("closes the session after the grace when no GET follows a pending one whose relay was killed: the close of a local client gone, later", async () => {
      const [owner] = await startNodes(1, {}, ENGINE_ONLY);
      const relay = await forkNode();
      const { lb, serverSocket, engineClient } = await pollingThroughRelay(owner, relay, relay);
      // nothing of the client reaches the owner any more: the balancer has no other node to
      // retry the GET on, and the close packet the client POSTs as its GET fails goes nowhere
      lb.route = () => [relay];
      const closedOnServer = new Promise((resolve) =>
        serverSocket.once("close", (reason, description) => resolve({ reason, description, at: Date.now() })),
      );
      const closedOnClient = waitFor(engineClient, "close");
      const killed = Date.now();
      await kill(relay);
      const server = await closedOnServer;
      expect(server.reason).to.be("transport error");
      expect(server.description.message).to.be("poll connection closed prematurely");
      expect(server.at - killed).to.be.within(GRACE - 50, GRACE + 1500);
      // (the balancer cut the client's GET: it had no node left to try)
      await closedOnClient;
      expect(owner.engine.clientsCount).to.be(0);
      expect(owner.errors).to.eql([]);
    });

    it("cuts the client's connection, unanswered, when the relay of a pending GET closes (engine.close()): the proxy's retry through a third node is the poll", async () => {
      const [owner, relay, third] = await startNodes(3, {}, ENGINE_ONLY);
      const { lb, engineClient, serverSocket, received, closes } = await pollingThroughRelay(
        owner,
        relay,
        third,
      );
      const lost = lb.log.filter((e) => e.method === "GET").pop();
      const failures = relay.engine.forwardingFailuresCount;

      // a node shutting down (io.close(), SIGTERM): answering the GET itself ("Session ID
      // unknown") would end a session that lives on the owner; cut, the GET is retried
      relay.engine.close();
      await until(
        () => lb.log.filter((e) => e.method === "GET" && e.url === lost.url).length === 2,
        "the GET retried",
      );
      serverSocket.send("m1");
      await until(() => received.length === 2, "m1");
      engineClient.send("up");
      expect(await waitFor(serverSocket, "message")).to.be("up");
      expect(received).to.eql(["m0", "m1"]);
      expect(lb.log.filter((e) => e.url === lost.url).map((e) => e.port)).to.eql([relay.port, third.port]);
      expect(relay.engine.forwardingFailuresCount).to.be(failures);
      await sleep(GRACE + 200);
      expect(closes).to.eql([]);
      expect(owner.engine.clientsCount).to.be(1);
    });

    /**
     * A GET sent to `owner` as another node sends it (its internal listener, the token, a
     * kept-alive connection). Resolves { status, headers, body (Buffer), connection (the
     * owner's side), cut() }: cut() closes the connection as a node that dies does, and
     * resolves once the owner saw it.
     */
    function getAsNode(owner, query, headers = {}) {
      const sent = sendAsNode(owner, query, headers);
      return sent.answer.then((answer) => ({
        ...answer,
        agent: sent.agent,
        connection: sent.ownerSide(),
        cut: sent.cut,
      }));
    }

    /**
     * The same GET, not waited for: { answer (resolves { status, headers, body }, or "cut"),
     * agent, ownerSide() (the owner's side of its connection), cut() }.
     */
    function sendAsNode(owner, query, headers = {}) {
      if (!owner.internalConnections) {
        owner.internalConnections = [];
        owner.engine._forwarding.listener.on("connection", (s) => owner.internalConnections.push(s));
      }
      const agent = new http.Agent({ keepAlive: true });
      others.push(() => agent.destroy());
      let localPort;
      const sent = { agent };
      sent.ownerSide = () => owner.internalConnections.find((s) => s.remotePort === localPort);
      sent.cut = async () => {
        agent.destroy();
        await until(
          () => sent.ownerSide() && sent.ownerSide().destroyed,
          "the owner saw the connection closed",
        );
      };
      sent.answer = new Promise((resolve) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port: owner.internalPort,
            path: `/socket.io/?transport=polling&${query}`,
            headers: { ...headers, [HEADER]: new (sessionTag().SessionTagCodec)(SECRET).token },
            agent,
          },
          (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () =>
              resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          },
        );
        req.on("socket", (socket) => socket.once("connect", () => (localPort = socket.localPort)));
        req.on("error", () => resolve("cut"));
        req.end();
      });
      return sent;
    }

    /** `promise`, or a failure once `ms` have passed: a GET that should be answered at once. */
    const atOnce = (promise, what, ms = 3000) =>
      Promise.race([
        promise,
        sleep(ms).then(() => {
          throw new Error(`no answer to ${what}`);
        }),
      ]);

    // every form a long-poll answer takes: each is answered again byte for byte
    const VARIANTS = [
      { title: "v4, text", query: "EIO=4", packet: "hello" },
      { title: "v4, binary (base64 in the text payload)", query: "EIO=4", packet: Buffer.from([1, 2, 255]) },
      {
        title: "v3, binary payload",
        options: { allowEIO3: true },
        query: "EIO=3",
        packet: Buffer.from([1, 2, 255]),
        type: "application/octet-stream",
      },
      {
        title: "v3, base64",
        options: { allowEIO3: true },
        query: "EIO=3&b64=1",
        packet: Buffer.from([1, 2]),
      },
      {
        title: "v3, JSONP",
        options: { allowEIO3: true },
        query: "EIO=3&j=0",
        packet: 'say "hi"\n',
        type: "text/javascript; charset=UTF-8",
      },
      {
        title: "v4, gzip",
        options: { httpCompression: { threshold: 100 } },
        query: "EIO=4",
        headers: { "accept-encoding": "gzip" },
        packet: "z".repeat(500),
        encoding: "gzip",
      },
    ];
    for (const v of VARIANTS) {
      it(`answers a retried GET again byte for byte, the next GET as usual: ${v.title}`, async () => {
        const [owner] = await startNodes(1, v.options, ENGINE_ONLY);
        const opened = waitFor(owner.engine, "connection");
        expect(
          (await request(owner.port, { path: `/socket.io/?transport=polling&${v.query}` })).status,
        ).to.be(200);
        const serverSocket = await opened;
        const query = `${v.query}&sid=${serverSocket.id}`;
        const headers = v.headers || {};
        // a GET through another node, answered
        const pending = getAsNode(owner, `${query}&t=first`, headers);
        await until(() => serverSocket.transport.writable, "the GET pending");
        serverSocket.send(v.packet);
        const first = await pending;
        expect(first.status).to.be(200);
        if (v.type) expect(first.headers["content-type"]).to.be(v.type);
        expect(first.headers["content-encoding"]).to.be(v.encoding);
        // that node dies; a proxy sends the same GET again (here, to the owner itself)
        await first.cut();
        const again = await atOnce(
          request(owner.port, { path: `/socket.io/?transport=polling&${query}&t=first`, headers }),
          "the retried GET",
        );
        expect(again.status).to.be(200);
        expect(again.body.equals(first.body)).to.be(true);
        expect(comparable(again.headers)).to.eql(comparable(first.headers));
        expect(owner.engine.retriedPollsCount).to.be(1);
        // what was sent meanwhile goes with the next GET, and only that
        serverSocket.send("after");
        const next = await request(owner.port, {
          path: `/socket.io/?transport=polling&${query}&t=second`,
          headers,
        });
        expect(next.body.toString("latin1")).to.contain("after");
        expect(next.body.equals(first.body)).to.be(false);
        // the first t is forgotten: a GET with it now is a new poll
        const late = request(owner.port, { path: `/socket.io/?transport=polling&${query}&t=first`, headers });
        await until(() => serverSocket.transport.writable, "the GET pending");
        serverSocket.send("later");
        expect((await late).body.toString("latin1")).to.contain("later");
        expect(owner.engine.retriedPollsCount).to.be(1);
        expect(owner.engine.clientsCount).to.be(1);
        expect(owner.errors).to.eql([]);
      });
    }

    it("holds a retry that comes before the owner sees the relay's connection close, and answers it again once it does", async () => {
      const [owner] = await startNodes(1, {}, ENGINE_ONLY);
      const sid = await handshake(owner.port);
      const socket = owner.engine.clients[sid];
      const pending = getAsNode(owner, `EIO=4&sid=${sid}&t=first`);
      await until(() => socket.transport.writable, "the GET pending");
      socket.send("lost");
      const first = await pending;
      expect(first.body.toString()).to.be("4lost");
      // the retry, through a third node faster than the close of the dying relay's connection:
      // held until that connection closes (it waits on its "close")
      const watchers = first.connection.listenerCount("close");
      const retried = poll(owner.port, `sid=${sid}&t=first`);
      await until(() => first.connection.listenerCount("close") > watchers, "the retry held");
      // not a pending poll: what is sent meanwhile waits for the next GET
      socket.send("meanwhile");
      expect(socket.transport.writable).to.be(false);
      await first.cut();
      const again = await atOnce(retried, "the retried GET");
      expect(again.body).to.be("4lost");
      expect(owner.engine.retriedPollsCount).to.be(1);
      expect((await poll(owner.port, `sid=${sid}&t=second`)).body).to.be("4meanwhile");
      expect(owner.errors).to.eql([]);
    });

    it("closes the session when a held GET's client goes away; one held while the session closes gets the close, or 400 code 1", async () => {
      const [owner] = await startNodes(1, {}, ENGINE_ONLY);
      /** A session, its GET answered through another node (connection open), and a GET with its t held. */
      const held = async () => {
        const sid = await handshake(owner.port);
        const socket = owner.engine.clients[sid];
        const pending = getAsNode(owner, `EIO=4&sid=${sid}&t=same`);
        await until(() => socket.transport.writable, "the GET pending");
        socket.send("answered");
        const first = await pending;
        const watchers = first.connection.listenerCount("close");
        const req = http.request({
          port: owner.port,
          path: `/socket.io/?EIO=4&transport=polling&sid=${sid}&t=same`,
        });
        const answer = new Promise((resolve) => {
          req.on("response", (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode, body }));
          });
          req.on("error", () => resolve("aborted"));
        });
        req.end();
        await until(() => first.connection.listenerCount("close") > watchers, "the GET held");
        return { socket, req, answer };
      };

      // its client goes away: as a pending GET whose client goes away
      const gone = await held();
      const closed = new Promise((resolve) =>
        gone.socket.once("close", (reason, description) => resolve({ reason, description })),
      );
      gone.req.destroy();
      const { reason, description } = await closed;
      expect(reason).to.be("transport error");
      expect(description.message).to.be("poll connection closed prematurely");

      // the session closes while it is held: once the wait is over, the GET is the one the close
      // waits for; closed at once (discarded), it is a session gone
      const closing = await held();
      closing.socket.close();
      expect(await closing.answer).to.eql({ status: 200, body: "6\x1e1" });
      const discarded = await held();
      discarded.socket.close(true);
      expect(await discarded.answer).to.eql({ status: 400, body: JSON.stringify(UNKNOWN_SID) });
      expect(owner.engine.retriedPollsCount).to.be(0);
    });

    it("takes a second GET for an overlap as before, but for the retry of a pending GET from another node (the same t)", async () => {
      const [owner] = await startNodes(1, {}, ENGINE_ONLY);
      const local = (sid, t) => {
        const answer = poll(owner.port, `sid=${sid}&t=${t}`);
        return { answer: answer.then((a) => ({ status: a.status, body: a.body })) };
      };
      const asNode = (sid, t) => {
        const sent = sendAsNode(owner, `EIO=4&sid=${sid}&t=${t}`);
        return { answer: sent.answer.then((a) => ({ status: a.status, body: a.body.toString() })) };
      };
      /** A GET pending (`first`), then another (`second`): what each got, and the session's close. */
      const twoGets = async (first, second) => {
        const sid = await handshake(owner.port);
        const socket = owner.engine.clients[sid];
        const closed = new Promise((resolve) =>
          socket.once("close", (reason, description) =>
            resolve({ reason, description: description.message }),
          ),
        );
        const pending = first(sid, "one");
        await until(() => socket.transport.writable, "the first GET pending");
        const answer = await second(sid).answer;
        return { first: await pending.answer, second: answer, closed: await closed };
      };
      const overlap = await twoGets(local, (sid) => local(sid, "two"));
      expect(overlap.closed).to.eql({ reason: "transport error", description: "overlap from client" });
      expect(overlap.second.status).to.be(400);
      // another t, the pending GET from another node, the second from one too or not; the
      // same t while the pending GET is the client's own
      expect(await twoGets(asNode, (sid) => asNode(sid, "two"))).to.eql(overlap);
      expect(await twoGets(asNode, (sid) => local(sid, "two"))).to.eql(overlap);
      expect(await twoGets(local, (sid) => asNode(sid, "one"))).to.eql(overlap);
      expect(await twoGets(local, (sid) => local(sid, "one"))).to.eql(overlap);

      // the same t while the pending GET is from another node, the retry through a third node
      // or straight to the owner: the pending one is let go of unanswered, the retry is the poll
      for (const via of ["another node", "the owner"]) {
        const sid = await handshake(owner.port);
        const socket = owner.engine.clients[sid];
        const closes = [];
        socket.on("close", (reason) => closes.push(reason));
        const first = sendAsNode(owner, `EIO=4&sid=${sid}&t=one`);
        await until(() => socket.transport.writable, "the first GET pending");
        const firstGet = socket.transport.pollReq;
        const connection = first.ownerSide();
        const written = connection.bytesWritten;
        const retry = via === "the owner" ? local(sid, "one") : asNode(sid, "one");
        await until(
          () => closes.length > 0 || (socket.transport.writable && socket.transport.pollReq !== firstGet),
          "the retry pending",
        );
        expect(closes).to.eql([]);
        socket.send("once");
        expect(await retry.answer).to.eql({ status: 200, body: "4once" });
        expect(connection.bytesWritten).to.be(written);
        await first.cut();
        expect(await first.answer).to.be("cut");
        expect((await poll(owner.port, `sid=${sid}`, { method: "POST", body: "4up" })).body).to.be("ok");
        await sleep(GRACE + 200);
        expect(closes).to.eql([]);
      }
      expect(owner.errors).to.eql([]);
    });

    describe("the wait for the next GET after a GET from another node lost its connection", () => {
      /** A session whose GET, from another node, lost its connection unanswered: { sid, socket }. */
      async function inGrace(owner) {
        const sid = await handshake(owner.port);
        const socket = owner.engine.clients[sid];
        const pending = sendAsNode(owner, `EIO=4&sid=${sid}&t=lost`);
        await until(() => socket.transport.writable, "the GET pending");
        await pending.cut();
        await until(() => !socket.transport.writable, "the GET dropped");
        expect(socket.readyState).to.be("open");
        return { sid, socket };
      }
      const closeOf = (socket) =>
        new Promise((resolve) => socket.once("close", (reason) => resolve({ reason, at: Date.now() })));

      it("buffers what is sent meanwhile for the next GET, wherever it comes from", async () => {
        const [owner] = await startNodes(1, {}, ENGINE_ONLY);
        for (const next of ["local", "another node"]) {
          const { sid, socket } = await inGrace(owner);
          socket.send("a");
          socket.send("b");
          const answer =
            next === "local"
              ? await poll(owner.port, `sid=${sid}&t=next`)
              : { body: (await sendAsNode(owner, `EIO=4&sid=${sid}&t=next`).answer).body.toString() };
          expect(answer.body).to.be("4a\x1e4b");
        }
        await sleep(GRACE + 200);
        expect(owner.engine.clientsCount).to.be(2);
        expect(owner.errors).to.eql([]);
      });

      it("the session's close() goes to the next GET, or completes at the end of the wait; the client's close packet and close(true) close at once", async () => {
        const [owner] = await startNodes(1, {}, ENGINE_ONLY);
        // close(): the next GET gets the close packet
        const answered = await inGrace(owner);
        const answeredClose = closeOf(answered.socket);
        answered.socket.close();
        expect(answered.socket.readyState).to.be("closing");
        expect((await poll(owner.port, `sid=${answered.sid}&t=next`)).body).to.be("6\x1e1");
        expect((await answeredClose).reason).to.be("forced close");

        // close() and no GET: closed when the wait ends, not after closeTimeout (30 s)
        const alone = await inGrace(owner);
        const aloneClose = closeOf(alone.socket);
        const closedAt = Date.now();
        alone.socket.close();
        const { reason, at } = await aloneClose;
        expect(reason).to.be("forced close");
        expect(at - closedAt).to.be.lessThan(GRACE + 500);
        expect(alone.socket.transport.readyState).to.be("closed");

        // the client's close packet (a POST): at once
        const leaving = await inGrace(owner);
        const leavingClose = closeOf(leaving.socket);
        expect((await poll(owner.port, `sid=${leaving.sid}`, { method: "POST", body: "1" })).body).to.be(
          "ok",
        );
        expect((await leavingClose).reason).to.be("transport close");
        await sleep(GRACE + 200);
        expect(leaving.socket.transport.writable).to.be(false);

        // close(true): at once; a GET then is for a session gone
        const discarded = await inGrace(owner);
        const discardedClose = closeOf(discarded.socket);
        discarded.socket.close(true);
        expect((await discardedClose).reason).to.be("forced close");
        expect(discarded.socket.transport.readyState).to.be("closed");
        expect((await poll(owner.port, `sid=${discarded.sid}&t=next`)).json).to.eql(UNKNOWN_SID);
        await sleep(GRACE + 200);
        // the wait ended with the transport: a closed transport never becomes writable
        expect(discarded.socket.transport.writable).to.be(false);
        expect(owner.engine.clientsCount).to.be(0);
      });

      it("a heartbeat timeout meanwhile closes the session at once, its transport when the wait ends", async () => {
        const [owner] = await startNodes(1, {}, ENGINE_ONLY);
        const { socket } = await inGrace(owner);
        const closed = closeOf(socket);
        const transportClosed = waitFor(socket.transport, "close");
        const timedOut = Date.now();
        // what the heartbeat calls when no pong came in time
        socket._onHeartbeatTimeout();
        expect((await closed).reason).to.be("ping timeout");
        await transportClosed;
        expect(Date.now() - timedOut).to.be.lessThan(GRACE + 500);
        expect(owner.engine.clientsCount).to.be(0);
      });

      it("an upgrade to WebSocket meanwhile ends the wait", async () => {
        const [owner] = await startNodes(1, {}, ENGINE_ONLY);
        const { sid, socket } = await inGrace(owner);
        const polling = socket.transport;
        const closes = [];
        socket.on("close", (reason) => closes.push(reason));
        const ws = new WebSocket(
          `ws://localhost:${owner.port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`,
        );
        others.push(() => ws.terminate());
        const messages = [];
        ws.on("message", (m) => messages.push(m.toString()));
        await waitFor(ws, "open");
        ws.send("2probe");
        await until(() => messages.includes("3probe"), "the probe answered");
        ws.send("5");
        await waitFor(socket, "upgrade");
        expect(socket.transport.name).to.be("websocket");
        socket.send("over ws");
        await until(() => messages.includes("4over ws"), "a message over the WebSocket");
        await sleep(GRACE + 200);
        expect(closes).to.eql([]);
        expect(socket.readyState).to.be("open");
        expect(polling.readyState).to.be("closed");
        expect(polling.writable).to.be(false);
      });
    });

    it("answers a GET repeated with the same t as a new poll while the answer's connection is open, and never with another session's answer", async () => {
      const [owner] = await startNodes(1, {}, ENGINE_ONLY);
      const s1 = owner.engine.clients[await handshake(owner.port)];
      const s2 = owner.engine.clients[await handshake(owner.port)];
      const answered = async (socket, packet, get) => {
        const pending = get();
        await until(() => socket.transport.writable, "the GET pending");
        socket.send(packet);
        return pending;
      };
      const asNode = (socket, t) => () => getAsNode(owner, `EIO=4&sid=${socket.id}&t=${t}`);
      const local = (socket, t) => () => poll(owner.port, `sid=${socket.id}&t=${t}`);

      // the same t again, the connection of the answer still open: not a retry (two polls of a
      // client within a millisecond may draw the same t): a new poll, answered with what is new
      const one = await answered(s1, "one", asNode(s1, "same"));
      expect(one.body.toString()).to.be("4one");
      expect((await answered(s1, "two", local(s1, "same"))).body).to.be("4two");
      one.agent.destroy();

      // another session's GET with the t of an answer whose connection is gone: its own poll
      const three = await answered(s1, "three", asNode(s1, "x"));
      await three.cut();
      expect((await answered(s2, "for s2", local(s2, "x"))).body).to.be("4for s2");
      // s1's retry gets s1's answer, once: a GET with that t again is a new poll
      expect((await atOnce(poll(owner.port, `sid=${s1.id}&t=x`), "the retried GET")).body).to.be("4three");
      expect((await answered(s1, "four", local(s1, "x"))).body).to.be("4four");
      expect(owner.engine.retriedPollsCount).to.be(1);
      expect(owner.engine.clientsCount).to.be(2);
      expect(owner.errors).to.eql([]);
    });
  });

  describe("connections between nodes", () => {
    it("closes an idle connection to the owner before the owner does: no request goes out on a connection being closed", async () => {
      // A request written on a kept-alive connection just as the owner closes it for
      // being idle is reset (ECONNRESET), and answered 400 code 1 though the owner is up.
      // The node that opened the connection must be the one to drop it, and first.
      const [owner, other] = await startNodes(2, {}, ENGINE_ONLY);
      const sid = await handshake(owner.port);
      const connections = [];
      owner.engine._forwarding.listener.on("connection", (socket) => {
        const c = { endedByOtherNode: false, closedAt: 0 };
        connections.push(c);
        socket.on("end", () => (c.endedByOtherNode = true));
        socket.on("close", () => (c.closedAt = Date.now()));
      });
      const sent = Date.now();
      expect((await poll(other.port, `sid=${sid}`, { method: "POST", body: "6" })).status).to.be(200);
      expect(other.engine.forwardedRequestsCount).to.be(1);
      const ownerIdleTimeout = owner.engine._forwarding.listener.keepAliveTimeout;
      await until(
        () => connections.length === 1 && connections[0].closedAt > 0,
        "the idle connection closed",
        ownerIdleTimeout + 3000,
      );
      expect(connections[0].endedByOtherNode).to.be(true);
      // with a margin wider than a loaded event loop's lag
      expect(connections[0].closedAt - sent).to.be.lessThan(ownerIdleTimeout - 5000);
    });
  });

  describe("the relay to the owner", () => {
    // A node answering with raw bytes stands for the owner: what the relay must do with
    // each way an HTTP/1.1 answer may come (the engine's own answers have a Content-Length).
    async function nodeAndRawOwner(answer, forwarding = {}, ownerOptions = {}) {
      const [node] = await startNodes(1, {}, { forwarding });
      const owner = await rawOwner(answer, ownerOptions);
      others.push(owner.close);
      return { node, owner, sid: sidFor(`127.0.0.1:${owner.port}`) };
    }

    it("relays a chunked answer however its bytes are split (extensions and trailers dropped), and sends the next request on the same connection", async () => {
      const { node, owner, sid } = await nodeAndRawOwner((socket, request, index) => {
        const body = index === 0 ? "hello, world" : "second";
        // every boundary of the chunked framing falls between two reads somewhere
        const raw =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nX-From: owner\r\n\r\n" +
          `5;ext=1\r\n${body.slice(0, 5)}\r\n${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n` +
          "0\r\nX-Trailer: t\r\n\r\n";
        const pieces = [];
        for (let i = 0; i < raw.length; i += 3) pieces.push(raw.slice(i, i + 3));
        writeApart(socket, pieces);
      });
      const first = await poll(node.port, `sid=${sid}`);
      expect(first.status).to.be(200);
      expect(first.body).to.be("hello, world");
      expect(first.headers["x-from"]).to.be("owner");
      expect(first.headers["x-trailer"]).to.be(undefined);
      const second = await poll(node.port, `sid=${sid}`, { method: "POST", body: "4x" });
      expect(second.body).to.be("second");
      expect(owner.requests[1].body).to.be("4x");
      expect(owner.connections).to.be(1);
      expect(node.engine.forwardingFailuresCount).to.be(0);
    });

    it("relays every kind of answer whole, its bytes split at random (seeded), on connections kept when they can be", async () => {
      let seed = 7;
      const random = () => {
        // a small LCG: the same splits on every run
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const answers = [];
      const expected = [];
      for (let i = 0; i < 40; i++) {
        const body = Buffer.alloc(1 + Math.floor(random() * 3000));
        for (let j = 0; j < body.length; j++) body[j] = Math.floor(random() * 256);
        const kind = ["length", "chunked", "close"][i % 3];
        let raw;
        if (kind === "length") {
          raw = Buffer.concat([
            Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`),
            body,
          ]);
        } else if (kind === "chunked") {
          const parts = [Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")];
          for (let at = 0; at < body.length;) {
            const size = Math.min(body.length - at, 1 + Math.floor(random() * 700));
            parts.push(
              Buffer.from(`${size.toString(16)}\r\n`),
              body.subarray(at, at + size),
              Buffer.from("\r\n"),
            );
            at += size;
          }
          parts.push(Buffer.from("0\r\n\r\n"));
          raw = Buffer.concat(parts);
        } else {
          raw = Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\n\r\n"), body]);
        }
        const pieces = [];
        for (let at = 0; at < raw.length;) {
          const size = 1 + Math.floor(random() * (random() < 0.5 ? 8 : 900));
          pieces.push(raw.subarray(at, at + size));
          at += size;
        }
        answers.push({ kind, pieces });
        expected.push(body);
      }
      const { node, owner, sid } = await nodeAndRawOwner((socket, request, index) => {
        const { kind, pieces } = answers[index];
        writeApart(socket, pieces).then(() => kind === "close" && socket.end());
      });
      for (let i = 0; i < answers.length; i++) {
        const answer = await request(node.port, { path: `/socket.io/?EIO=4&transport=polling&sid=${sid}` });
        expect(answer.status).to.be(200);
        expect(answer.body.equals(expected[i])).to.be(true);
      }
      // a connection goes with each answer that its end delimits, and only then
      expect(owner.connections).to.be(
        1 + answers.filter((a, i) => a.kind === "close" && i < answers.length - 1).length,
      );
      expect(node.engine.forwardingFailuresCount).to.be(0);
    });

    it("relays an answer delimited by the connection's end whole, and opens a new connection for the next request", async () => {
      const { node, owner, sid } = await nodeAndRawOwner((socket) => {
        writeApart(socket, ["HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ", "the end"]).then(
          () => socket.end(),
        );
      });
      expect((await poll(node.port, `sid=${sid}`)).body).to.be("until the end");
      expect((await poll(node.port, `sid=${sid}`)).body).to.be("until the end");
      expect(owner.connections).to.be(2);
      expect(node.engine.forwardingFailuresCount).to.be(0);
    });

    it("relays the owner's Connection: close to the client, and never sends another request on that connection", async () => {
      const { node, owner, sid } = await nodeAndRawOwner((socket) => {
        // the owner says close but leaves the connection open: it is not to be used again
        socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
      });
      const first = await poll(node.port, `sid=${sid}`);
      expect(first.body).to.be("ok");
      expect(first.headers.connection).to.be("close");
      expect((await poll(node.port, `sid=${sid}`)).body).to.be("ok");
      expect(owner.connections).to.be(2);
    });

    it("passes over an interim 100 Continue to the final answer", async () => {
      const { node, sid } = await nodeAndRawOwner((socket) => {
        socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      });
      const answer = await poll(node.port, `sid=${sid}`, { method: "POST", body: "4x" });
      expect(answer.status).to.be(200);
      expect(answer.body).to.be("ok");
    });

    it("answers 400 code 1 when the owner closes before answering, and cuts the client's response when it closes in the middle", async () => {
      const { node, sid } = await nodeAndRawOwner((socket, request, index) => {
        if (index === 0) {
          socket.destroy();
        } else if (index === 1) {
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
          setTimeout(() => socket.destroy(), 20);
        } else {
          socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nnot a hundred");
          setTimeout(() => socket.end(), 20);
        }
      });
      const before = await poll(node.port, `sid=${sid}`);
      expect(before.status).to.be(400);
      expect(before.json).to.eql(UNKNOWN_SID);
      for (let i = 0; i < 2; i++) {
        let error;
        await poll(node.port, `sid=${sid}`).catch((err) => (error = err));
        // the client sees its response end early, as it would have if the owner had served it
        expect(error).to.be.an(Error);
      }
      expect(node.engine.forwardingFailuresCount).to.be(3);
    });

    it("answers 400 code 1 for an owner that does not speak HTTP, with a malformed length, or a head that never ends", async () => {
      const answers = [
        "SSH-2.0-OpenSSH_9.6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\nok",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Long: " + "x".repeat(100 * 1024),
        "HTTP/1.1 200 OK\r\nBad\u0001Name: v\r\nContent-Length: 2\r\n\r\nok",
      ];
      const { node, sid } = await nodeAndRawOwner((socket, request, index) => socket.write(answers[index]));
      for (let i = 0; i < answers.length; i++) {
        const answer = await new Promise((resolve, reject) => {
          const req = http.request(
            { port: node.port, path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, agent: false },
            (res) => {
              let body = "";
              res.on("data", (c) => (body += c));
              res.on("end", () => resolve({ line: `${res.statusCode} ${res.statusMessage}`, body }));
            },
          );
          req.on("error", reject);
          req.end();
        });
        expect(answer.line).to.be("400 Bad Request");
        expect(JSON.parse(answer.body)).to.eql(UNKNOWN_SID);
      }
      expect(node.engine.forwardingFailuresCount).to.be(answers.length);
    });

    it("cuts an answer that stops coming at the timeout", async () => {
      const { node, sid } = await nodeAndRawOwner(
        (socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"),
        { timeout: 300 },
      );
      const started = Date.now();
      let error;
      await poll(node.port, `sid=${sid}`).catch((err) => (error = err));
      expect(error).to.be.an(Error);
      expect(Date.now() - started).to.be.within(290, 2000);
      expect(node.engine.forwardingFailuresCount).to.be(1);
    });

    it("relays a large answer to a client that reads slowly, and a large body to an owner that reads slowly, whole", async () => {
      const size = 4 * 1024 * 1024;
      const big = Buffer.alloc(size, "abcdefgh");
      const { node, owner, sid } = await nodeAndRawOwner(
        (socket, request) => {
          if (request.head.startsWith("GET")) {
            socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
            socket.write(big);
          } else {
            const said = `${request.body.length} ${request.body === big.toString() ? "same" : "different"}`;
            socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${said.length}\r\n\r\n${said}`);
          }
        },
        {},
        { slow: true },
      );
      // the client stops reading for a while after the first piece: the owner's bytes wait
      const answer = await new Promise((resolve, reject) => {
        const req = http.request(
          { port: node.port, path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, agent: false },
          (res) => {
            const chunks = [];
            let paused = false;
            res.on("data", (c) => {
              chunks.push(c);
              if (!paused) {
                paused = true;
                res.pause();
                setTimeout(() => res.resume(), 300);
              }
            });
            res.on("end", () => resolve(Buffer.concat(chunks)));
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end();
      });
      expect(answer.length).to.be(size);
      expect(answer.equals(big)).to.be(true);
      // the owner stops reading for a while after the first piece of the body
      const posted = await poll(node.port, `sid=${sid}`, { method: "POST", body: big });
      expect(posted.body).to.be(`${size} same`);
      expect(owner.requests.length).to.be(2);
      expect(node.engine.forwardingFailuresCount).to.be(0);
    });

    it("opens a new connection when the owner closed the idle one, whether it ended or reset it", async () => {
      const [owner, other] = await startNodes(2, {}, ENGINE_ONLY);
      const sid = await handshake(owner.port);
      const internal = [];
      owner.engine._forwarding.listener.on("connection", (socket) => internal.push(socket));
      const relay = other.engine._forwarding.relay;
      for (const close of ["end", "reset"]) {
        expect((await poll(other.port, `sid=${sid}`, { method: "POST", body: "6" })).body).to.be("ok");
        const socket = internal[internal.length - 1];
        if (close === "end") owner.engine._forwarding.listener.closeIdleConnections();
        else socket.resetAndDestroy();
        // the node forwarding takes note of it before its next request
        await until(() => relay.links.size === 0, "the closed connection dropped");
        expect((await poll(other.port, `sid=${sid}`, { method: "POST", body: "6" })).body).to.be("ok");
      }
      expect(internal.length).to.be(3);
      expect(other.engine.forwardingFailuresCount).to.be(0);
    });
  });

  describe("only nodes talk to nodes", () => {
    it("makes no connection at all for a forged or garbled tag", async () => {
      const [node] = await startNodes(1);
      const target = await decoy();
      others.push(target.close);
      const address = `127.0.0.1:${target.port}`;
      const valid = sidFor(address, { id: "victim" });
      const dot = valid.lastIndexOf(".");
      const flipped = valid.slice(0, -1) + (valid.slice(-1) === "A" ? "B" : "A");
      const forged = [
        "plain-id-without-tag",
        "id.",
        "id.!!!not-base64!!!",
        `id.${Buffer.from(address).toString("base64url")}`,
        `id.${"A".repeat(2000)}`,
        sidFor(address, { secret: "another secret of enough length", id: "victim" }),
        flipped,
        // the tag of one id moved to another
        `other${valid.slice(dot)}`,
      ];
      for (const sid of forged) {
        const q = `sid=${encodeURIComponent(sid)}`;
        expect((await poll(node.port, q)).json).to.eql(UNKNOWN_SID);
        expect((await poll(node.port, q, { method: "POST", body: "4x" })).json).to.eql(UNKNOWN_SID);
        expect(await refusedUpgrade(node.port, q)).to.eql({ status: 400, body: "Session ID unknown" });
      }
      expect(target.connections).to.be(0);
      expect(node.engine.forwardedRequestsCount).to.be(0);
      expect(node.engine.forwardedUpgradesCount).to.be(0);
      // positive control: the same request with a genuine tag does reach the address
      const node2 = await startNode({}, { forwarding: { timeout: 200 } });
      await poll(node2.port, `sid=${valid}`);
      expect(target.connections).to.be(1);
    });

    it("refuses with 403 whatever reaches the internal listener without the token; nothing reaches the engine", async () => {
      let middlewareRuns = 0;
      const [node] = await startNodes(1);
      node.engine.use((req, res, next) => {
        middlewareRuns++;
        next();
      });
      const connections = [];
      node.engine.on("connection", (s) => connections.push(s));
      const internal = node.internalPort;
      const path = "/socket.io/?EIO=4&transport=polling";
      const token = new (sessionTag().SessionTagCodec)(SECRET).token;
      const refusals = [
        {},
        { [HEADER]: "" },
        { [HEADER]: "wrong" },
        { [HEADER]: SECRET },
        { [HEADER]: token.slice(0, -1) },
        { [HEADER]: new (sessionTag().SessionTagCodec)("another secret of enough length").token },
      ];
      for (const headers of refusals) {
        const res = await request(internal, { path, headers });
        expect(res.status).to.be(403);
        expect(res.headers.connection).to.be("close");
        const upgrade = await refusedUpgrade(internal, "", headers);
        expect(upgrade.status).to.be(403);
      }
      expect(middlewareRuns).to.be(0);
      expect(connections).to.eql([]);
      expect(node.errors).to.eql([]);
      expect(node.engine.clientsCount).to.be(0);
      // positive control: with the token, the engine answers (and its middleware runs)
      const res = await requestText(internal, { path, headers: { [HEADER]: token } });
      expect(res.status).to.be(200);
      expect(res.body[0]).to.be("0");
      expect(middlewareRuns).to.be(1);
      expect(connections.length).to.be(1);
      // the token is taken out of the request the engine and its middlewares see
      node.engine.use((req, res, next) => {
        expect(req.headers[HEADER]).to.be(undefined);
        expect(req.rawHeaders.map((h) => h.toLowerCase())).not.to.contain(HEADER);
        next();
      });
      expect((await request(internal, { path, headers: { [HEADER]: token } })).status).to.be(200);
    });

    it("never forwards a request that came from another node", async () => {
      const [node] = await startNodes(1);
      const target = await decoy();
      others.push(target.close);
      const token = new (sessionTag().SessionTagCodec)(SECRET).token;
      const sid = sidFor(`127.0.0.1:${target.port}`);
      const res = await requestText(node.internalPort, {
        path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
        headers: { [HEADER]: token },
      });
      expect(res.status).to.be(400);
      expect(JSON.parse(res.body)).to.eql(UNKNOWN_SID);
      expect(target.connections).to.be(0);
      expect(node.engine.forwardedRequestsCount).to.be(0);
    });

    it("gives the token header no effect on the public port", async () => {
      const [owner, other] = await startNodes(2);
      const target = await decoy();
      others.push(target.close);
      const token = new (sessionTag().SessionTagCodec)(SECRET).token;
      // a forged tag with the token: still refused, no connection
      const forged = sidFor(`127.0.0.1:${target.port}`, { secret: "another secret of enough length" });
      const refused = await poll(other.port, `sid=${forged}`, { headers: { [HEADER]: token } });
      expect(refused.json).to.eql(UNKNOWN_SID);
      expect(target.connections).to.be(0);
      // a genuine session of another node with the token: forwarded as without it
      const sid = await handshake(owner.port);
      const message = waitFor(owner.engine.clients[sid], "message");
      const res = await poll(other.port, `sid=${sid}`, {
        method: "POST",
        headers: { [HEADER]: token },
        body: "4hi",
      });
      expect(res.body).to.be("ok");
      expect(await message).to.be("hi");
      expect(other.engine.forwardedRequestsCount).to.be(1);
      // a handshake with the token on the public port: an ordinary session of that node
      const own = await handshake(other.port, { [HEADER]: token });
      expect(ownerOf(own)).to.be(other);
    });

    it("sends the owner a derived token, never the secret, and no hop-by-hop header either way", async () => {
      const [node] = await startNodes(1);
      // a fake owner that records what it gets and answers with headers of every kind
      let received = "";
      const owner = http.createServer((req, res) => {
        received = `${req.method} ${req.url}\n${JSON.stringify(req.headers)}`;
        res.writeHead(200, [
          "Content-Type",
          "text/plain",
          "Set-Cookie",
          "a=1",
          "Set-Cookie",
          "b=2",
          "X-Custom",
          "kept",
          "Connection",
          "keep-alive, X-Hop",
          "X-Hop",
          "dropped",
          "Keep-Alive",
          "timeout=77",
        ]);
        res.end("from the owner");
      });
      const ownerPort = await listen(owner);
      others.push(() => closeHttp(owner));
      const sid = sidFor(`127.0.0.1:${ownerPort}`);
      const res = await poll(node.port, `sid=${sid}`, {
        headers: {
          Connection: "X-Client-Hop",
          "X-Client-Hop": "dropped",
          "Proxy-Authorization": "Basic dropped",
          Cookie: "io=kept",
          Origin: "https://app.example",
          [HEADER]: "sent by the client",
          "X-Latin": "caf\u00e9",
        },
      });
      const token = new (sessionTag().SessionTagCodec)(SECRET).token;
      expect(received).not.to.contain(SECRET);
      const headers = JSON.parse(received.split("\n")[1]);
      expect(headers[HEADER]).to.be(token);
      expect(headers.cookie).to.be("io=kept");
      expect(headers.origin).to.be("https://app.example");
      // a byte over 127 in a value reaches the owner as the client sent it
      expect(headers["x-latin"]).to.be("caf\u00e9");
      expect(headers.host).to.be(`localhost:${node.port}`);
      expect(headers["x-client-hop"]).to.be(undefined);
      expect(headers["proxy-authorization"]).to.be(undefined);
      expect(received.split("\n")[0]).to.be(`GET /socket.io/?EIO=4&transport=polling&sid=${sid}`);

      expect(res.status).to.be(200);
      expect(res.body).to.be("from the owner");
      expect(res.headers["set-cookie"]).to.eql(["a=1", "b=2"]);
      expect(res.headers["x-custom"]).to.be("kept");
      expect(res.headers["content-type"]).to.be("text/plain");
      expect(res.headers["x-hop"]).to.be(undefined);
      // the public node's own keep-alive, not the owner's
      expect(res.headers["keep-alive"]).not.to.be("timeout=77");
    });
  });

  describe("the option", () => {
    it("off: a request for another node's session gets 400 code 1 and goes nowhere", async () => {
      const [plain] = await startNodes(1, {}, { forwarding: null });
      expect(plain.engine._forwarding).to.be(undefined);
      const target = await decoy();
      others.push(target.close);
      const sid = sidFor(`127.0.0.1:${target.port}`);
      const res = await poll(plain.port, `sid=${sid}`);
      expect(res.status).to.be(400);
      expect(res.json).to.eql(UNKNOWN_SID);
      expect(await refusedUpgrade(plain.port, `sid=${sid}`)).to.eql({
        status: 400,
        body: "Session ID unknown",
      });
      expect(target.connections).to.be(0);
      expect(plain.errors).to.eql([1, 1]);
      // and its session ids carry no tag
      expect(await handshake(plain.port)).to.match(/^[A-Za-z0-9_-]{20}$/);
    });

    it("requires a secret of at least 16 characters", () => {
      const { Server: Engine } = eio();
      expect(() => new Engine({ sessionForwarding: {} })).to.throwError(/at least 16 characters/);
      expect(() => new Engine({ sessionForwarding: { secret: "too short" } })).to.throwError(/secret/);
      expect(() => new Engine({ sessionForwarding: { secret: SECRET, timeout: -1 } })).to.throwError(
        /timeout/,
      );
    });

    it("holds a handshake until the internal listener listens, and tags the id with its address", async () => {
      const { Server: Engine } = eio();
      let engine;
      // the engine is created by the first request, which it then handles at once
      const httpServer = http.createServer((req, res) => {
        engine = new Engine({ sessionForwarding: { secret: SECRET } });
        engine.handleRequest(req, res);
      });
      const port = await listen(httpServer);
      others.push(() => {
        engine.close();
        closeHttp(httpServer);
      });
      const res = await requestText(port, { path: "/engine.io/?EIO=4&transport=polling" });
      expect(res.status).to.be(200);
      const sid = JSON.parse(res.body.slice(1)).sid;
      expect(new (sessionTag().SessionTagCodec)(SECRET).ownerOf(sid)).to.be(engine._forwarding.address);
      expect(engine._forwarding.address).to.match(/^127\.0\.0\.1:\d+$/);
    });

    it("reports an internal listener that cannot listen, and refuses new sessions with 503", async () => {
      const [first] = await startNodes(1);
      const { Server: Engine } = eio();
      const forwarding = { secret: SECRET, port: first.internalPort };

      // with an "error" listener on the engine: the error goes there
      const httpServer = http.createServer();
      const engine = new Engine({ sessionForwarding: forwarding });
      engine.attach(httpServer);
      const error = waitFor(engine, "error");
      const port = await listen(httpServer);
      others.push(() => {
        engine.close();
        closeHttp(httpServer);
      });
      expect((await error).code).to.be("EADDRINUSE");
      const refusals = [];
      engine.on("connection_error", (e) => refusals.push(e.code));
      const res = await requestText(port, { path: "/engine.io/?EIO=4&transport=polling" });
      expect(res.status).to.be(503);
      expect(JSON.parse(res.body)).to.eql({ code: 7, message: "Service unavailable" });
      expect(refusals).to.eql([7]);
      expect(engine.clientsCount).to.be(0);

      // without one: a process warning, not an uncaught exception
      const warning = waitFor(process, "warning");
      const quiet = new Engine({ sessionForwarding: forwarding });
      others.push(() => quiet.close());
      const w = await warning;
      expect(w.name).to.be("SessionForwardingWarning");
      expect(w.message).to.contain("EADDRINUSE");
    });
  });
});
