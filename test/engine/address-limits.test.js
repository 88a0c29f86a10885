"use strict";

// The `addressLimits` and `addressHeader` options: per remote address, caps on the
// sessions open at once and on the rate of handshakes, answered with 429 and the engine's
// JSON error body (code 6, "Too many requests"), counted in rateLimitedHandshakesCount and
// emitted as "connection_error". The address is the TCP connection's unless a proxy's
// header is trusted by name. Ours only: engine.io 6.6 has no such options.
const expect = require("expect.js");
const WebSocket = require("ws");
const { io: ioc } = require("socket.io-client");
const { REFERENCE, sio } = require("../support/impl");
const { request } = require("../support/http");
const { waitFor, until, sleep } = require("../support/wait");
const { closeHttp } = require("../support/servers");
const { useEngine } = require("./support/engine-harness");

const HANDSHAKE = "/engine.io/?EIO=4&transport=polling";

/** A polling handshake; resolves { status, headers, json or sid }. */
async function handshake(port, headers = {}, host = undefined) {
  const res = await request(port, { host, path: HANDSHAKE, headers, encoding: "utf8" });
  if (res.status === 200) {
    expect(res.body[0]).to.be("0");
    return { status: 200, sid: JSON.parse(res.body.slice(1)).sid };
  }
  return { status: res.status, headers: res.headers, json: JSON.parse(res.body) };
}

/** A WebSocket handshake; resolves { status: 101, ws } or the refusal { status, headers, body }. */
function wsHandshake(port, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://localhost:${port}/engine.io/?EIO=4&transport=websocket`, { headers });
    ws.on("open", () => resolve({ status: 101, ws }));
    ws.on("unexpected-response", (req, res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    ws.on("error", reject);
  });
}

/** Closes a polling session from the client's side (a "close" packet). */
async function closeSession(port, sid) {
  const res = await request(port, { method: "POST", path: `${HANDSHAKE}&sid=${sid}`, body: "1" });
  expect(res.status).to.be(200);
}

const TOO_MANY = { code: 6, message: "Too many requests" };

(REFERENCE ? describe.skip : describe)("per-address limits (addressLimits, addressHeader)", function () {
  this.timeout(10000);
  const h = useEngine();
  let errors;

  async function start(opts) {
    const { engine, port } = await h.start(opts);
    errors = [];
    engine.on("connection_error", (e) => errors.push(e));
    return { engine, port };
  }

  it("are off by default: any number of handshakes from one address", async () => {
    const { engine, port } = await start();
    for (let i = 0; i < 30; i++) expect((await handshake(port)).status).to.be(200);
    expect(engine.clientsCount).to.be(30);
    expect(engine.rateLimitedHandshakesCount).to.be(0);
    expect(errors).to.eql([]);
  });

  describe("maxSessions", () => {
    it("refuses a polling handshake over the cap with 429 and the JSON error", async () => {
      const { engine, port } = await start({ addressLimits: { maxSessions: 2 } });
      const first = await handshake(port);
      expect((await handshake(port)).status).to.be(200);
      const refused = await handshake(port);
      expect(refused.status).to.be(429);
      expect(refused.headers["content-type"]).to.be("application/json");
      expect(refused.headers["retry-after"]).to.be(undefined);
      expect(refused.json).to.eql(TOO_MANY);
      expect(engine.rateLimitedHandshakesCount).to.be(1);
      expect(engine.clientsCount).to.be(2);
      expect(errors.length).to.be(1);
      expect(errors[0].code).to.be(6);
      expect(errors[0].message).to.be("Too many requests");
      expect(errors[0].req.url).to.contain("transport=polling");
      const address = engine.clients[first.sid].remoteAddress;
      expect(errors[0].context).to.eql({
        name: "TOO_MANY_SESSIONS",
        address,
        group: address.replace(/^::ffff:/, "").replace(/^::1$/, "0:0:0:0::/64"),
        maxSessions: 2,
      });

      // the sessions open go on: a request with a session id is not a handshake
      const poll = await request(port, {
        method: "POST",
        path: `${HANDSHAKE}&sid=${first.sid}`,
        body: "4hi",
      });
      expect(poll.status).to.be(200);

      // a session closed frees its place
      await closeSession(port, first.sid);
      await until(() => engine.clientsCount === 1, "the session closed");
      expect((await handshake(port)).status).to.be(200);
      expect(engine.rateLimitedHandshakesCount).to.be(1);
    });

    it("refuses a WebSocket handshake over the cap with 429 and the JSON error", async () => {
      const { engine, port } = await start({ addressLimits: { maxSessions: 1 } });
      const open = await wsHandshake(port);
      expect(open.status).to.be(101);
      const refused = await wsHandshake(port);
      expect(refused.status).to.be(429);
      expect(refused.headers["content-type"]).to.be("application/json");
      expect(JSON.parse(refused.body)).to.eql(TOO_MANY);
      expect(engine.rateLimitedHandshakesCount).to.be(1);
      expect(errors.map((e) => [e.code, e.context.name])).to.eql([[6, "TOO_MANY_SESSIONS"]]);
      // the session closes with its WebSocket: the place is free again
      open.ws.close();
      await until(() => engine.clientsCount === 0, "the session closed");
      const again = await wsHandshake(port);
      expect(again.status).to.be(101);
      again.ws.close();
    });

    it("counts a session upgraded from polling once", async () => {
      const { Socket: ClientSocket } = require("engine.io-client");
      const { engine, port } = await start({ addressLimits: { maxSessions: 1 } });
      const client = new ClientSocket(`http://localhost:${port}`);
      h.clients.push(client);
      await waitFor(client, "upgrade");
      expect(engine.clientsCount).to.be(1);
      expect((await handshake(port)).status).to.be(429);
      client.close();
      await until(() => engine.clientsCount === 0, "the session closed");
      expect((await handshake(port)).status).to.be(200);
    });
  });

  describe("maxSessions with an async generateId", () => {
    // generateId answers after `ms`: the handshakes wait for it together
    const slowIds = (ms, fail = () => false) => {
      let n = 0;
      return () =>
        new Promise((resolve, reject) => {
          const id = `id-${n++}`;
          setTimeout(() => (fail(id) ? reject(new Error("no id")) : resolve(id)), ms);
        });
    };

    it("counts the handshakes in flight: concurrent handshakes never exceed the cap", async () => {
      const { engine, port } = await start({ addressLimits: { maxSessions: 3 } });
      engine.generateId = slowIds(200);
      const results = await Promise.all([
        ...Array.from({ length: 10 }, () => handshake(port)),
        ...Array.from({ length: 10 }, () => wsHandshake(port)),
      ]);
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200 || s === 101).length).to.be(3);
      expect(statuses.filter((s) => s === 429).length).to.be(17);
      expect(engine.clientsCount).to.be(3);
      expect(engine.rateLimitedHandshakesCount).to.be(17);
      expect(new Set(errors.map((e) => e.context.name))).to.eql(new Set(["TOO_MANY_SESSIONS"]));
      for (const r of results) if (r.ws) r.ws.close();
      // a session closed frees its place, once
      const polling = results.filter((r) => r.status === 200);
      for (const r of polling) await closeSession(port, r.sid);
      await until(() => engine.clientsCount === 0, "every session closed");
      const again = await Promise.all(Array.from({ length: 5 }, () => handshake(port)));
      expect(again.map((r) => r.status).sort()).to.eql([200, 200, 200, 429, 429]);
    });

    it("frees the place of a handshake that fails: generateId rejecting, or the client gone meanwhile", async () => {
      let failing = true;
      const { engine, port } = await start({ addressLimits: { maxSessions: 2 } });
      engine.generateId = slowIds(400, () => failing);
      const failed = await Promise.all([handshake(port), handshake(port)]);
      expect(failed.map((r) => r.status)).to.eql([400, 400]);
      failing = false;
      // a client gone before its id came: no session for it, and its place is free again
      const gone = new Promise((resolve) => {
        const req = require("http").get({ host: "localhost", port, path: HANDSHAKE, agent: false });
        req.on("error", () => resolve());
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
      await gone;
      const ok = await Promise.all([handshake(port), handshake(port), handshake(port)]);
      expect(ok.map((r) => r.status).sort()).to.eql([200, 200, 429]);
      // the id of the one gone came meanwhile: it found no place
      await sleep(100);
      expect(engine.clientsCount).to.be(2);
    });
  });

  describe("handshakesPerSecond", () => {
    it("refuses handshakes over the rate with 429 and Retry-After, then lets them in again", async () => {
      const { engine, port } = await start({ addressLimits: { handshakesPerSecond: 5, handshakeBurst: 3 } });
      for (let i = 0; i < 3; i++) expect((await handshake(port)).status).to.be(200);
      const refused = await handshake(port);
      expect(refused.status).to.be(429);
      expect(refused.json).to.eql(TOO_MANY);
      expect(refused.headers["retry-after"]).to.be("1");
      const refusedWs = await wsHandshake(port);
      expect(refusedWs.status).to.be(429);
      expect(refusedWs.headers["retry-after"]).to.be("1");
      expect(engine.rateLimitedHandshakesCount).to.be(2);
      expect(errors.map((e) => e.context.name)).to.eql([
        "HANDSHAKE_RATE_EXCEEDED",
        "HANDSHAKE_RATE_EXCEEDED",
      ]);
      expect(errors[0].context.retryAfter).to.be(1);
      // pacing the client: 5/s gives a handshake every 200 ms
      await sleep(250);
      expect((await handshake(port)).status).to.be(200);
      expect((await handshake(port)).status).to.be(429);
      expect(engine.clientsCount).to.be(4);
    });

    it("is checked before allowRequest, which a flood of handshakes does not reach", async () => {
      let asked = 0;
      const { engine, port } = await start({
        addressLimits: { handshakesPerSecond: 1, handshakeBurst: 2 },
        allowRequest: (req, fn) => {
          asked++;
          fn(null, true);
        },
      });
      const statuses = [];
      for (let i = 0; i < 20; i++) statuses.push((await handshake(port)).status);
      expect(statuses.filter((s) => s === 200).length).to.be(2);
      expect(statuses.filter((s) => s === 429).length).to.be(18);
      expect(asked).to.be(2);
      expect(engine.rateLimitedHandshakesCount).to.be(18);
    });
  });

  describe("addressHeader", () => {
    const ADDRESSES = ["203.0.113.1", "203.0.113.2"];

    it("is off by default: a client forging X-Forwarded-For gains nothing", async () => {
      const { engine, port } = await start({ addressLimits: { maxSessions: 1 } });
      const first = await handshake(port, { "X-Forwarded-For": ADDRESSES[0] });
      expect(first.status).to.be(200);
      const remote = engine.clients[first.sid].remoteAddress;
      expect(remote).to.match(/127\.0\.0\.1|::1/);
      const forged = await handshake(port, { "X-Forwarded-For": ADDRESSES[1] });
      expect(forged.status).to.be(429);
      expect(errors[0].context.address).to.be(remote);
    });

    it("with the header named, counts each forwarded address on its own", async () => {
      const { engine, port } = await start({
        addressLimits: { maxSessions: 1 },
        addressHeader: "X-Forwarded-For",
      });
      const first = await handshake(port, { "X-Forwarded-For": ADDRESSES[0] });
      expect(first.status).to.be(200);
      expect(engine.clients[first.sid].remoteAddress).to.be(ADDRESSES[0]);
      expect((await handshake(port, { "X-Forwarded-For": ADDRESSES[1] })).status).to.be(200);
      expect((await handshake(port, { "X-Forwarded-For": ADDRESSES[0] })).status).to.be(429);
      // the proxy appends the address it saw: what the client wrote before it is not trusted
      const forged = await handshake(port, { "X-Forwarded-For": `198.51.100.7, ${ADDRESSES[0]}` });
      expect(forged.status).to.be(429);
      expect(errors.map((e) => e.context.address)).to.eql([ADDRESSES[0], ADDRESSES[0]]);
      // a request without the header (not through the proxy) has the connection's address
      const direct = await handshake(port);
      expect(direct.status).to.be(200);
      expect(engine.clients[direct.sid].remoteAddress).to.match(/127\.0\.0\.1|::1/);
    });
  });

  describe("address groups", () => {
    const forwarded = (port, address) => handshake(port, { "X-Forwarded-For": address });

    it("count an IPv6 address with every other of its /64 prefix, however written", async () => {
      const { engine, port } = await start({
        addressLimits: { maxSessions: 2 },
        addressHeader: "x-forwarded-for",
      });
      expect((await forwarded(port, "2001:db8:1:2::1")).status).to.be(200);
      expect((await forwarded(port, "2001:db8:1:2:ffff:ffff:ffff:ffff")).status).to.be(200);
      // a third address of the prefix, then the same prefix written out in full
      expect((await forwarded(port, "2001:db8:1:2::abcd")).status).to.be(429);
      expect((await forwarded(port, "2001:0DB8:0001:0002:0:0:0:7")).status).to.be(429);
      // the next /64 is another group
      const next = await forwarded(port, "2001:db8:1:3::1");
      expect(next.status).to.be(200);
      // the session keeps its own address
      expect(engine.clients[next.sid].remoteAddress).to.be("2001:db8:1:3::1");
      expect(errors.map((e) => e.context)).to.eql([
        {
          name: "TOO_MANY_SESSIONS",
          address: "2001:db8:1:2::abcd",
          group: "2001:db8:1:2::/64",
          maxSessions: 2,
        },
        {
          name: "TOO_MANY_SESSIONS",
          address: "2001:0DB8:0001:0002:0:0:0:7",
          group: "2001:db8:1:2::/64",
          maxSessions: 2,
        },
      ]);
      expect(engine.addresses.size).to.be(2);
    });

    it("count an IPv4-mapped IPv6 address as its IPv4 address", async () => {
      const { port } = await start({
        addressLimits: { maxSessions: 2 },
        addressHeader: "x-forwarded-for",
      });
      expect((await forwarded(port, "::ffff:198.51.100.1")).status).to.be(200);
      expect((await forwarded(port, "198.51.100.1")).status).to.be(200);
      // 198.51.100.1 in hexadecimal
      expect((await forwarded(port, "::ffff:c633:6401")).status).to.be(429);
      // not with the other IPv4 addresses, whose mapped forms share the prefix ::/64
      expect((await forwarded(port, "::ffff:198.51.100.2")).status).to.be(200);
      expect(errors.map((e) => e.context.group)).to.eql(["198.51.100.1"]);
    });

    it("share the handshake rate of the group", async () => {
      const { port } = await start({
        addressLimits: { handshakesPerSecond: 1, handshakeBurst: 2 },
        addressHeader: "x-forwarded-for",
      });
      expect((await forwarded(port, "2001:db8::1")).status).to.be(200);
      expect((await forwarded(port, "2001:db8::2")).status).to.be(200);
      const refused = await forwarded(port, "2001:db8::3");
      expect(refused.status).to.be(429);
      expect(refused.headers["retry-after"]).to.be("1");
      expect((await forwarded(port, "2001:db8:0:1::1")).status).to.be(200);
      expect(errors.map((e) => [e.context.name, e.context.group])).to.eql([
        ["HANDSHAKE_RATE_EXCEEDED", "2001:db8:0:0::/64"],
      ]);
    });

    it("on a server listening on '::', an IPv4 client is not in the group of ::1", async function () {
      const { engine, port } = await start({ addressLimits: { maxSessions: 1 } });
      if (engine.httpServer.address().address !== "::") this.skip();
      const v4 = await handshake(port, {}, "127.0.0.1");
      expect(v4.status).to.be(200);
      expect(engine.clients[v4.sid].remoteAddress).to.be("::ffff:127.0.0.1");
      // ::1 and ::ffff:127.0.0.1 share their first 64 bits: a /64 alone would count them
      // as one
      expect((await handshake(port, {}, "::1")).status).to.be(200);
      expect((await handshake(port, {}, "127.0.0.1")).status).to.be(429);
      expect((await handshake(port, {}, "::1")).status).to.be(429);
      expect(errors.map((e) => e.context.group)).to.eql(["127.0.0.1", "0:0:0:0::/64"]);
    });
  });

  describe("memory", () => {
    it("forgets an address when its last session closes", async () => {
      const { engine, port } = await start({
        addressLimits: { maxSessions: 5 },
        addressHeader: "x-forwarded-for",
      });
      const table = engine.addresses;
      const sids = [];
      for (let i = 0; i < 50; i++) {
        const res = await handshake(port, { "X-Forwarded-For": `198.51.100.${i}` });
        expect(res.status).to.be(200);
        sids.push(res.sid);
      }
      expect(table.size).to.be(50);
      for (const sid of sids) await closeSession(port, sid);
      await until(() => engine.clientsCount === 0, "every session closed");
      expect(table.size).to.be(0);
    });

    it("forgets an address with no session once its bucket refilled, swept by a later handshake", async () => {
      const { engine, port } = await start({
        addressLimits: { handshakesPerSecond: 1, handshakeBurst: 1 },
        addressHeader: "x-forwarded-for",
        // refuses the handshakes of 203.0.113.x after the limits took their token
        allowRequest: (req, fn) => fn(null, !req.headers["x-forwarded-for"].startsWith("203.0.113.")),
      });
      const table = engine.addresses;
      const kept = [];
      for (const address of ["198.51.100.1", "198.51.100.2"]) {
        const res = await handshake(port, { "X-Forwarded-For": address });
        expect(res.status).to.be(200);
        kept.push(res.sid);
      }
      for (let i = 0; i < 50; i++) {
        expect((await handshake(port, { "X-Forwarded-For": `203.0.113.${i}` })).status).to.be(403);
      }
      expect(table.size).to.be(52);
      // no timer: nothing changes until a handshake comes, at least a second (the time to
      // refill a bucket) after the last sweep
      await sleep(1100);
      expect(table.size).to.be(52);
      expect((await handshake(port, { "X-Forwarded-For": "192.0.2.1" })).status).to.be(200);
      // the two addresses with a session stay, with the newcomer
      expect(table.size).to.be(3);
      // their buckets have refilled: they go with their sessions
      for (const sid of kept) await closeSession(port, sid);
      await until(() => engine.clientsCount === 1, "the two sessions closed");
      expect(table.size).to.be(1);
    });
  });

  describe("the option", () => {
    it("is checked when the engine is created", () => {
      const { Server } = require("../support/impl").engine();
      const bad = [
        { maxSessions: 0 },
        { maxSessions: "3" },
        { handshakesPerSecond: 0 },
        { handshakesPerSecond: -1 },
        { handshakesPerSecond: 1, handshakeBurst: 0 },
      ];
      for (const addressLimits of bad) {
        expect(() => new Server({ addressLimits })).to.throwError((err) => {
          expect(err).to.be.a(TypeError);
          expect(err.message).to.match(/^addressLimits\./);
        });
      }
    });
  });

  describe("through Socket.IO", () => {
    let io;
    afterEach(async () => {
      if (io) {
        io.close();
        await closeHttp(io.httpServer);
      }
      io = undefined;
    });

    it("a socket.io-client over the cap gets connect_error; handshake.address follows addressHeader", async () => {
      const http = require("http");
      const httpServer = http.createServer();
      io = new (sio().Server)(httpServer, {
        addressLimits: { maxSessions: 1 },
        addressHeader: "x-forwarded-for",
      });
      await new Promise((resolve) => httpServer.listen(0, resolve));
      const url = `http://localhost:${httpServer.address().port}`;
      const engineErrors = [];
      io.engine.on("connection_error", (e) => engineErrors.push(e));
      const connection = waitFor(io, "connection");
      const options = (address) => ({
        forceNew: true,
        reconnection: false,
        extraHeaders: { "X-Forwarded-For": address },
      });
      const first = ioc(url, { ...options("203.0.113.5"), transports: ["websocket"] });
      const socket = await connection;
      expect(socket.handshake.address).to.be("203.0.113.5");

      for (const transports of [["polling"], ["websocket"]]) {
        const second = ioc(url, { ...options("203.0.113.5"), transports });
        const err = await waitFor(second, "connect_error");
        expect(err.message).to.match(/error/);
        second.close();
      }
      expect(io.engine.rateLimitedHandshakesCount).to.be(2);
      expect(engineErrors.map((e) => e.code)).to.eql([6, 6]);
      const { engine } = io.metrics();
      expect(engine.rateLimitedHandshakes).to.be(2);
      expect(engine.connectionErrors[6]).to.be(2);

      const other = ioc(url, { ...options("203.0.113.6"), transports: ["websocket"] });
      await waitFor(other, "connect");
      other.close();
      first.close();
    });
  });
});
