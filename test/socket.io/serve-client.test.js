"use strict";

const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const http = require("http");
const expect = require("expect.js");
const { Server, useHarness, request, waitFor } = require("./support/util");

const CLIENT_DIST = path.dirname(require.resolve("socket.io-client/dist/socket.io.js"));
const JS = "application/javascript; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

const FILES = [
  ["socket.io.js", JS],
  ["socket.io.js.map", JSON_TYPE],
  ["socket.io.min.js", JS],
  ["socket.io.min.js.map", JSON_TYPE],
  ["socket.io.esm.min.js", JS],
  ["socket.io.esm.min.js.map", JSON_TYPE],
  ["socket.io.msgpack.min.js", JS],
  ["socket.io.msgpack.min.js.map", JSON_TYPE],
];

describe("serving the client bundles", () => {
  const h = useHarness();

  for (const [file, type] of FILES) {
    it(`serves /socket.io/${file} as ${type.split(";")[0]}`, async () => {
      await h.server();
      const res = await request(h.port, { path: `/socket.io/${file}` });
      expect(res.status).to.be(200);
      expect(res.headers["content-type"]).to.be(type);
      expect(res.headers["cache-control"]).to.be("public, max-age=0");
      expect(res.headers.etag).to.match(/^"\d+\.\d+\.\d+.*"$/);
      // the very bundle socket.io-client ships
      expect(res.body.equals(fs.readFileSync(path.join(CLIENT_DIST, file)))).to.be(true);
    });
  }

  it("ignores a query string", async () => {
    await h.server();
    const res = await request(h.port, { path: "/socket.io/socket.io.min.js?v=123" });
    expect(res.status).to.be(200);
    expect(res.headers["content-type"]).to.be(JS);
  });

  it("answers 304 to a matching If-None-Match (strong or weak), 200 otherwise", async () => {
    await h.server();
    const first = await request(h.port, { path: "/socket.io/socket.io.js" });
    const etag = first.headers.etag;

    let res = await request(h.port, {
      path: "/socket.io/socket.io.js",
      headers: { "If-None-Match": etag },
    });
    expect(res.status).to.be(304);
    expect(res.body.length).to.be(0);

    res = await request(h.port, {
      path: "/socket.io/socket.io.min.js",
      headers: { "If-None-Match": `W/${etag}` },
    });
    expect(res.status).to.be(304);

    res = await request(h.port, {
      path: "/socket.io/socket.io.js",
      headers: { "If-None-Match": '"0.0.0-other"' },
    });
    expect(res.status).to.be(200);
    expect(res.body.length).to.be(first.body.length);
  });

  for (const [encoding, decode] of [
    ["gzip", zlib.gunzipSync],
    ["deflate", zlib.inflateSync],
    ["br", zlib.brotliDecompressSync],
  ]) {
    it(`compresses with ${encoding} when the client accepts it`, async () => {
      await h.server();
      const res = await request(h.port, {
        path: "/socket.io/socket.io.js",
        headers: { "Accept-Encoding": encoding },
      });
      expect(res.status).to.be(200);
      expect(res.headers["content-encoding"]).to.be(encoding);
      expect(res.headers["content-type"]).to.be(JS);
      const original = fs.readFileSync(path.join(CLIENT_DIST, "socket.io.js"));
      expect(res.body.length).to.be.lessThan(original.length);
      expect(decode(res.body).equals(original)).to.be(true);
    });
  }

  it("does not compress without Accept-Encoding", async () => {
    await h.server();
    const res = await request(h.port, { path: "/socket.io/socket.io.js" });
    expect(res.headers["content-encoding"]).to.be(undefined);
  });

  it("does not serve unknown files under the path", async () => {
    await h.server();
    for (const file of ["foo.js", "socket.io.jsx", "socket.io.min.map", "../package.json", "client.js"]) {
      const res = await request(h.port, { path: `/socket.io/${file}` });
      expect(res.status).to.be(400);
      expect(res.headers["content-type"]).not.to.contain("javascript");
    }
  });

  it("leaves names that are no bundle (socket.io.esm.js...) to the engine: 400, unknown transport", async () => {
    await h.server();
    for (const file of [
      "socket.io.esm.js",
      "socket.io.msgpack.js",
      "socket.io.esm.js.map",
      "socket.io.msgpack.js.map",
    ]) {
      const res = await request(h.port, { path: `/socket.io/${file}` });
      expect(res.status).to.be(400);
      expect(JSON.parse(res.body.toString())).to.eql({ code: 0, message: "Transport unknown" });
    }
  });

  it("carries the CORS headers of the cors option, preflight included", async () => {
    await h.server({ cors: { origin: "https://example.com", credentials: true } });
    const origin = { Origin: "https://example.com" };
    const res = await request(h.port, { path: "/socket.io/socket.io.min.js", headers: origin });
    expect(res.status).to.be(200);
    expect(res.headers["content-type"]).to.be(JS);
    expect(res.headers["access-control-allow-origin"]).to.be("https://example.com");
    expect(res.headers["access-control-allow-credentials"]).to.be("true");
    expect(res.headers.vary).to.be("Origin");

    const preflight = await request(h.port, {
      method: "OPTIONS",
      path: "/socket.io/socket.io.esm.min.js",
      headers: { ...origin, "Access-Control-Request-Method": "GET" },
    });
    expect(preflight.status).to.be(204);
    expect(preflight.headers["access-control-allow-origin"]).to.be("https://example.com");
    expect(preflight.headers["access-control-allow-methods"]).to.contain("GET");
    expect(preflight.body.length).to.be(0);

    // the bundle behind the headers is unchanged
    const plain = await request(h.port, { path: "/socket.io/socket.io.min.js" });
    expect(plain.body.equals(res.body)).to.be(true);
  });

  it("sends no CORS headers with the bundle without the cors option", async () => {
    await h.server();
    const res = await request(h.port, {
      path: "/socket.io/socket.io.min.js",
      headers: { Origin: "https://example.com" },
    });
    expect(res.status).to.be(200);
    expect(res.headers["access-control-allow-origin"]).to.be(undefined);
  });

  it("serveClient: false turns the bundles off", async () => {
    await h.server({ serveClient: false });
    const res = await request(h.port, { path: "/socket.io/socket.io.js" });
    expect(res.status).to.be(400);
    expect(JSON.parse(res.body.toString())).to.eql({ code: 0, message: "Transport unknown" });
  });

  it("io.serveClient(false) before attach turns the bundles off", async () => {
    const io = h.track(new Server());
    io.serveClient(false);
    const httpServer = http.createServer();
    io.attach(httpServer);
    await h.listen(httpServer);
    const res = await request(h.port, { path: "/socket.io/socket.io.js" });
    expect(res.status).to.be(400);
  });

  it("follows a custom path", async () => {
    const httpServer = http.createServer((req, res) => {
      res.writeHead(404);
      res.end();
    });
    await h.server({ path: "/my-path" }, httpServer);
    const res = await request(h.port, { path: "/my-path/socket.io.js" });
    expect(res.status).to.be(200);
    expect(res.headers["content-type"]).to.be(JS);
    const old = await request(h.port, { path: "/socket.io/socket.io.js" });
    expect(old.status).to.be(404);
  });

  it("is served by a standalone server too", async () => {
    const io = h.track(new Server(0));
    if (!io.httpServer.listening) await waitFor(io.httpServer, "listening");
    const res = await request(io.httpServer.address().port, { path: "/socket.io/socket.io.js" });
    expect(res.status).to.be(200);
  });

  it("leaves other URLs to the application's handler", async () => {
    const httpServer = http.createServer((req, res) => {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("app 404");
    });
    await h.server({}, httpServer);
    const res = await request(h.port, { path: "/socket.io.js" });
    expect(res.status).to.be(404);
    expect(res.body.toString()).to.be("app 404");
  });
});
