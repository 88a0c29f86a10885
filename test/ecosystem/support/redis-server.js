"use strict";

// A throwaway redis-server on a free loopback port, owned by the test run:
// no persistence, killed when the suite ends.
const { hasCommand, freePort, startProcess } = require("./processes");

const hasRedisServer = () => hasCommand("redis-server");

/**
 * Starts redis-server and resolves once it accepts connections.
 * @returns {Promise<{ url: string, port: number, version: number[], stop: () => Promise<void> }>}
 * @example
 *   const redis = await startRedis();
 *   const pub = createClient({ url: redis.url });
 *   // ...
 *   await redis.stop();
 */
async function startRedis({ timeoutMs = 5000 } = {}) {
  const port = await freePort();
  const proc = await startProcess(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { ready: /Ready to accept connections/i, timeoutMs },
  );
  // "Redis version=7.0.15" in the banner: the sharded adapter needs 7 or later
  const match = /version=(\d+)\.(\d+)\.(\d+)/i.exec(proc.output());
  return {
    port,
    url: "redis://127.0.0.1:" + port,
    version: match ? match.slice(1).map(Number) : [0, 0, 0],
    stop: proc.stop,
  };
}

/** The error a suite throws when the machine has no redis-server, naming the fix. */
function missingRedis() {
  return new Error("redis-server is not installed: apt-get install -y redis-server (see .ci/run)");
}

module.exports = { startRedis, hasRedisServer, missingRedis };
