"use strict";

// Helpers of the security suites: the server under attack runs in the mocha process,
// so "the process survives" means no 'uncaughtException' / 'unhandledRejection' while
// the attack runs, and "other sessions are not disturbed" means bystander clients on
// each transport keep a round trip.
const net = require("net");
const expect = require("expect.js");
const { connected } = require("../socket.io/support/util");

/**
 * Records what would end the process while a test runs.
 *
 * @example
 * const watch = watchProcess();
 * // ... attack ...
 * watch.assertClean();
 */
function watchProcess() {
  const errors = [];
  const onError = (err) => errors.push(err);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    errors,
    stop() {
      process.removeListener("uncaughtException", onError);
      process.removeListener("unhandledRejection", onError);
    },
    assertClean() {
      this.stop();
      expect(errors.map((e) => (e && e.stack) || String(e))).to.eql([]);
    },
  };
}

/**
 * One socket.io-client per transport (polling only, websocket only), connected to the
 * server of harness `h`, whose server side answers "echo" acks.
 *
 * @example
 * const bystanders = await connectBystanders(h, io);
 * await bystanders.assertAlive();
 */
async function connectBystanders(h, io) {
  io.on("connection", (socket) => {
    if (socket.handshake.query.bystander) {
      socket.on("echo", (value, cb) => cb(value));
    }
  });
  const clients = [];
  for (const transport of ["polling", "websocket"]) {
    const client = h.client("/", { transports: [transport], query: { bystander: transport } });
    await connected(client);
    clients.push(client);
  }
  return {
    clients,
    /** Both bystanders are still connected on their transport and get their echo back. */
    async assertAlive() {
      for (const client of clients) {
        expect(client.connected).to.be(true);
        const name = client.io.engine.transport.name;
        expect(name).to.be(client.io.opts.query.bystander);
        const value = { from: name, at: Date.now() };
        expect(await client.timeout(3000).emitWithAck("echo", value)).to.eql(value);
      }
    },
  };
}

/**
 * Sends a raw HTTP upgrade request for `path` and resolves the still open socket.
 *
 * @example
 * const socket = await rawUpgrade(port, "/other");
 * socket.resetAndDestroy();
 */
function rawUpgrade(port, path) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      );
      resolve(socket);
    });
    socket.on("error", () => {
      // the test resets the socket itself
    });
    socket.once("error", reject);
  });
}

module.exports = { watchProcess, connectBystanders, rawUpgrade };
