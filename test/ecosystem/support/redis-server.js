"use strict";

// A throwaway redis-server on a free loopback port, owned by the test run:
// no persistence, killed when the suite ends.
const { spawn, execFileSync } = require("child_process");
const net = require("net");

function hasRedisServer() {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch (_) {
    return false;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts redis-server and resolves once it accepts connections.
 * @returns {Promise<{ url: string, port: number, stop: () => Promise<void> }>}
 * @example
 *   const redis = await startRedis();
 *   const pub = createClient({ url: redis.url });
 *   // ...
 *   await redis.stop();
 */
async function startRedis({ timeoutMs = 5000 } = {}) {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] }
  );
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));

  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill("SIGKILL");
      reject(new Error("redis-server did not start in time:\n" + output));
    }, timeoutMs);
    const onData = (chunk) => {
      output += chunk;
      if (/Ready to accept connections/i.test(output)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error("redis-server exited with code " + code + ":\n" + output));
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off("data", onData);
      child.off("exit", onExit);
    }
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", (chunk) => (output += chunk));
    child.once("exit", onExit);
  });
  // keep draining the pipes so the child never blocks on a full buffer
  child.stdout.resume();
  child.stderr.resume();

  return {
    port,
    url: "redis://127.0.0.1:" + port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

module.exports = { startRedis, hasRedisServer };
