"use strict";

// The reference server ships the browser bundles inside its package so that an
// installed copy serves them without socket.io-client. We do the same: the bundles
// are copied from the dev dependency at build time into client-dist/.
const fs = require("fs");
const path = require("path");

const FILES = [
  "socket.io.js",
  "socket.io.js.map",
  "socket.io.min.js",
  "socket.io.min.js.map",
  "socket.io.esm.min.js",
  "socket.io.esm.min.js.map",
  "socket.io.msgpack.min.js",
  "socket.io.msgpack.min.js.map",
];

let source;
try {
  source = path.dirname(require.resolve("socket.io-client/dist/socket.io.js"));
} catch (e) {
  console.warn("copy-client: socket.io-client is not installed, client-dist/ left as is");
  process.exit(0);
}

const target = path.join(__dirname, "..", "client-dist");
fs.mkdirSync(target, { recursive: true });
for (const file of FILES) {
  fs.copyFileSync(path.join(source, file), path.join(target, file));
}
