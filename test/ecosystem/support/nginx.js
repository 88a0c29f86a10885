"use strict";

// A real nginx owned by the test run, in front of several Socket.IO nodes: the
// configuration is generated into a temporary directory (the README's "Scaling to
// several nodes" shows the same proxy settings), nginx runs in the foreground on free
// loopback ports, and everything is removed on stop.
const fs = require("fs");
const os = require("os");
const path = require("path");
const { hasCommand, freePort, startProcess } = require("./processes");

/**
 * The nginx executable: $NGINX_BIN, nginx on the PATH, or Debian's /usr/sbin/nginx
 * (not on a regular user's PATH). Null when there is none.
 * @example const bin = nginxBinary();
 */
function nginxBinary() {
  for (const candidate of [process.env.NGINX_BIN, "nginx", "/usr/sbin/nginx"]) {
    if (candidate && hasCommand(candidate, ["-v"])) return candidate;
  }
  return null;
}

/** The error a suite throws when the machine has no nginx, naming the fix. */
function missingNginx() {
  return new Error("nginx is not installed: apt-get install -y nginx (see .ci/run)");
}

/**
 * The `upstream` and `server` blocks for one front port: `balance` is the upstream's
 * load-balancing directive ("" for round-robin, e.g. "ip_hash;" for sticky sessions),
 * `serverParams` follow each upstream server (e.g. "max_fails=0"), `location` adds
 * directives to the proxied location (e.g. "proxy_next_upstream error timeout http_503;").
 * @example proxyBlocks({ name: "sticky", port: 8080, nodes: [3001, 3002], balance: "ip_hash;" })
 */
function proxyBlocks({ name, port, nodes, balance = "", serverParams = "", location = "" }) {
  return `
  upstream ${name} {
    ${balance}
${nodes.map((p) => `    server 127.0.0.1:${p} ${serverParams};`).join("\n")}
  }

  server {
    listen 127.0.0.1:${port};

    location /socket.io/ {
      proxy_pass http://${name};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      ${location}
    }
  }
`;
}

/**
 * Starts nginx with one front port per entry of `fronts` ({ name, nodes, balance }),
 * and resolves once its worker runs. `ports[name]` is each front's port. A proxied
 * connection takes two of the `workerConnections` (client and upstream).
 * @example
 *   const lb = await startNginx([{ name: "sticky", nodes: [3001, 3002], balance: "hash $arg_sticky consistent;" }]);
 *   ioc("http://127.0.0.1:" + lb.ports.sticky);
 *   await lb.stop();
 */
async function startNginx(fronts, { timeoutMs = 5000, workerConnections = 1024 } = {}) {
  const bin = nginxBinary();
  if (!bin) throw missingNginx();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-nginx-"));
  const ports = {};
  for (const front of fronts) ports[front.name] = await freePort();
  const temp = (what) => `${what}_temp_path ${path.join(dir, what)};`;
  const config = `
worker_processes 1;
daemon off;
pid ${path.join(dir, "nginx.pid")};
error_log stderr notice;

events {
  worker_connections ${workerConnections};
}

http {
  access_log off;
  ${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(temp).join("\n  ")}

  # a WebSocket upgrade request keeps its Upgrade/Connection headers through the proxy
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
${fronts.map((front) => proxyBlocks({ ...front, port: ports[front.name] })).join("")}
}
`;
  fs.writeFileSync(path.join(dir, "nginx.conf"), config);
  let proc;
  try {
    // -e: no attempt at the default error log (/var/log/nginx), which a regular user cannot open
    proc = await startProcess(bin, ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", "stderr"], {
      ready: /start worker process/,
      timeoutMs,
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ports,
    config,
    output: proc.output,
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startNginx, nginxBinary, missingNginx };
