"use strict";

// The chat demo (npm start) driven as its page would: real HTTP requests and real
// socket.io-client connections against the demo server on an ephemeral port.
const http = require("http");
const path = require("path");
const expect = require("expect.js");
const { io: connect } = require("socket.io-client");
const startDemo = require("../demo");
const { sio, REFERENCE } = require("./support/impl");
const { startProcess } = require("./ecosystem/support/processes");
const { waitFor: until } = require("./ecosystem/support/peers");

/** Resolves with the arguments of the first `event` whose arguments satisfy `accept`. */
function waitFor(socket, event, accept = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no matching "${event}" event`));
    }, 3000);
    function listener(...args) {
      if (!accept(...args)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(args);
    }
    socket.on(event, listener);
  });
}

function get(port, path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "localhost", port, path }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode, type: res.headers["content-type"], body }));
      })
      .on("error", reject);
  });
}

describe("chat demo", () => {
  let demo;
  let clients;

  beforeEach(async () => {
    demo = await startDemo({ port: 0, Server: sio().Server });
    clients = [];
  });

  afterEach(async () => {
    clients.forEach((client) => client.close());
    await demo.close();
  });

  function user(nickname) {
    const client = connect(`http://localhost:${demo.port}`, {
      auth: nickname === undefined ? {} : { nickname },
      transports: ["websocket"],
      reconnection: false,
    });
    clients.push(client);
    return client;
  }

  /** Connects and joins `room`; resolves once the user sees themself in the room's user list. */
  async function joined(nickname, room) {
    const client = user(nickname);
    const [rooms] = await waitFor(client, "rooms");
    expect(rooms).to.eql(["general", "random", "help"]);
    const listed = waitFor(client, "users", (r, nicknames) => r === room && nicknames.includes(nickname));
    const res = await client.timeout(2000).emitWithAck("join", room);
    expect(res).to.eql({ ok: true, room });
    await listed;
    return client;
  }

  const usersOf = (room, expected) => (r, nicknames) => r === room && nicknames.join() === expected.join();

  it("serves the page, its script and the browser client", async () => {
    const page = await get(demo.port, "/");
    expect(page.status).to.be(200);
    expect(page.type).to.contain("text/html");
    expect(page.body).to.contain('<script src="/socket.io/socket.io.js"></script>');

    const script = await get(demo.port, "/chat.js");
    expect(script.status).to.be(200);
    expect(script.body).to.contain("io({ autoConnect: false })");

    const client = await get(demo.port, "/socket.io/socket.io.js");
    expect(client.status).to.be(200);
    expect(client.type).to.contain("javascript");

    expect((await get(demo.port, "/../package.json")).status).to.be(404);
  });

  it("refuses a connection without a nickname", async () => {
    const [err] = await waitFor(user(undefined), "connect_error");
    expect(err.message).to.be("invalid nickname");
    const [err2] = await waitFor(user("   "), "connect_error");
    expect(err2.message).to.be("invalid nickname");
  });

  it("lets two users chat in a room and keeps the user list live", async () => {
    const alice = await joined("alice", "general");

    const aliceSeesBob = waitFor(alice, "users", usersOf("general", ["alice", "bob"]));
    const aliceNotice = waitFor(alice, "notice");
    const bob = await joined("bob", "general");
    await aliceSeesBob;
    expect(await aliceNotice).to.eql(["bob joined #general"]);

    const bobGotOwn = [];
    bob.on("message", (m) => bobGotOwn.push(m));
    const aliceGets = waitFor(alice, "message");
    const ack = await bob.timeout(2000).emitWithAck("message", "  hi alice  ");
    expect(ack.ok).to.be(true);
    const [message] = await aliceGets;
    expect(message).to.eql({ id: ack.id, from: "bob", text: "hi alice", at: ack.at });
    expect(bobGotOwn).to.eql([]);

    const typing = waitFor(alice, "typing");
    bob.emit("typing", true);
    expect(await typing).to.eql([{ nickname: "bob", typing: true }]);

    const aliceAlone = waitFor(alice, "users", usersOf("general", ["alice"]));
    const leftNotice = waitFor(alice, "notice");
    bob.disconnect();
    await aliceAlone;
    expect(await leftNotice).to.eql(["bob left #general"]);
  });

  it("moves a user between rooms", async () => {
    const alice = await joined("alice", "general");
    const aliceSeesBob = waitFor(alice, "users", usersOf("general", ["alice", "bob"]));
    const bob = await joined("bob", "general");
    await aliceSeesBob;

    const aliceAlone = waitFor(alice, "users", usersOf("general", ["alice"]));
    const leftNotice = waitFor(alice, "notice");
    const res = await bob.timeout(2000).emitWithAck("join", "my room");
    expect(res).to.eql({ ok: true, room: "my room" });
    await aliceAlone;
    expect(await leftNotice).to.eql(["bob left #general"]);

    // Messages stay in their room: alice, now alone in #general, hears nothing from bob.
    const heard = [];
    alice.on("message", (m) => heard.push(m));
    await bob.timeout(2000).emitWithAck("message", "anyone here?");
    await alice.timeout(2000).emitWithAck("message", "still here");
    expect(heard).to.eql([]);
  });

  it("answers bad input with an error ack and stays up", async () => {
    const alice = user("alice");
    await waitFor(alice, "connect");
    expect(await alice.timeout(2000).emitWithAck("message", "too early")).to.eql({
      ok: false,
      error: "join a room first",
    });
    expect(await alice.timeout(2000).emitWithAck("join", 42)).to.eql({
      ok: false,
      error: "invalid room name",
    });
    expect(await alice.timeout(2000).emitWithAck("join", "x".repeat(33))).to.eql({
      ok: false,
      error: "invalid room name",
    });
    await alice.timeout(2000).emitWithAck("join", "general");
    expect(await alice.timeout(2000).emitWithAck("message", { text: "object" })).to.eql({
      ok: false,
      error: "empty or too long message",
    });
    // Events without an ack callback must not throw on the server.
    alice.emit("join");
    alice.emit("message", "no ack");
    alice.emit("typing");
    expect(await alice.timeout(2000).emitWithAck("join", "general")).to.eql({ ok: true, room: "general" });
  });
});

describe("chat demo on several processes (npm run demo:cluster)", function () {
  this.timeout(15000);

  let demo, port, clients;

  before(async () => {
    const env = { ...process.env, PORT: "0", WORKERS: "2" };
    if (REFERENCE) env.DEMO_SOCKET_IO = "socket.io-reference";
    demo = await startProcess(process.execPath, [path.join(__dirname, "..", "demo", "cluster.js")], {
      ready: /listening on http:\/\/localhost:\d+ with 2 workers/,
      timeoutMs: 10000,
      env,
    });
    port = Number(/localhost:(\d+)/.exec(demo.output())[1]);
  });

  after(async () => {
    for (const client of clients || []) client.close();
    if (demo) await demo.stop();
  });

  it("serves the page and lets users of different workers chat in one room", async () => {
    const page = await get(port, "/");
    expect(page.status).to.be(200);
    expect(page.body).to.contain('<script src="/socket.io/socket.io.js"></script>');

    // HTTP long-polling first, then the upgrade: every request must reach the user's
    // worker. least-connection gives the second user the other worker.
    const join = async (nickname) => {
      const client = connect(`http://localhost:${port}`, { auth: { nickname }, reconnection: false });
      clients.push(client);
      await waitFor(client, "rooms");
      await client.timeout(2000).emitWithAck("join", "general");
      return client;
    };
    clients = [];
    const alice = await join("alice");
    const aliceSeesBob = waitFor(alice, "users", (room, nicknames) => nicknames.join() === "alice,bob");
    const bob = await join("bob");
    // the user list comes from fetchSockets(), across the workers
    await aliceSeesBob;

    const aliceGets = waitFor(alice, "message");
    const ack = await bob.timeout(2000).emitWithAck("message", "hi from the other worker");
    expect(ack.ok).to.be(true);
    const [message] = await aliceGets;
    expect(message.from).to.be("bob");
    expect(message.text).to.be("hi from the other worker");
    // the upgrade request reached alice's worker too
    await until(() => alice.io.engine.transport.name === "websocket", 3000, "alice's upgrade");
    await until(() => bob.io.engine.transport.name === "websocket", 3000, "bob's upgrade");
  });
});

describe("chat demo on several processes without sticky sessions (FORWARDING=1 npm run demo:cluster)", function () {
  this.timeout(15000);

  let demo, port, clients;

  before(async function () {
    if (REFERENCE) this.skip(); // socket.io 4.8 has no sessionForwarding
    const env = { ...process.env, PORT: "0", WORKERS: "2", FORWARDING: "1" };
    demo = await startProcess(process.execPath, [path.join(__dirname, "..", "demo", "cluster.js")], {
      ready: /listening on http:\/\/localhost:\d+ with 2 workers \(session forwarding/,
      timeoutMs: 10000,
      env,
    });
    port = Number(/localhost:(\d+)/.exec(demo.output())[1]);
  });

  after(async () => {
    for (const client of clients || []) client.close();
    if (demo) await demo.stop();
  });

  it("users of both kinds chat across the workers though each connection may reach either worker", async () => {
    // every request is a new connection (socket.io-client in Node keeps none alive), which
    // the cluster module hands to the next worker: without forwarding, the second request
    // of a session would already fail with "Session ID unknown"
    const errors = [];
    const join = async (nickname, opts) => {
      const client = connect(`http://localhost:${port}`, {
        auth: { nickname },
        reconnection: false,
        ...opts,
      });
      clients.push(client);
      client.on("connect_error", (err) => errors.push(err.message));
      client.on("disconnect", (reason) => errors.push(reason));
      await waitFor(client, "rooms");
      await client.timeout(2000).emitWithAck("join", "general");
      return client;
    };
    clients = [];
    const alice = await join("alice", {});
    const aliceSeesBob = waitFor(alice, "users", (room, nicknames) => nicknames.join() === "alice,bob");
    const bob = await join("bob", { transports: ["polling"] });
    await aliceSeesBob;

    for (let i = 0; i < 10; i++) {
      const aliceGets = waitFor(alice, "message", (m) => m.from === "bob");
      const ack = await bob.timeout(2000).emitWithAck("message", "hi " + i);
      expect(ack.ok).to.be(true);
      const [message] = await aliceGets;
      expect(message.text).to.be("hi " + i);
      const bobGets = waitFor(bob, "message", (m) => m.from === "alice");
      await alice.timeout(2000).emitWithAck("message", "hello " + i);
      await bobGets;
    }
    // alice's upgrade went to her worker, through whichever worker took it
    await until(() => alice.io.engine.transport.name === "websocket", 3000, "alice's upgrade");
    expect(bob.io.engine.transport.name).to.be("polling");
    expect(errors).to.eql([]);
  });
});
