"use strict";

// A real Prometheus server owned by the test run: a generated configuration scraping the
// given targets at a short interval, its data in a temporary directory, listening on a
// free loopback port, and everything removed on stop.
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { hasCommand, freePort, startProcess } = require("./processes");

/**
 * The prometheus executable: $PROMETHEUS_BIN or prometheus on the PATH. Null when there is none.
 * @example const bin = prometheusBinary();
 */
function prometheusBinary() {
  for (const candidate of [process.env.PROMETHEUS_BIN, "prometheus"]) {
    if (candidate && hasCommand(candidate, ["--version"])) return candidate;
  }
  return null;
}

/** The error a suite throws when the machine has no prometheus, naming the fix. */
function missingPrometheus() {
  return new Error("prometheus is not installed: apt-get install -y prometheus (see .ci/run)");
}

/** GETs `url` and resolves its JSON body. */
function getJson(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch (err) {
            reject(new Error(`${url}: HTTP ${res.statusCode}, not JSON: ${err.message}`));
          }
        });
      })
      .on("error", reject);
  });
}

/**
 * Starts Prometheus scraping `targets` ("127.0.0.1:port", path /metrics) every
 * `scrapeInterval`, and resolves once it serves queries.
 * @example
 *   const prom = await startPrometheus({ targets: ["127.0.0.1:3000"], scrapeInterval: "200ms" });
 *   const [{ metric, value }] = await prom.query("up");
 *   await prom.stop();
 */
async function startPrometheus({ targets, scrapeInterval = "200ms", timeoutMs = 15000 }) {
  const bin = prometheusBinary();
  if (!bin) throw missingPrometheus();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-prometheus-"));
  const port = await freePort();
  const config = `
global:
  scrape_interval: ${scrapeInterval}
  scrape_timeout: ${scrapeInterval}
scrape_configs:
  - job_name: socketio
    metrics_path: /metrics
    static_configs:
      - targets: ${JSON.stringify(targets)}
`;
  fs.writeFileSync(path.join(dir, "prometheus.yml"), config);
  let proc;
  try {
    proc = await startProcess(
      bin,
      [
        "--config.file=" + path.join(dir, "prometheus.yml"),
        "--storage.tsdb.path=" + path.join(dir, "data"),
        "--web.listen-address=127.0.0.1:" + port,
      ],
      { ready: /Server is ready to receive web requests/, timeoutMs },
    );
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = "http://127.0.0.1:" + port;
  const api = async (what, params) => {
    const body = await getJson(`${url}/api/v1/${what}?${new URLSearchParams(params)}`);
    if (body.status !== "success")
      throw new Error(`${what} ${JSON.stringify(params)}: ${JSON.stringify(body)}`);
    return body.data;
  };
  return {
    url,
    config,
    output: proc.output,
    /** The instant vector of `expr` now: [{ metric: { labels }, value: [time, "value"] }]. */
    query: async (expr) => (await api("query", { query: expr })).result,
    /** The scrape targets and their health, as /api/v1/targets lists them. */
    targets: async () => (await api("targets", {})).activeTargets,
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startPrometheus, prometheusBinary, missingPrometheus };
