"use strict";

// Server lifecycles of the tests: listening on an ephemeral port, and closing with a
// deadline (a broken implementation must fail its own test, not hang the afterEach of
// every following one), open connections included.
const { sleep } = require("./wait");

/**
 * Starts `httpServer` on port 0; resolves the port.
 *
 * @example
 * const port = await listen(http.createServer());
 */
async function listen(httpServer) {
  await new Promise((resolve) => httpServer.listen(0, resolve));
  return httpServer.address().port;
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function withDeadline(promise, ms = 2000) {
  return Promise.race([promise, sleep(ms)]);
}

/**
 * Closes an http server and the connections it still holds.
 *
 * @example
 * await closeHttp(httpServer);
 */
async function closeHttp(httpServer) {
  if (typeof httpServer.closeAllConnections === "function") {
    httpServer.closeAllConnections();
  }
  if (httpServer.listening) {
    await withDeadline(new Promise((resolve) => httpServer.close(() => resolve())));
  }
}

/**
 * Closes an engine (socket.io/engine or engine.io) and the http server it listens on.
 *
 * @example
 * await closeEngine(engine);
 */
async function closeEngine(engine) {
  engine.close();
  if (engine.httpServer) await closeHttp(engine.httpServer);
}

module.exports = { listen, withDeadline, closeHttp, closeEngine };
