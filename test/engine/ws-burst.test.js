"use strict";

// Bursts of packets over the WebSocket transport: packets sent while a write is in flight
// are buffered and leave together, which must keep every packet, their order, the send
// callbacks and the "drain" events exactly as one write per packet would.
const expect = require("expect.js");
const { until } = require("../support/wait");
const WebSocket = require("ws");
const { Socket: ClientSocket } = require("engine.io-client");
const { useEngine } = require("./support/engine-harness");

const TEXT_FRAME = { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false };

describe("engine WebSocket bursts", () => {
  const h = useEngine(ClientSocket);

  beforeEach(() => h.start());

  const connect = () => h.connect({ transports: ["websocket"] });

  function collect(client, count) {
    return new Promise((resolve) => {
      const items = [];
      client.on("message", function onItem(item) {
        items.push(typeof item === "string" ? item : Buffer.from(item).toString("hex"));
        if (items.length === count) {
          client.removeListener("message", onItem);
          resolve(items);
        }
      });
    });
  }

  it("delivers a synchronous burst in order and runs every send callback in order", async () => {
    const { client, socket } = await connect();
    const count = 500;
    const got = collect(client, count);
    const flushed = [];
    for (let i = 0; i < count; i++) socket.send(`m${i}`, () => flushed.push(i));
    const expected = Array.from({ length: count }, (_, i) => `m${i}`);
    expect(await got).to.eql(expected);
    await until(() => flushed.length === count, "every send callback");
    expect(flushed).to.eql(expected.map((_, i) => i));
  });

  it("keeps the order of pre-encoded frames, plain text and binary packets mixed in one burst", async () => {
    const { client, socket } = await connect();
    const got = collect(client, 6);
    const twoBuffers = WebSocket.Sender.frame(Buffer.from("4frame-a"), TEXT_FRAME);
    const oneBuffer = [Buffer.concat(WebSocket.Sender.frame(Buffer.from("4frame-b"), TEXT_FRAME))];
    socket.send("first");
    socket.write("ignored", { wsPreEncodedFrame: twoBuffers });
    socket.send(Buffer.from([1, 2, 3]));
    socket.write("ignored", { wsPreEncodedFrame: oneBuffer });
    socket.send("plain", { compress: false });
    socket.send("last");
    expect(await got).to.eql(["first", "frame-a", "010203", "frame-b", "plain", "last"]);
  });

  it("emits 'drain' once the buffered packets are handed to the transport, then flushes new ones", async () => {
    const { client, socket } = await connect();
    let drains = 0;
    socket.on("drain", () => drains++);
    const got = collect(client, 4);
    socket.send("a");
    socket.send("b");
    socket.send("c");
    await until(() => drains > 0 && socket.transport.writable, "the burst is flushed");
    expect(drains).to.be.greaterThan(0);
    expect(socket.transport.writable).to.be(true);
    socket.send("d");
    expect(await got).to.eql(["a", "b", "c", "d"]);
  });

  it("closes after delivering the packets buffered before close()", async () => {
    const { client, socket } = await connect();
    const got = collect(client, 3);
    const closed = new Promise((r) => client.once("close", r));
    socket.send("x");
    socket.send("y");
    socket.send("z");
    socket.close();
    expect(await got).to.eql(["x", "y", "z"]);
    await closed;
  });
});
