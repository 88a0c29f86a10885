"use strict";

// Three server processes (ours, or the reference's with REFERENCE=1) on the
// @socket.io/redis-adapter behind a real nginx, as the Socket.IO docs deploy them.
// With sticky sessions, polling-only, WebSocket-only and upgrading clients spread
// over the nodes all get every broadcast. Without them (round-robin), a polling
// client's requests reach nodes that never saw its session: the documented failure,
// HTTP 400 with { code: 1, message: "Session ID unknown" }.
//
// Every client of a test comes from 127.0.0.1, so `ip_hash` would send them all to
// one node: the sticky front hashes a query parameter each client sets instead
// (socket.io-client's `query` goes with every request, the upgrade included).
const http = require("http");
const path = require("path");
const expect = require("expect.js");
const { io: ioc } = require("socket.io-client");
const impl = require("../support/impl");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { startNginx } = require("./support/nginx");
const { startProcess, freePort } = require("./support/processes");
const { once, waitFor, record } = require("./support/peers");

const NODES = ["n1", "n2", "n3"];

function get(port, pathAndQuery) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: pathAndQuery }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      })
      .on("error", reject);
  });
}

describe(
  "several server processes behind nginx, with the redis adapter" + (impl.REFERENCE ? " (reference)" : ""),
  function () {
    this.timeout(20000);

    let redis, nodes, lb, clients;

    before(async function () {
      if (!hasRedisServer()) throw missingRedis();
      redis = await startRedis();
      const ports = await Promise.all(NODES.map(() => freePort()));
      nodes = await Promise.all(
        NODES.map((name, i) =>
          startProcess(
            process.execPath,
            [
              path.join(__dirname, "support", "node-process.js"),
              name,
              String(ports[i]),
              redis.url,
              String(NODES.length),
            ],
            { ready: /^ready$/m, timeoutMs: 10000 },
          ),
        ),
      );
      lb = await startNginx([
        { name: "sticky", nodes: ports, balance: "hash $arg_sticky consistent;" },
        { name: "roundrobin", nodes: ports, balance: "" },
      ]);
    });

    after(async () => {
      if (lb) await lb.stop();
      if (nodes) await Promise.all(nodes.map((node) => node.stop()));
      if (redis) await redis.stop();
    });

    beforeEach(() => {
      clients = [];
    });

    afterEach(() => {
      for (const client of clients) client.disconnect();
    });

    function connect(front, opts) {
      const client = ioc("http://127.0.0.1:" + lb.ports[front], {
        forceNew: true,
        reconnection: false,
        ...opts,
      });
      clients.push(client);
      return client;
    }

    describe("with sticky sessions", () => {
      const MODES = {
        polling: { transports: ["polling"] },
        websocket: { transports: ["websocket"] },
        upgrade: {}, // polling first, then the upgrade to WebSocket
      };

      // One connected client per (mode, node): tries sticky keys until each node has one
      async function spreadClients(mode) {
        const byNode = {};
        for (let i = 0; Object.keys(byNode).length < NODES.length; i++) {
          if (i === 60) throw new Error("60 sticky keys did not cover the nodes: " + Object.keys(byNode));
          const client = connect("sticky", { ...MODES[mode], query: { sticky: mode + "-" + i } });
          await once(client, "connect");
          const { node } = await client.emitWithAck("whoami");
          if (byNode[node]) client.disconnect();
          else byNode[node] = client;
        }
        return byNode;
      }

      it("polling-only, WebSocket-only and upgrading clients spread over the nodes all get every broadcast", async () => {
        const spread = {};
        for (const mode of Object.keys(MODES)) spread[mode] = await spreadClients(mode);

        // the upgrading clients finish their upgrade on the node of their handshake
        for (const client of Object.values(spread.upgrade)) {
          await waitFor(() => client.io.engine.transport.name === "websocket", 3000, "the upgrade");
        }
        for (const [mode, byNode] of Object.entries(spread)) {
          for (const [node, client] of Object.entries(byNode)) {
            const expected = { node, transport: mode === "polling" ? "polling" : "websocket" };
            expect(await client.emitWithAck("whoami")).to.eql(expected);
          }
        }

        const all = Object.values(spread).flatMap((byNode) => Object.values(byNode));
        const recs = all.map(record);
        // one broadcast from each node, each asked by a client of another transport
        spread.polling.n1.emit("broadcast", "from n1");
        spread.websocket.n2.emit("broadcast", "from n2");
        spread.upgrade.n3.emit("broadcast", "from n3");
        await waitFor(
          () => recs.every((r) => r.args("news").length === 3),
          5000,
          "3 broadcasts on the 9 clients",
        );
        for (const r of recs) {
          expect(
            r
              .args("news")
              .map((args) => args[0])
              .sort(),
          ).to.eql(["from n1", "from n2", "from n3"]);
        }
      });
    });

    describe("without sticky sessions (round-robin)", () => {
      it("the second request of a polling session reaches another node: 400 'Session ID unknown', code 1", async () => {
        const handshake = await get(lb.ports.roundrobin, "/socket.io/?EIO=4&transport=polling");
        expect(handshake.status).to.be(200);
        const { sid } = JSON.parse(handshake.body.slice(1)); // "0{...}": the open packet
        const next = await get(lb.ports.roundrobin, "/socket.io/?EIO=4&transport=polling&sid=" + sid);
        expect(next.status).to.be(400);
        expect(JSON.parse(next.body)).to.eql({ code: 1, message: "Session ID unknown" });
      });

      it("a polling socket.io-client gets a connect_error for that 400 and never connects", async () => {
        const client = connect("roundrobin", { transports: ["polling"] });
        // its first POST (the CONNECT packet) or GET after the handshake is the 400 above
        const [err] = await once(client, "connect_error", 5000);
        expect(err.message).to.match(/^xhr (post|poll) error$/);
        expect(err.description).to.be(400);
        expect(client.connected).to.be(false);
      });

      it("WebSocket-only clients need no sticky sessions: one connection, one node", async () => {
        const [c1, c2, c3] = [1, 2, 3].map(() => connect("roundrobin", { transports: ["websocket"] }));
        await Promise.all([c1, c2, c3].map((c) => once(c, "connect")));
        const landed = await Promise.all([c1, c2, c3].map((c) => c.emitWithAck("whoami")));
        // round-robin: one on each node, unless a stray request of an earlier test took a turn
        expect(new Set(landed.map((w) => w.node)).size).to.be.greaterThan(1);
        const got = Promise.all([c2, c3].map((c) => once(c, "news")));
        c1.emit("broadcast", "hi");
        expect(await got).to.eql([["hi"], ["hi"]]);
      });
    });
  },
);
