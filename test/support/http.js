"use strict";

// Raw HTTP requests of the tests (the engine's polling, the client bundle, refused
// handshakes...): one connection per request, no agent, so that no connection of a
// test outlives it.
const http = require("http");

/**
 * Resolves { status, headers, body } once the response is complete: `body` is a Buffer,
 * or a string with `encoding` (e.g. "utf8"); `host` "localhost" unless given ("127.0.0.1",
 * "::1"...).
 *
 * @example
 * const res = await request(port, { path: "/engine.io/?EIO=4&transport=polling" });
 * const res = await request(port, { method: "POST", path, body: "4hello", encoding: "utf8" });
 */
function request(
  port,
  { host = "localhost", method = "GET", path = "/", headers = {}, body, encoding } = {},
) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: encoding ? bytes.toString(encoding) : bytes,
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Like {@link request}, the body as a UTF-8 string.
 *
 * @example
 * expect((await requestText(port, { path })).body).to.be("ok");
 */
function requestText(port, options = {}) {
  return request(port, { ...options, encoding: "utf8" });
}

module.exports = { request, requestText };
