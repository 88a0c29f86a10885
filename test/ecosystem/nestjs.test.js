"use strict";

// A NestJS 11 application with a WebSocket gateway on @nestjs/platform-socket.io,
// whose IoAdapter does `new Server(...)` from "socket.io": with this package in its
// place, the gateway's handlers, acknowledgements, `@WebSocketServer()` and the
// connection hooks work with real clients, and two applications share their
// broadcasts through the RedisIoAdapter of the NestJS docs (@socket.io/redis-adapter).
//
// The gateway is plain JavaScript: the decorators a TypeScript compiler would apply
// are applied by hand, in the same order.
const expect = require("expect.js");
const impl = require("../support/impl");
const { useImplAsSocketIo } = require("./support/socket-io-module");
const { startRedis, hasRedisServer, missingRedis } = require("./support/redis-server");
const { once, connected, waitFor, record } = require("./support/peers");

// `@decorator method(...)` / `@decorator property` / `@decorator class`, as tsc emits them
function decorateMethod(target, key, ...decorators) {
  const descriptor = Reflect.decorate(decorators, target, key, Object.getOwnPropertyDescriptor(target, key));
  Object.defineProperty(target, key, descriptor);
}

describe(
  "NestJS gateway on @nestjs/platform-socket.io" + (impl.REFERENCE ? " (reference)" : ""),
  function () {
    this.timeout(10000);

    let restore, nest, redis;
    const apps = [];
    const clients = [];

    // Loads NestJS with "socket.io" resolving to the implementation under test, and
    // builds the gateway, the module and the RedisIoAdapter as an app would.
    function loadNest() {
      require("reflect-metadata");
      const { NestFactory } = require("@nestjs/core");
      const { Module } = require("@nestjs/common");
      const ws = require("@nestjs/websockets");
      const { IoAdapter } = require("@nestjs/platform-socket.io");
      const { createClient } = require("redis");
      const { createAdapter } = require("@socket.io/redis-adapter");

      class ChatGateway {
        constructor() {
          this.connections = 0;
        }
        afterInit(server) {
          this.initialized = server;
        }
        handleConnection(client) {
          this.connections++;
          client.emit("welcome", client.id);
        }
        handleDisconnect() {
          this.connections--;
        }
        // the return value is the acknowledgement
        echo(data) {
          return { echoed: data };
        }
        // a WsResponse: Nest emits it to the sender as an event
        ping(data) {
          return { event: "pong", data };
        }
        // to everyone on every node, through the adapter
        say(data, client) {
          this.server.emit("said", { from: client.handshake.auth.name, text: data });
        }
        join(room, client) {
          client.join(room);
          return room;
        }
        toRoom(payload) {
          this.server.to(payload.room).emit("room-message", payload.text);
        }
      }
      const proto = ChatGateway.prototype;
      Reflect.decorate([ws.WebSocketServer()], proto, "server");
      decorateMethod(proto, "echo", ws.SubscribeMessage("echo"));
      ws.MessageBody()(proto, "echo", 0);
      decorateMethod(proto, "ping", ws.SubscribeMessage("ping"));
      ws.MessageBody()(proto, "ping", 0);
      decorateMethod(proto, "say", ws.SubscribeMessage("say"));
      ws.MessageBody()(proto, "say", 0);
      ws.ConnectedSocket()(proto, "say", 1);
      decorateMethod(proto, "join", ws.SubscribeMessage("join"));
      ws.MessageBody()(proto, "join", 0);
      ws.ConnectedSocket()(proto, "join", 1);
      decorateMethod(proto, "toRoom", ws.SubscribeMessage("to-room"));
      ws.MessageBody()(proto, "toRoom", 0);
      const Gateway = Reflect.decorate([ws.WebSocketGateway({ cors: { origin: "*" } })], ChatGateway);

      class AppModule {}
      Reflect.decorate([Module({ providers: [Gateway] })], AppModule);

      // The NestJS docs' RedisIoAdapter (techniques/websockets, "Adapters")
      class RedisIoAdapter extends IoAdapter {
        async connectToRedis(url) {
          this.pub = createClient({ url });
          this.sub = this.pub.duplicate();
          await Promise.all([this.pub.connect(), this.sub.connect()]);
          this.adapterConstructor = createAdapter(this.pub, this.sub);
        }
        createIOServer(port, options) {
          const server = super.createIOServer(port, options);
          server.adapter(this.adapterConstructor);
          return server;
        }
      }

      return { NestFactory, Gateway, AppModule, IoAdapter, RedisIoAdapter };
    }

    async function startApp({ redisUrl } = {}) {
      const app = await nest.NestFactory.create(nest.AppModule, { logger: false });
      let adapter;
      if (redisUrl) {
        adapter = new nest.RedisIoAdapter(app);
        await adapter.connectToRedis(redisUrl);
      } else {
        adapter = new nest.IoAdapter(app);
      }
      app.useWebSocketAdapter(adapter);
      await app.listen(0, "127.0.0.1");
      const entry = { app, adapter, url: "http://127.0.0.1:" + app.getHttpServer().address().port };
      apps.push(entry);
      return entry;
    }

    async function connect(url, name, opts = {}) {
      const { io: ioc } = require("socket.io-client");
      const client = ioc(url, { forceNew: true, reconnection: false, auth: { name }, ...opts });
      clients.push(client);
      const welcome = once(client, "welcome");
      await connected(client);
      await welcome;
      return client;
    }

    before(() => {
      restore = useImplAsSocketIo();
      nest = loadNest();
    });

    after(async () => {
      restore();
      if (redis) await redis.stop();
    });

    afterEach(async () => {
      for (const client of clients.splice(0)) client.disconnect();
      for (const { app, adapter } of apps.splice(0)) {
        await app.close();
        if (adapter.pub) await Promise.allSettled([adapter.pub.quit(), adapter.sub.quit()]);
      }
    });

    it("the gateway gets the implementation's Server and runs its hooks and handlers for real clients", async () => {
      const { app, url } = await startApp();
      const gateway = app.get(nest.Gateway);
      expect(gateway.server).to.be.a(impl.sio().Server);
      expect(gateway.initialized).to.be(gateway.server);

      const polling = await connect(url, "p");
      const websocket = await connect(url, "w", { transports: ["websocket"] });
      expect(gateway.connections).to.be(2);
      await waitFor(() => polling.io.engine.transport.name === "websocket", 3000, "the upgrade");

      expect(await polling.emitWithAck("echo", { n: 1 })).to.eql({ echoed: { n: 1 } });
      expect(await websocket.emitWithAck("echo", "two")).to.eql({ echoed: "two" });

      const pong = once(websocket, "pong");
      websocket.emit("ping", 42);
      expect(await pong).to.eql([42]);

      const said = Promise.all([once(polling, "said"), once(websocket, "said")]);
      polling.emit("say", "hello");
      expect(await said).to.eql([[{ from: "p", text: "hello" }], [{ from: "p", text: "hello" }]]);

      websocket.disconnect();
      await waitFor(() => gateway.connections === 1, 3000, "handleDisconnect");
    });

    it("two applications with the docs' RedisIoAdapter share broadcasts and rooms", async () => {
      if (!hasRedisServer()) throw missingRedis();
      redis = redis || (await startRedis());
      const one = await startApp({ redisUrl: redis.url });
      const two = await startApp({ redisUrl: redis.url });
      for (const { app } of [one, two]) {
        const server = app.get(nest.Gateway).server;
        await waitFor(
          async () => (await server.of("/").adapter.serverCount()) === 2,
          3000,
          "both apps on Redis",
        );
      }

      const a = await connect(one.url, "a");
      const b = await connect(two.url, "b", { transports: ["websocket"] });
      const said = Promise.all([once(a, "said"), once(b, "said")]);
      a.emit("say", "across");
      expect(await said).to.eql([[{ from: "a", text: "across" }], [{ from: "a", text: "across" }]]);

      expect(await b.emitWithAck("join", "team")).to.be("team");
      const recA = record(a);
      const inRoom = once(b, "room-message");
      const control = once(a, "said");
      a.emit("to-room", { room: "team", text: "only b" });
      a.emit("say", "after");
      expect(await inRoom).to.eql(["only b"]);
      await control; // the later broadcast reached a: a room message for a would be there by now
      expect(recA.events()).to.eql(["said"]);
    });
  },
);
