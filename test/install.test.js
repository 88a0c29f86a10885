"use strict";

// The README's recipe for putting this package in place of socket.io in an existing
// app: the tarball of `npm pack` as the app's socket.io, and npm `overrides` so that
// every package requiring socket.io gets it too. The test packs this package,
// installs it in a scratch app next to ecosystem packages that peer-depend on
// socket.io (@socket.io/admin-ui, fastify-socket.io) or depend on an exact other
// version of it (@nestjs/platform-socket.io: "4.8.3"), and checks from inside each
// of them which socket.io Node resolves.
//
// No network: the scratch app's lockfile is derived from ours (see
// support/scratch-lockfile.js) and npm installs with --offline from its cache.
const { execFile } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { promisify } = require("util");
const expect = require("expect.js");
const { scratchLockfile } = require("./support/scratch-lockfile");

const run = promisify(execFile);
const ROOT = path.join(__dirname, "..");
const ours = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const ECOSYSTEM = ["@socket.io/admin-ui", "fastify-socket.io", "@nestjs/platform-socket.io"];

// Every installed copy of a package named socket.io under `dir`'s node_modules trees
function socketIoCopies(dir) {
  const found = [];
  (function walk(modules) {
    if (!fs.existsSync(modules)) return;
    for (const entry of fs.readdirSync(modules)) {
      if (entry.startsWith(".")) continue;
      const names = entry.startsWith("@")
        ? fs.readdirSync(path.join(modules, entry)).map((n) => entry + "/" + n)
        : [entry];
      for (const name of names) {
        const pkgDir = path.join(modules, name);
        if (name === "socket.io") found.push(pkgDir);
        walk(path.join(pkgDir, "node_modules"));
      }
    }
  })(path.join(dir, "node_modules"));
  return found;
}

describe("installing the packed package in place of socket.io (npm overrides)", function () {
  this.timeout(60000);

  let tmp, app;

  before(async () => {
    if (!fs.existsSync(path.join(ROOT, "dist", "index.js")))
      throw new Error("dist/ is not built: npm run build");
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sio-install-"));
    // dist/ is built already: no prepare script, nothing but packing
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], {
      cwd: ROOT,
    });
    const tarball = JSON.parse(stdout)[0].filename;

    app = path.join(tmp, "app");
    fs.mkdirSync(app);
    const tarballSpec = "file:../" + tarball;
    const dependencies = Object.fromEntries(ECOSYSTEM.map((name) => [name, ours.devDependencies[name]]));
    // the README's recipe, as a user writes it
    const manifest = {
      name: "existing-app",
      version: "1.0.0",
      private: true,
      dependencies: { ...dependencies, "socket.io": tarballSpec },
      overrides: { "socket.io": "$socket.io" },
    };
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify(manifest, null, 2));
    const lock = scratchLockfile({
      ours,
      tarballSpec,
      tarballPath: path.join(tmp, tarball),
      name: manifest.name,
      dependencies,
    });
    fs.writeFileSync(path.join(app, "package-lock.json"), JSON.stringify(lock, null, 2));
    try {
      await run("npm", ["install", "--offline", "--no-audit", "--no-fund"], { cwd: app });
    } catch (err) {
      if (/ENOTCACHED/.test(err.message)) {
        err.message += "\nThe npm cache lacks a package of our package-lock.json: run `npm ci` first.";
      }
      throw err;
    }
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("installs a single socket.io: this package", () => {
    const copies = socketIoCopies(app);
    expect(copies).to.eql([path.join(app, "node_modules", "socket.io")]);
    const installed = JSON.parse(fs.readFileSync(path.join(copies[0], "package.json"), "utf8"));
    expect(installed.description).to.be(ours.description);
    // only this package ships the Engine.IO server as socket.io/engine
    expect(fs.existsSync(path.join(copies[0], "dist", "engine", "index.js"))).to.be(true);
  });

  it("require('socket.io') from the app and from inside every ecosystem package is this package", async () => {
    const script = `
      const path = require("path");
      const from = (dir) => require.resolve("socket.io", { paths: [dir] });
      const result = { app: from(process.cwd()) };
      for (const name of ${JSON.stringify(ECOSYSTEM)}) {
        result[name] = from(path.dirname(require.resolve(name + "/package.json")));
      }
      console.log(JSON.stringify(result));
    `;
    const { stdout } = await run(process.execPath, ["-e", script], { cwd: app });
    const resolved = JSON.parse(stdout);
    const expected = path.join(fs.realpathSync(app), "node_modules", "socket.io", "dist", "index.js");
    expect(Object.keys(resolved)).to.eql(["app", ...ECOSYSTEM]);
    for (const file of Object.values(resolved)) expect(file).to.be(expected);
  });

  it("the app runs it: CommonJS, ES module, socket.io/engine, and the admin UI instrumenting it", async () => {
    const script = `
      const { Server } = require("socket.io");
      const engine = require("socket.io/engine");
      const { instrument } = require("@socket.io/admin-ui");
      const io = new Server();
      instrument(io, { auth: false, mode: "development" });
      import("socket.io").then((esm) => {
        console.log(JSON.stringify({
          sameClass: esm.Server === Server,
          admin: io._nsps.has("/admin"),
          engineServer: typeof engine.Server,
        }));
        io.close();
      });
    `;
    const { stdout } = await run(process.execPath, ["-e", script], { cwd: app });
    expect(JSON.parse(stdout)).to.eql({ sameClass: true, admin: true, engineServer: "function" });
  });
});
