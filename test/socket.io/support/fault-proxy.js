"use strict";

// A TCP proxy (plain `net`) between a client and a server, that can cut every
// connection it carries (a reset on both sides, as a dropped network would) and
// stall the server-to-client direction (the client then looks like one that stopped
// reading). A new connection can be held back until a condition on its first bytes
// is met.
const net = require("net");

class FaultProxy {
  /**
   * @param {number} targetPort the server's port on 127.0.0.1
   * @param {{ admit?: (firstChunk: Buffer) => Promise<void> }} [options] awaited with the
   *   first bytes the client sends on a new connection, before they are passed on
   */
  constructor(targetPort, { admit = () => Promise.resolve() } = {}) {
    this.targetPort = targetPort;
    this.admit = admit;
    this.pairs = new Set();
    this.stalled = false;
    this.cuts = 0;
    this.stalls = 0;
    this.server = net.createServer((client) => this.onConnection(client));
  }

  /** Resolves with the port it listens on. */
  listen() {
    return new Promise((resolve) =>
      this.server.listen(0, "127.0.0.1", () => resolve(this.server.address().port)),
    );
  }

  onConnection(client) {
    const pair = { client, upstream: null };
    this.pairs.add(pair);
    client.on("error", () => this.drop(pair));
    client.on("close", () => this.drop(pair));
    client.once("data", (first) => {
      client.pause();
      this.admit(first).then(() => {
        if (!this.pairs.has(pair)) return;
        const upstream = net.connect(this.targetPort, "127.0.0.1");
        pair.upstream = upstream;
        upstream.on("error", () => this.drop(pair));
        upstream.on("close", () => this.drop(pair));
        upstream.write(first);
        client.pipe(upstream);
        if (!this.stalled) upstream.pipe(client);
        client.resume();
      });
    });
  }

  drop(pair) {
    if (!this.pairs.delete(pair)) return;
    reset(pair.client);
    if (pair.upstream) reset(pair.upstream);
  }

  /** Resets every connection; resolves true when there was at least one. */
  cut() {
    if (this.pairs.size === 0) return false;
    this.cuts++;
    for (const pair of [...this.pairs]) this.drop(pair);
    return true;
  }

  /** Stops passing the server's bytes to the client for `ms`: they pile up in the server. */
  stall(ms) {
    if (this.stalled) return;
    this.stalled = true;
    this.stalls++;
    for (const { client, upstream } of this.pairs) {
      if (upstream) {
        upstream.unpipe(client);
        upstream.pause();
      }
    }
    setTimeout(() => {
      this.stalled = false;
      for (const { client, upstream } of this.pairs) {
        if (upstream) upstream.pipe(client);
      }
    }, ms).unref();
  }

  close() {
    for (const pair of [...this.pairs]) this.drop(pair);
    this.server.close();
  }
}

function reset(socket) {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === "function" && socket._handle) socket.resetAndDestroy();
  else socket.destroy();
}

module.exports = { FaultProxy };
