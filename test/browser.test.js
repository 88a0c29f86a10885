"use strict";

// The browser client, as served by the server itself (/socket.io/socket.io.js and
// the ESM bundle), in headless Chromium: polling then upgrade, acks, binary both
// ways and a broadcast between two pages. .ci/run installs Chromium, and under CI
// a missing browser fails the suite; elsewhere it is skipped without one.
const expect = require("expect.js");
const fs = require("fs");
const http = require("http");
const { Server } = require("./support/impl").sio();

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const enabled = fs.existsSync(CHROMIUM) || process.env.CI === "true";

const PAGE = `<!doctype html>
<html><body>
<script src="/socket.io/socket.io.js"></script>
<script>
  window.results = { events: [] };
  const socket = io({ auth: { page: location.hash.slice(1) } });
  socket.on("connect", () => {
    window.results.connected = socket.connected;
    socket.emit("hello", "from the browser", (answer) => {
      window.results.ack = answer;
    });
    socket.emit("bytes", new Uint8Array([1, 2, 3]).buffer);
  });
  socket.on("bytes", (buf) => {
    window.results.bytes = Array.from(new Uint8Array(buf));
  });
  socket.on("news", (text) => window.results.events.push(text));
  socket.io.engine.on("upgrade", (transport) => {
    window.results.transport = transport.name;
  });
</script>
</body></html>`;

const ESM_PAGE = `<!doctype html>
<html><body>
<script type="module">
  import { io } from "/socket.io/socket.io.esm.min.js";
  const socket = io({ transports: ["websocket"] });
  socket.on("connect", () => {
    socket.emit("hello", "from a module", (answer) => {
      window.esmResult = answer;
    });
  });
</script>
</body></html>`;

(enabled ? describe : describe.skip)("browser client (headless Chromium)", function () {
  this.timeout(30000);
  let browser;
  let httpServer;
  let io;
  let url;

  before(async () => {
    const { chromium } = require("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    if (browser) await browser.close();
  });

  beforeEach((done) => {
    httpServer = http.createServer((req, res) => {
      const page = req.url.startsWith("/esm") ? ESM_PAGE : PAGE;
      res.writeHead(200, { "content-type": "text/html" });
      res.end(page);
    });
    io = new Server(httpServer);
    io.on("connection", (socket) => {
      socket.on("hello", (text, ack) => ack(`server got "${text}"`));
      socket.on("bytes", (buf) => {
        socket.emit("bytes", Buffer.from(buf.map((b) => b * 2)));
      });
    });
    httpServer.listen(0, "127.0.0.1", () => {
      url = `http://127.0.0.1:${httpServer.address().port}`;
      done();
    });
  });

  afterEach((done) => {
    io.close(() => done());
  });

  async function results(page, predicate) {
    await page.waitForFunction(predicate, null, { timeout: 10000 });
    return page.evaluate(() => window.results);
  }

  it("connects, upgrades to WebSocket, and exchanges acks and binary", async () => {
    const page = await browser.newPage();
    await page.goto(url + "/#one");
    const r = await results(
      page,
      () => window.results.ack && window.results.bytes && window.results.transport,
    );
    expect(r.connected).to.be(true);
    expect(r.ack).to.be('server got "from the browser"');
    expect(r.bytes).to.eql([2, 4, 6]);
    expect(r.transport).to.be("websocket");
    const [socket] = await io.fetchSockets();
    expect(socket.handshake.auth).to.eql({ page: "one" });
    await page.close();
  });

  it("delivers a broadcast to every page", async () => {
    const pages = [await browser.newPage(), await browser.newPage()];
    await Promise.all(pages.map((p, i) => p.goto(`${url}/#p${i}`)));
    await Promise.all(pages.map((p) => results(p, () => window.results.connected)));
    io.emit("news", "to everyone");
    for (const page of pages) {
      const r = await results(page, () => window.results.events.length > 0);
      expect(r.events).to.eql(["to everyone"]);
      await page.close();
    }
  });

  it("works with the ESM bundle served by the server", async () => {
    const page = await browser.newPage();
    await page.goto(url + "/esm");
    await page.waitForFunction(() => window.esmResult, null, { timeout: 10000 });
    expect(await page.evaluate(() => window.esmResult)).to.be('server got "from a module"');
    await page.close();
  });
});
