"use strict";

// A throwaway PostgreSQL cluster owned by the test run: initdb into a temporary
// directory, postgres on a free loopback port with durability off, trust auth for
// the "postgres" role, everything removed on stop. PostgreSQL refuses to run as
// root, so under root (CI containers) both run as the unprivileged "nobody".
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const { freePort, startProcess } = require("./processes");

/**
 * The directory holding initdb and postgres: $PG_BIN, the newest Debian
 * /usr/lib/postgresql/<version>/bin, or the PATH. Null when none has initdb.
 * @example const bin = postgresBinDir(); // "/usr/lib/postgresql/15/bin"
 */
function postgresBinDir() {
  const candidates = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  const debian = "/usr/lib/postgresql";
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((v) => /^\d+$/.test(v));
    versions.sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(path.join(debian, v, "bin"));
  }
  for (const dir of (process.env.PATH || "").split(path.delimiter)) if (dir) candidates.push(dir);
  return candidates.find((dir) => fs.existsSync(path.join(dir, "initdb"))) || null;
}

// uid/gid of "nobody" when running as root, nothing otherwise
function unprivilegedIds() {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return {};
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("nobody:"));
  const [, , uid, gid] = line ? line.split(":") : [];
  return { uid: uid ? Number(uid) : 65534, gid: gid ? Number(gid) : 65534 };
}

/** The error a suite throws when the machine has no PostgreSQL, naming the fix. */
function missingPostgres() {
  return new Error("PostgreSQL is not installed: apt-get install -y postgresql (see .ci/run)");
}

/**
 * Creates and starts a cluster; resolves once it accepts connections.
 * @returns {Promise<{ config: object, port: number, stop: () => Promise<void> }>} `config` is a pg.Pool config
 * @example
 *   const pg = await startPostgres();
 *   const pool = new (require("pg").Pool)(pg.config);
 *   // ...
 *   await pg.stop();
 */
async function startPostgres({ timeoutMs = 15000 } = {}) {
  const bin = postgresBinDir();
  if (!bin) throw missingPostgres();
  const ids = unprivilegedIds();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-pg-"));
  const dataDir = path.join(dir, "data");
  if (ids.uid !== undefined) fs.chownSync(dir, ids.uid, ids.gid);
  // the child's HOME may not exist (nobody's is /nonexistent): keep tools away from it
  const env = { PATH: process.env.PATH, HOME: dir, LC_ALL: "C", LANG: "C" };

  let proc;
  try {
    execFileSync(
      path.join(bin, "initdb"),
      ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--no-instructions"],
      { env, stdio: "pipe", ...ids },
    );
    const port = await freePort();
    proc = await startProcess(
      path.join(bin, "postgres"),
      [
        "-D",
        dataDir,
        "-p",
        String(port),
        "-k",
        dir, // the Unix socket goes next to the data, not to /var/run/postgresql
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
      ],
      { ready: /database system is ready to accept connections/, timeoutMs, env, signal: "SIGINT", ...ids },
    );
    return {
      port,
      config: { host: "127.0.0.1", port, user: "postgres", database: "postgres" },
      async stop() {
        await proc.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (proc) await proc.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (err.stderr) err.message += "\n" + err.stderr;
    throw err;
  }
}

module.exports = { startPostgres, postgresBinDir, missingPostgres };
