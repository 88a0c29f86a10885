"use strict";

// A TCP forwarder standing for a load balancer in front of several nodes: the test
// points it at a node, cuts the live connections (a network failure), refuses new
// ones for a while, then points it at another node.
const net = require("net");

/**
 * Starts the proxy on a free loopback port, forwarding to `targetPort`.
 * @example
 *   const proxy = await startTcpProxy(portA);
 *   proxy.refuse(); proxy.cut(); // clients lose their connection and cannot come back
 *   proxy.forwardTo(portB);      // they come back, on the other node
 */
async function startTcpProxy(targetPort) {
  let target = targetPort;
  let refusing = false;
  const pairs = new Set();
  const server = net.createServer((downstream) => {
    downstream.on("error", () => downstream.destroy());
    if (refusing) return downstream.destroy();
    const upstream = net.connect(target, "127.0.0.1");
    const pair = [downstream, upstream];
    pairs.add(pair);
    upstream.on("error", () => downstream.destroy());
    const forget = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.once("close", forget);
    upstream.once("close", forget);
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    port,
    url: "http://127.0.0.1:" + port,
    /** New connections are closed as soon as they are accepted. */
    refuse() {
      refusing = true;
    },
    /** New connections go to `port` from now on. */
    forwardTo(port) {
      target = port;
      refusing = false;
    },
    /** Destroys every live connection, both ways. */
    cut() {
      for (const [down, up] of pairs) {
        down.destroy();
        up.destroy();
      }
      pairs.clear();
    },
    close() {
      this.cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startTcpProxy };
