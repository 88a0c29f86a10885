"use strict";

// Child processes owned by a test run (redis-server, postgres, nginx, Socket.IO
// server nodes): started on free loopback ports, considered up once their output
// says so, and always stopped by the suite that started them.
const { spawn, execFileSync } = require("child_process");
const net = require("net");

/**
 * True when `command` runs (exit code 0) with `args`, e.g. a `--version` probe.
 * @example if (!hasCommand("nginx", ["-v"])) throw new Error("apt-get install nginx");
 */
function hasCommand(command, args = ["--version"]) {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch (_) {
    return false;
  }
}

/**
 * A loopback port that nothing listens on right now.
 * @example const port = await freePort();
 */
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
 * Spawns `command` and resolves once its stdout or stderr matches `ready`; rejects
 * with everything it printed when it exits first or does not get ready in time.
 * The returned `stop()` sends `signal`, then SIGKILL after 2 s, and resolves on exit.
 * `stdin: true` gives the child a pipe to write to (`child.stdin`) instead of nothing;
 * `uid`/`gid` run it as another user (root only), for servers that refuse root.
 * @example
 *   const p = await startProcess("redis-server", ["--port", "6400"], { ready: /Ready to accept/ });
 *   await p.stop();
 */
async function startProcess(
  command,
  args,
  { ready, timeoutMs = 5000, env, cwd, signal = "SIGTERM", stdin = false, uid, gid } = {},
) {
  const child = spawn(command, args, {
    stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
    env,
    cwd,
    uid,
    gid,
  });
  if (stdin) child.stdin.on("error", () => {}); // EPIPE once the child has exited: its exit is what matters
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));
  // keeps draining both pipes for the child's whole life: a full pipe would block it
  child.stdout.setEncoding("utf8").on("data", (chunk) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk) => (output += chunk));
  child.once("error", (err) => (output += "\n" + err.message));

  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
    }
  };

  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill("SIGKILL");
      reject(new Error(command + " did not get ready in " + timeoutMs + " ms:\n" + output));
    }, timeoutMs);
    const onData = () => {
      if (ready.test(output)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code, sig) => {
      cleanup();
      reject(new Error(command + " exited (" + (sig || code) + ") before getting ready:\n" + output));
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off("data", onData);
      child.stderr.off("data", onData);
      child.off("exit", onExit);
    }
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", onExit);
    onData();
  });

  return { child, output: () => output, stop, exited };
}

module.exports = { hasCommand, freePort, startProcess };
