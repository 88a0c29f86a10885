"use strict";

// Parent and child processes of a bench talk through Node's IPC channel with
// request/response messages: { id, cmd, ...args } answered by { id, result } or { id, error }.

const childProcess = require("child_process");

/**
 * Child side: answers the parent's requests with `handlers[cmd](args)` (may be async).
 * The child exits when the parent goes away, so a killed bench leaves nothing behind.
 */
function serve(handlers) {
  process.on("message", async (msg) => {
    try {
      const handler = handlers[msg.cmd];
      if (!handler) throw new Error(`unknown command ${msg.cmd}`);
      process.send({ id: msg.id, result: await handler(msg) });
    } catch (err) {
      process.send({ id: msg.id, error: err && err.message ? err.message : String(err) });
    }
  });
  process.on("disconnect", () => process.exit(0));
}

/**
 * Parent side: forks `script` and returns `{ child, request(cmd, args, timeoutMs), kill() }`.
 * A request that gets no answer in time rejects, which keeps every bench bounded.
 * Options: `onEvent(msg)` receives what the child sends on its own with `notify`;
 * `stderr: "pipe"` leaves the child's stderr to the caller (`child.stderr`); with
 * `nofile`, the child starts through a shell that first raises its soft limit of open
 * files to that (`ulimit -n`); the IPC channel survives the shell's exec.
 */
function spawn(script, execArgv = [], { onEvent, stderr = "inherit", nofile } = {}) {
  const stdio = ["ignore", "inherit", stderr, "ipc"];
  const child = nofile
    ? childProcess.spawn(
        "/bin/sh",
        ["-c", `ulimit -n ${nofile} && exec "$0" "$@"`, process.execPath, ...execArgv, script],
        { stdio },
      )
    : childProcess.fork(script, [], { execArgv, stdio });
  const pending = new Map();
  let nextId = 1;

  const failAll = (err) => {
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
  };
  child.on("message", (msg) => {
    if (msg.event !== undefined) {
      if (onEvent) onEvent(msg);
      return;
    }
    const entry = pending.get(msg.id);
    if (!entry) return;
    pending.delete(msg.id);
    clearTimeout(entry.timer);
    if (msg.error) entry.reject(new Error(msg.error));
    else entry.resolve(msg.result);
  });
  child.on("exit", (code, signal) => failAll(new Error(`child exited (${signal || code})`)));
  // a send racing the child's death fails with EPIPE: the pending requests fail instead
  child.on("error", failAll);

  return {
    child,
    request(cmd, args = {}, timeoutMs = 30000) {
      return new Promise((resolve, reject) => {
        if (!child.connected) return reject(new Error(`"${cmd}": the child is gone`));
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`"${cmd}" timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.send({ id, cmd, ...args });
      });
    },
    /** Lets the child exit on its own (so that it can write a --cpu-prof profile), then kills it. */
    async end(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.disconnect();
      const timer = setTimeout(() => this.kill(), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill() {
      for (const { timer } of pending.values()) clearTimeout(timer);
      failAll(new Error("killed"));
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Child side: sends `{ event, ...fields }` to the parent unasked; `done` runs once it is sent. */
function notify(event, fields = {}, done = () => {}) {
  if (process.connected) process.send({ event, ...fields }, () => done());
  else done();
}

module.exports = { serve, spawn, notify };
