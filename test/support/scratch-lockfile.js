"use strict";

// The package-lock.json of a scratch app whose dependencies are some of this
// repository's own (dev) dependencies plus this package's tarball: every entry is
// copied from our package-lock.json, whose tarballs `npm ci` has put in the npm
// cache. With it, `npm install --offline` needs neither the network nor cached
// registry metadata, which `npm ci` does not store.
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.join(__dirname, "..", "..");

// Where Node (and npm's tree) finds `name` from the package installed at `location`:
// its own node_modules, then each enclosing one, up to the root's.
function resolveLocation(packages, location, name) {
  let base = location;
  for (;;) {
    const candidate = (base ? base + "/" : "") + "node_modules/" + name;
    if (packages[candidate]) return candidate;
    if (!base) return null;
    const cut = base.lastIndexOf("/node_modules/");
    base = cut === -1 ? "" : base.slice(0, cut);
  }
}

// Dependencies and required (non-optional) peer dependencies of a lockfile entry
function requiredNames(entry) {
  const names = Object.keys(entry.dependencies || {});
  const optionalPeers = entry.peerDependenciesMeta || {};
  for (const peer of Object.keys(entry.peerDependencies || {})) {
    if (!(optionalPeers[peer] && optionalPeers[peer].optional)) names.push(peer);
  }
  return names;
}

/**
 * Builds the lockfile of an app depending on `ours` (the package.json of this package,
 * installed from `tarballSpec`) and on `dependencies` (name -> range, each one of our
 * locked packages). `socket.io` is ours wherever it is required, which is what the
 * app's `overrides` make npm accept: without them, a package that depends on another
 * socket.io version makes npm look for it, and --offline fails.
 * @example
 *   const lock = scratchLockfile({ ours, tarballSpec: "file:../socket.io-4.8.0.tgz",
 *     tarballPath, dependencies: { "@socket.io/admin-ui": "^0.5.1" } });
 */
function scratchLockfile({ ours, tarballSpec, tarballPath, name, dependencies }) {
  const source = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")).packages;
  const integrity =
    "sha512-" + crypto.createHash("sha512").update(fs.readFileSync(tarballPath)).digest("base64");
  const packages = {
    "": { name, version: "1.0.0", dependencies: { ...dependencies, "socket.io": tarballSpec } },
    "node_modules/socket.io": {
      version: ours.version,
      resolved: tarballSpec,
      integrity,
      license: ours.license,
      dependencies: ours.dependencies,
      engines: ours.engines,
    },
  };
  // our own dependencies are the root's in our lockfile
  const queue = Object.keys(ours.dependencies).map((dep) => ["", dep]);
  queue.push(...Object.keys(dependencies).map((dep) => ["", dep]));
  while (queue.length > 0) {
    const [from, dep] = queue.shift();
    if (dep === "socket.io") continue;
    const location = resolveLocation(source, from, dep);
    if (!location) throw new Error("not in package-lock.json: " + dep + " (required from '" + from + "')");
    if (packages[location]) continue;
    const { dev, devOptional, peer, optional, ...entry } = source[location];
    packages[location] = entry;
    for (const next of requiredNames(entry)) queue.push([location, next]);
  }
  return { name, version: "1.0.0", lockfileVersion: 3, requires: true, packages };
}

module.exports = { scratchLockfile };
