"use strict";

// Packages such as fastify-socket.io and @nestjs/platform-socket.io do
// `require("socket.io")` themselves. A user makes that resolve to this package with
// npm `overrides` (README, "Installing it in place of socket.io"; the recipe is tested
// by test/install.test.js). In this repository node_modules/socket.io is the
// registry's copy that the dev dependencies pulled in, so for the suites that run
// those packages, `require("socket.io")` is redirected, in this process, to the
// implementation under test: our dist/, or the reference with REFERENCE=1.
const Module = require("module");
const path = require("path");
const impl = require("../../support/impl");

const target = impl.REFERENCE
  ? require.resolve("socket.io-reference")
  : require.resolve(path.join(__dirname, "..", "..", "..", "dist"));

/**
 * From now on, `require("socket.io")` anywhere in this process loads the implementation
 * under test (the very module `impl.sio()` returns). Returns the function that undoes it;
 * modules already loaded keep what they got.
 * @example
 *   const restore = useImplAsSocketIo();
 *   const fastifySocketIo = require("fastify-socket.io");
 *   restore();
 */
function useImplAsSocketIo() {
  const original = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === "socket.io" ? target : original.call(this, request, ...rest);
  };
  return () => {
    Module._resolveFilename = original;
  };
}

module.exports = { useImplAsSocketIo };
