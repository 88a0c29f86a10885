"use strict";

// A deployment of three Socket.IO nodes for test/ecosystem/any-node.test.js, with the
// processes of any-node.js: behind a real nginx with plain round-robin (the node processes
// and a broadcaster on a shared adapter backend), or, for @socket.io/cluster-adapter, on
// Node's cluster module with the workers sharing one port (no nginx, no @socket.io/sticky).
const path = require("path");
const { startNginx } = require("./nginx");
const { freePort, startProcess } = require("./processes");
const { waitFor } = require("./peers");

const SCRIPT = path.join(__dirname, "any-node.js");
const SECRET = "any-node-test-secret-0123456789";

/**
 * The nginx front of the deployment: plain round-robin (no ip_hash, no hash, no cookie)
 * and no `keepalive` to the upstreams (each request is its own upstream connection, with
 * `Connection: close` as the README's proxy settings send for anything but an upgrade).
 * `max_fails` and `proxy_next_upstream` keep nginx's defaults: a refused connection (a
 * killed node) is retried on the next node, which is then left out for 10 s.
 */
const roundRobin = (ports) => ({ name: "roundrobin", nodes: ports, balance: "" });

/**
 * Starts the deployment. `adapter`: "redis", "redis-sharded", "redis-streams", "postgres"
 * (with `redisUrl` or `pg`, a pg.Pool config) or "cluster". `forwarding: false` runs the
 * nodes without `sessionForwarding`. `clients` sizes nginx's connections.
 * @example
 *   const d = await startDeployment({ adapter: "redis", redisUrl: redis.url });
 *   ioc(d.url); d.broadcast("r1", 1); const stats = await d.stats(); await d.kill("n3", "SIGKILL");
 *   await d.stop();
 */
async function startDeployment({
  adapter,
  redisUrl,
  pg,
  forwarding = true,
  names = ["n1", "n2", "n3"],
  clients = 100,
}) {
  const env = { ...process.env };
  delete env.SIO_FORWARDING_SECRET;
  if (forwarding) env.SIO_FORWARDING_SECRET = SECRET;
  const start = (cfg) =>
    startProcess(process.execPath, [SCRIPT, JSON.stringify(cfg)], {
      ready: /^ready$/m,
      timeoutMs: 20000,
      env,
      stdin: true,
    });
  const procs = {}; // name => process whose stdin takes that node's lines
  const pids = {};
  let front, url, primary, broadcaster;

  if (adapter === "cluster") {
    const port = await freePort();
    primary = await start({ adapter, nodes: names, port });
    for (const m of primary.output().matchAll(/^pid (\S+) (\d+)$/gm)) pids[m[1]] = Number(m[2]);
    broadcaster = primary;
    url = "http://127.0.0.1:" + port;
  } else {
    const ports = await Promise.all(names.map(() => freePort()));
    const base = { adapter, redisUrl, pg, servers: names.length + 1 };
    const started = await Promise.all([
      start({ ...base, role: "broadcaster", name: "broadcaster" }),
      ...names.map((name, i) => start({ ...base, role: "node", name, port: ports[i] })),
    ]);
    broadcaster = started[0];
    names.forEach((name, i) => {
      procs[name] = started[i + 1];
      pids[name] = started[i + 1].child.pid;
    });
    // a proxied connection takes two of nginx's connections; a polling client may hold a
    // long-poll and a POST at once
    front = await startNginx([roundRobin(ports)], { workerConnections: 6 * clients + 256 });
    url = "http://127.0.0.1:" + front.ports.roundrobin;
  }

  const killed = new Set();
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (_) {
      return false;
    }
  };
  let statsId = 0;

  // the "stats <id> <json>" line `proc` prints in answer to "stats <id>"
  async function askStats(proc) {
    const id = String(++statsId);
    const re = new RegExp(`^stats ${id} (.*)$`, "m");
    proc.child.stdin.write(`stats ${id}\n`);
    const m = await waitFor(() => re.exec(proc.output()), 10000, "the stats of a node");
    return JSON.parse(m[1]);
  }

  return {
    url,
    names,
    nginx: front,
    /** Emits "room" `seq` to `room`, or "all" `seq` to every client when `room` is "*". */
    broadcast(room, seq) {
      broadcaster.child.stdin.write(`b ${room} ${seq}\n`);
    },
    /** What each live node saw (any-node.js, nodeStats): an array. */
    async stats() {
      if (primary) return askStats(primary);
      return Promise.all(names.filter((n) => !killed.has(n)).map((n) => askStats(procs[n])));
    },
    /**
     * Sends `signal` to a node (SIGTERM: its io.close(), then exit); resolves once its
     * process is gone.
     */
    async kill(name, signal = "SIGKILL") {
      killed.add(name);
      process.kill(pids[name], signal);
      // a cluster worker is the primary's child: gone once the primary has reaped it
      if (procs[name]) await procs[name].exited;
      else await waitFor(() => !alive(pids[name]), 10000, "the node's exit");
    },
    /** Everything a process printed, for a failure's message. */
    output(name) {
      return (name === "broadcaster" ? broadcaster : primary || procs[name]).output();
    },
    async stop() {
      if (front) await front.stop();
      const all = new Set([primary, broadcaster, ...Object.values(procs)].filter(Boolean));
      await Promise.all([...all].map((p) => p.stop()));
    },
  };
}

module.exports = { startDeployment, SECRET };
