"use strict";

const expect = require("expect.js");
const { forEachTransport, useHarness, waitFor } = require("./support/util");

/** Bytes of any binary value (Buffer, ArrayBuffer, typed array, DataView) as an array. */
function bytes(value) {
  if (value instanceof ArrayBuffer) return [...new Uint8Array(value)];
  if (ArrayBuffer.isView(value)) {
    return [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)];
  }
  throw new Error(`not binary: ${Object.prototype.toString.call(value)}`);
}

const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);

async function pair(h) {
  const io = await h.server();
  const conn = waitFor(io, "connection");
  const client = await h.connect();
  return [io, await conn, client];
}

describe("binary", () => {
  forEachTransport((transports) => {
    const h = useHarness({ transports });

    it("server → client: a Buffer arrives with the same bytes", async () => {
      const [, socket, client] = await pair(h);
      const got = waitFor(client, "bin");
      socket.emit("bin", Buffer.from([0, 1, 2, 255]));
      const data = await got;
      expect(isBinary(data)).to.be(true);
      expect(bytes(data)).to.eql([0, 1, 2, 255]);
    });

    it("client → server: Buffer, ArrayBuffer and typed arrays arrive as Buffers", async () => {
      const [, socket, client] = await pair(h);
      const got = waitFor(socket, "bin");
      const u16 = new Uint16Array([1, 256]);
      client.emit(
        "bin",
        Buffer.from("héllo"),
        new Uint8Array([9, 8, 7]).buffer,
        u16,
        new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 3),
      );
      const [buf, ab, typed, slice] = await got;
      for (const v of [buf, ab, typed, slice]) expect(Buffer.isBuffer(v)).to.be(true);
      expect(buf.toString()).to.be("héllo");
      expect(bytes(ab)).to.eql([9, 8, 7]);
      expect(bytes(typed)).to.eql(bytes(u16));
      expect(bytes(slice)).to.eql([1, 2]);
    });

    it("attachments nested in objects and arrays are reassembled in place", async () => {
      const [, socket, client] = await pair(h);
      const payload = {
        name: "files",
        list: [Buffer.from([1]), { deep: { deeper: [Buffer.from([2, 2])] } }, "text"],
        count: 3,
        nothing: null,
      };
      const got = waitFor(socket, "nested");
      client.emit("nested", payload, Buffer.from([3, 3, 3]), "tail");
      const [obj, third, tail] = await got;
      expect(obj.name).to.be("files");
      expect(obj.count).to.be(3);
      expect(obj.nothing).to.be(null);
      expect(bytes(obj.list[0])).to.eql([1]);
      expect(bytes(obj.list[1].deep.deeper[0])).to.eql([2, 2]);
      expect(obj.list[2]).to.be("text");
      expect(bytes(third)).to.eql([3, 3, 3]);
      expect(tail).to.be("tail");

      const back = waitFor(client, "nested");
      socket.emit("nested", obj);
      const echoed = await back;
      expect(bytes(echoed.list[1].deep.deeper[0])).to.eql([2, 2]);
      expect(bytes(echoed.list[0])).to.eql([1]);
    });

    it("an object that only looks like a placeholder is not replaced", async () => {
      const [, socket, client] = await pair(h);
      const got = waitFor(socket, "fake");
      client.emit("fake", { _placeholder: true, num: 0 });
      expect(await got).to.eql({ _placeholder: true, num: 0 });
    });

    it("binary in acknowledgements, both directions", async () => {
      const [, socket, client] = await pair(h);
      socket.on("get-file", (name, cb) => cb({ name, content: Buffer.from([4, 5, 6]) }));
      const res = await client.timeout(2000).emitWithAck("get-file", "a.bin");
      expect(res.name).to.be("a.bin");
      expect(bytes(res.content)).to.eql([4, 5, 6]);

      client.on("upload", (cb) => cb(Buffer.from([7, 8])));
      const up = await socket.timeout(2000).emitWithAck("upload");
      expect(Buffer.isBuffer(up)).to.be(true);
      expect(bytes(up)).to.eql([7, 8]);
    });

    it("an empty Buffer and a large one survive the trip", async () => {
      const [, socket, client] = await pair(h);
      const large = Buffer.alloc(200 * 1024);
      for (let i = 0; i < large.length; i++) large[i] = i % 251;
      const got = waitFor(socket, "sizes");
      client.emit("sizes", Buffer.alloc(0), large);
      const [empty, big] = await got;
      expect(empty.length).to.be(0);
      expect(big.length).to.be(large.length);
      expect(Buffer.compare(big, large)).to.be(0);
    });

    it("text and binary events keep their order", async () => {
      const [, socket, client] = await pair(h);
      const order = [];
      const done = new Promise((resolve) =>
        socket.on("seq", (i, data) => {
          order.push([i, data === undefined ? null : bytes(data)]);
          if (order.length === 4) resolve();
        }),
      );
      client.emit("seq", 0);
      client.emit("seq", 1, Buffer.from([1]));
      client.emit("seq", 2);
      client.emit("seq", 3, Buffer.from([3]));
      await done;
      expect(order).to.eql([
        [0, null],
        [1, [1]],
        [2, null],
        [3, [3]],
      ]);
    });

    it("several binary events in a row to a namespace", async () => {
      const io = await h.server();
      const conn = waitFor(io.of("/files"), "connection");
      const client = await h.connect("/files");
      const socket = await conn;
      const got = [];
      const done = new Promise((resolve) =>
        client.on("chunk", (i, data) => {
          got.push([i, bytes(data)]);
          if (got.length === 3) resolve();
        }),
      );
      for (let i = 0; i < 3; i++) socket.emit("chunk", i, Buffer.from([i, i]));
      await done;
      expect(got).to.eql([
        [0, [0, 0]],
        [1, [1, 1]],
        [2, [2, 2]],
      ]);
    });
  });
});
