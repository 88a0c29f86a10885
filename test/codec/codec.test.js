"use strict";

// Socket.IO v5 packet codec. The real socket.io-parser (the one socket.io-client uses)
// serves as the test peer for the cross-checks. With REFERENCE=1 the implementation
// under test is socket.io-parser itself; tests asserting stricter-than-reference
// behaviour are marked `strict` and skipped in that mode.
const path = require("path");
const expect = require("expect.js");
const { REFERENCE } = require("../support/impl");

const peer = require("socket.io-parser");
const impl = REFERENCE ? peer : require(path.join(__dirname, "..", "..", "dist", "codec"));
const { Encoder, Decoder, PacketType, isPacketValid, protocol } = impl;

const strict = REFERENCE ? it.skip : it;
const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

function decodeWith(parser, chunks, opts) {
  const decoder = new parser.Decoder(opts);
  const out = [];
  decoder.on("decoded", (packet) => out.push(packet));
  for (const chunk of chunks) decoder.add(chunk);
  return out;
}

const encode = (packet, replacer) => new Encoder(replacer).encode(packet);
const decode = (chunks, opts) => decodeWith(impl, chunks, opts);

function decodeOne(chunks, opts) {
  const out = decode(chunks, opts);
  expect(out).to.have.length(1);
  return out[0];
}

// binary values compare by constructor and bytes (expect.js sees all ArrayBuffers as equal)
function normalize(value) {
  if (value instanceof ArrayBuffer) return { $bin: "ArrayBuffer", hex: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $bin: Buffer.isBuffer(value) ? "Buffer" : value.constructor.name, hex: bytes.toString("hex") };
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, { value: normalize(value[key]), enumerable: true, writable: true });
    }
    return out;
  }
  return value;
}

// The stable code of each message (lib/errors.ts); the reference's errors have none.
const CODES = {
  "payload too deep": "SIO_ERR_PAYLOAD_TOO_DEEP",
  "got binary data when not reconstructing a packet": "SIO_ERR_UNEXPECTED_BINARY",
  "got plaintext data when reconstructing a packet": "SIO_ERR_UNEXPECTED_TEXT",
  "illegal attachments": "SIO_ERR_INVALID_PLACEHOLDER",
  "too many attachments": "SIO_ERR_TOO_MANY_ATTACHMENTS",
  "invalid payload": "SIO_ERR_INVALID_PAYLOAD",
};

function expectError(fn, message) {
  let error;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).to.be.an(Error);
  expect(error).not.to.be.a(TypeError);
  expect(error).not.to.be.a(RangeError);
  if (message) expect(error.message).to.be(message);
  if (!REFERENCE) {
    const code =
      message && message.startsWith("data nested deeper") ? "SIO_ERR_DATA_TOO_DEEP" : CODES[message];
    if (code) expect(error.code).to.be(code);
    else expect(error.code).to.match(/^SIO_ERR_[A-Z_]+$/);
  }
}

describe("parser", () => {
  describe("exports", () => {
    it("exposes protocol 5 and the packet types", () => {
      expect(protocol).to.be(5);
      expect([
        PacketType.CONNECT,
        PacketType.DISCONNECT,
        PacketType.EVENT,
        PacketType.ACK,
        PacketType.CONNECT_ERROR,
        PacketType.BINARY_EVENT,
        PacketType.BINARY_ACK,
      ]).to.eql([0, 1, 2, 3, 4, 5, 6]);
      expect(PacketType[5]).to.be("BINARY_EVENT");
    });

    it("Decoder is an event emitter", () => {
      const decoder = new Decoder();
      expect(decoder.on).to.be.a("function");
      expect(decoder.destroy).to.be.a("function");
    });
  });

  describe("encoding (examples of the protocol specification)", () => {
    const buf = Buffer.from([1, 2, 3, 4]);
    const head = buf.subarray(0, 2);
    const tail = buf.subarray(2);
    const cases = [
      [{ type: 0, nsp: "/" }, ["0"]],
      [{ type: 0, nsp: "/", data: { sid: "wZX3oN0bSVIhsaknAAAI" } }, ['0{"sid":"wZX3oN0bSVIhsaknAAAI"}']],
      [{ type: 0, nsp: "/admin" }, ["0/admin,"]],
      [
        { type: 0, nsp: "/admin", data: { sid: "oSO0OpakMV_3jnilAAAA" } },
        ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'],
      ],
      [{ type: 4, nsp: "/", data: { message: "Not authorized" } }, ['4{"message":"Not authorized"}']],
      [{ type: 2, nsp: "/", data: ["foo"] }, ['2["foo"]']],
      [{ type: 2, nsp: "/admin", data: ["bar"] }, ['2/admin,["bar"]']],
      [{ type: 2, nsp: "/", data: ["baz", buf] }, ['51-["baz",{"_placeholder":true,"num":0}]', buf]],
      [
        { type: 2, nsp: "/admin", data: ["baz", head, tail] },
        ['52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', head, tail],
      ],
      [{ type: 2, nsp: "/", data: ["foo"], id: 12 }, ['212["foo"]']],
      [{ type: 3, nsp: "/", data: [], id: 12 }, ["312[]"]],
      [{ type: 2, nsp: "/admin", data: ["foo"], id: 13 }, ['2/admin,13["foo"]']],
      [{ type: 3, nsp: "/admin", data: ["bar"], id: 13 }, ['3/admin,13["bar"]']],
      [
        { type: 2, nsp: "/", data: ["foo", buf], id: 14 },
        ['51-14["foo",{"_placeholder":true,"num":0}]', buf],
      ],
      [
        { type: 3, nsp: "/", data: ["bar", buf], id: 15 },
        ['61-15["bar",{"_placeholder":true,"num":0}]', buf],
      ],
      [{ type: 1, nsp: "/" }, ["1"]],
      [{ type: 1, nsp: "/admin" }, ["1/admin,"]],
    ];
    for (const [packet, expected] of cases) {
      it(`${PacketType[packet.type]} ${JSON.stringify(expected[0])}`, () => {
        const encoded = encode(packet);
        expect(encoded).to.have.length(expected.length);
        expect(encoded[0]).to.be(expected[0]);
        for (let i = 1; i < expected.length; i++) expect(encoded[i]).to.be(expected[i]);
      });
    }

    it("encodes an ack id of 0", () => {
      expect(encode({ type: 2, nsp: "/", data: ["a"], id: 0 })).to.eql(['20["a"]']);
    });

    it("treats an empty namespace as the main one", () => {
      expect(encode({ type: 2, nsp: "", data: ["a"] })).to.eql(['2["a"]']);
    });

    it("encodes a string CONNECT_ERROR payload", () => {
      expect(encode({ type: 4, nsp: "/", data: "x" })).to.eql(['4"x"']);
    });

    it("uses the replacer", () => {
      const replacer = (key, value) => (typeof value === "number" ? value * 10 : value);
      expect(encode({ type: 2, nsp: "/", id: 4, data: ["x", 1, { b: 2 }] }, replacer)).to.eql([
        '24["x",10,{"b":20}]',
      ]);
      const encoded = encode({ type: 2, nsp: "/", data: ["x", 1, Buffer.from([1])] }, replacer);
      expect(encoded[0]).to.be('51-["x",10,{"_placeholder":true,"num":0}]');
    });

    it("serializes toJSON results and dates like JSON.stringify", () => {
      const data = ["a", new Date(0), { toJSON: () => ({ x: 1 }) }];
      expect(encode({ type: 2, nsp: "/", data })).to.eql([`2${JSON.stringify(data)}`]);
    });

    it("does not look for binary in CONNECT packets", () => {
      expect(encode({ type: 0, nsp: "/x", data: { b: Buffer.from([1]) } })).to.eql([
        '0/x,{"b":{"type":"Buffer","data":[1]}}',
      ]);
    });

    it("does not modify the packet it encodes", () => {
      const buf = Buffer.from([1]);
      const inner = { a: buf, list: [buf] };
      const packet = { type: 2, nsp: "/", data: ["x", inner] };
      encode(packet);
      expect(packet.type).to.be(2);
      expect(packet.data[1]).to.be(inner);
      expect(inner.a).to.be(buf);
      expect(inner.list[0]).to.be(buf);
    });

    strict("turns a BINARY_* packet without binary data into EVENT / ACK", () => {
      expect(encode({ type: 5, nsp: "/", data: ["a"] })).to.eql(['2["a"]']);
      expect(encode({ type: 6, nsp: "/", data: ["a"], id: 1 })).to.eql(['31["a"]']);
    });

    strict("encodes a BINARY_* packet with binary data", () => {
      const buf = Buffer.from([9]);
      const encoded = encode({ type: 5, nsp: "/", data: ["a", buf] });
      expect(encoded[0]).to.be('51-["a",{"_placeholder":true,"num":0}]');
      expect(encoded[1]).to.be(buf);
    });
  });

  describe("round trips", () => {
    const namespaces = ["/", "/admin", "/é✓😀"];
    const ids = [undefined, 0, 1, 9007199254740991];
    const payloads = {
      [PacketType.CONNECT]: [undefined, {}, { token: "123", nested: { a: [1, 2, null] } }],
      [PacketType.DISCONNECT]: [undefined],
      [PacketType.EVENT]: [
        ["a"],
        [1, "x"],
        ["message", "héllo wörld 😀 \u2028\u2029 \u0000", { "": "", 'a"b': "\\" }],
      ],
      [PacketType.ACK]: [[], [null], ["ok", 1.5, -1e300, true, false, { a: [[]] }]],
      [PacketType.CONNECT_ERROR]: ["not authorized", { message: "Not authorized", data: { code: 4 } }],
    };
    for (const type of [0, 1, 2, 3, 4]) {
      for (const nsp of namespaces) {
        for (const id of type === 2 || type === 3 ? ids : [undefined]) {
          for (const data of payloads[type]) {
            const packet = { type, nsp };
            if (id !== undefined) packet.id = id;
            if (data !== undefined) packet.data = data;
            it(`${PacketType[type]} ${JSON.stringify(packet)}`, () => {
              const encoded = encode(packet);
              expect(encoded).to.have.length(1);
              expect(encoded[0]).to.be.a("string");
              expect(decodeOne(encoded)).to.eql(packet);
              // the client's parser reads what we write, and we read what it writes
              expect(decodeWith(peer, encoded)).to.eql([packet]);
              expect(new peer.Encoder().encode(packet)).to.eql(encoded);
              expect(decodeOne(new peer.Encoder().encode(packet))).to.eql(packet);
            });
          }
        }
      }
    }

    it("keeps a v2 client's ?query in the namespace", () => {
      expect(decodeOne(["0/admin?token=abc,"])).to.eql({ type: 0, nsp: "/admin?token=abc" });
      expect(decodeOne(['0/admin?x=1&y=%2C,{"a":1}'])).to.eql({
        type: 0,
        nsp: "/admin?x=1&y=%2C",
        data: { a: 1 },
      });
    });

    it("reads a namespace running to the end of the text", () => {
      expect(decodeOne(["1/admin"])).to.eql({ type: 1, nsp: "/admin" });
    });

    it("decodes consecutive packets with one decoder", () => {
      expect(decode(['2["a"]', "3/x,5[]", "0"])).to.eql([
        { type: 2, nsp: "/", data: ["a"] },
        { type: 3, nsp: "/x", id: 5, data: [] },
        { type: 0, nsp: "/" },
      ]);
    });

    it("uses the reviver (function or option)", () => {
      const reviver = (key, value) => (typeof value === "number" ? value * 2 : value);
      const expected = { type: 2, nsp: "/a", id: 7, data: ["x", 2, { b: 4 }] };
      expect(decodeOne(['2/a,7["x",1,{"b":2}]'], reviver)).to.eql(expected);
      expect(decodeOne(['2/a,7["x",1,{"b":2}]'], { reviver })).to.eql(expected);
    });

    it("decodes deeply nested data: the reference whatever the depth, ours up to MAX_DEPTH", () => {
      const depth = 100000;
      const text = `2["a",${"[".repeat(depth)}${"]".repeat(depth)}]`;
      if (!REFERENCE) {
        expectError(() => decode([text]), "payload too deep");
        return;
      }
      let node = decodeOne([text]).data[1];
      let levels = 0;
      while (Array.isArray(node) && node.length) {
        node = node[0];
        levels++;
      }
      expect(levels).to.be(depth - 1);
    });
  });

  describe("binary", () => {
    const bytes = (...b) => Buffer.from(b);
    const f64 = new Float64Array([1.5, -2, 3]);
    const cases = {
      "a Buffer argument": ["file", bytes(1, 2, 3)],
      "an empty Buffer": ["file", Buffer.alloc(0)],
      "an ArrayBuffer": ["file", new Uint8Array([7, 8]).buffer],
      "typed array views": [
        "t",
        new Uint16Array([1, 65535]),
        new Int32Array([-1]),
        f64.subarray(1),
        new DataView(new ArrayBuffer(3)),
      ],
      "binary nested in objects": ["n", { a: { b: { c: bytes(5) } }, d: "x" }],
      "binary nested in arrays": ["n", [[bytes(1)], [[bytes(2), 3]]]],
      "many buffers": ["m", ...Array.from({ length: 10 }, (_, i) => bytes(i))],
      "binary first and last": [bytes(0), "mid", 3, bytes(0xff)],
    };

    for (const [name, data] of Object.entries(cases)) {
      if (typeof data[0] !== "string" && typeof data[0] !== "number") continue;
      for (const [type, binaryType] of [
        [2, 5],
        [3, 6],
      ]) {
        for (const [nsp, id] of [
          ["/", undefined],
          ["/admin", 42],
        ]) {
          it(`${PacketType[type]} with ${name} (nsp ${nsp}, id ${id})`, () => {
            const packet = { type, nsp, data };
            if (id !== undefined) packet.id = id;
            const encoded = encode(packet);
            const attachments = encoded.length - 1;
            expect(attachments).to.be.greaterThan(0);
            const prefix = `${binaryType}${attachments}-${nsp === "/" ? "" : nsp + ","}${id === undefined ? "" : id}`;
            expect(encoded[0].startsWith(prefix)).to.be(true);
            expect(encoded[0]).not.to.contain('"type":"Buffer"');
            for (let i = 1; i < encoded.length; i++) {
              expect(ArrayBuffer.isView(encoded[i]) || encoded[i] instanceof ArrayBuffer).to.be(true);
            }

            // decoded packets report EVENT / ACK, like the reference decoder
            const expected = normalize(packet);
            expect(normalize(decodeOne(encoded))).to.eql(expected);
            expect(normalize(decodeWith(peer, encoded))).to.eql([expected]);
            const theirs = new peer.Encoder().encode(packet);
            expect(theirs[0]).to.be(encoded[0]);
            expect(normalize(decodeOne(theirs))).to.eql(expected);
          });
        }
      }
    }

    it("puts the attachment chunks back in placeholder order", () => {
      const a = bytes(1);
      const b = bytes(2);
      const decoded = decodeOne([
        '52-["x",{"_placeholder":true,"num":1},{"k":{"_placeholder":true,"num":0}}]',
        a,
        b,
      ]);
      expect(decoded.data[1]).to.be(b);
      expect(decoded.data[2].k).to.be(a);
    });

    it("accepts ArrayBuffer attachments", () => {
      const ab = new Uint8Array([5]).buffer;
      expect(decodeOne(['51-["a",{"_placeholder":true,"num":0}]', ab]).data[1]).to.be(ab);
    });

    it("detects binary returned by toJSON", () => {
      const buf = bytes(4, 2);
      const encoded = encode({ type: 3, nsp: "/x", id: 1, data: [{ toJSON: () => buf }] });
      expect(encoded).to.eql(['61-/x,1[{"_placeholder":true,"num":0}]', buf]);
      expect(normalize(decodeOne(encoded).data)).to.eql(normalize([buf]));
    });

    it("emits nothing until every attachment arrived", () => {
      const decoder = new Decoder();
      const out = [];
      decoder.on("decoded", (p) => out.push(p));
      decoder.add('52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      expect(out).to.have.length(0);
      decoder.add(bytes(1));
      expect(out).to.have.length(0);
      decoder.add(bytes(2));
      expect(out).to.have.length(1);
      decoder.add('2["next"]');
      expect(out[1]).to.eql({ type: 2, nsp: "/", data: ["next"] });
    });

    it("destroy() drops a partial packet", () => {
      const decoder = new Decoder();
      const out = [];
      decoder.on("decoded", (p) => out.push(p));
      decoder.add('51-["a",{"_placeholder":true,"num":0}]');
      decoder.destroy();
      decoder.add('2["b"]');
      expect(out).to.eql([{ type: 2, nsp: "/", data: ["b"] }]);
      expectError(() => decoder.add(bytes(1)), "got binary data when not reconstructing a packet");
    });

    it("keeps a __proto__ key as plain data", () => {
      const buf = bytes(1, 2);
      const decoded = decodeOne([
        '61-/x,3["a",{"__proto__":{"_placeholder":true,"num":0}},{"__proto__":{"polluted":true}}]',
        buf,
      ]);
      expect(Object.getPrototypeOf(decoded.data[1])).to.be(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(decoded.data[1], "__proto__")).to.be(true);
      expect(Object.getOwnPropertyDescriptor(decoded.data[1], "__proto__").value).to.be(buf);
      expect(Object.getPrototypeOf(decoded.data[2])).to.be(Object.prototype);
      expect({}.polluted).to.be(undefined);
      expect(decoded.data[2].polluted).to.be(undefined);
    });

    strict("re-encodes decoded data holding a __proto__ key without losing it", () => {
      const buf = bytes(3);
      const decoded = decodeOne(['51-["a",{"__proto__":{"_placeholder":true,"num":0}}]', buf]);
      const encoded = encode(decoded);
      expect(encoded).to.eql(['51-["a",{"__proto__":{"_placeholder":true,"num":0}}]', buf]);
      expect({}.polluted).to.be(undefined);
    });

    strict("reconstructs attachments at the deepest level allowed", () => {
      const depth = impl.MAX_DEPTH - 2;
      const buf = bytes(1);
      const text = `51-["a",${"[".repeat(depth)}{"_placeholder":true,"num":0}${"]".repeat(depth)}]`;
      let node = decodeOne([text, buf]).data[1];
      while (Array.isArray(node)) node = node[0];
      expect(node).to.be(buf);
    });
  });

  describe("invalid input", () => {
    const rejectedByBoth = {
      "unknown type": ["9", "7[]", "x", "-1"],
      "bad attachments count": [
        '5a-["a"]',
        '5-["a"]',
        '50-["a"]',
        '5-1-["a"]',
        '51.5-["a"]',
        "6",
        "5",
        '5 -["a"]',
      ],
      "too many attachments": ['511-["a"]', '51e2-["a"]', '510000000000-["a"]'],
      "reserved event names": RESERVED.map((name) => `2${JSON.stringify([name])}`),
      "bad EVENT payload": [
        "2[]",
        "2[null]",
        "2[true]",
        "2[[]]",
        '2{"a":1}',
        '2"s"',
        "251-[]",
        '51-{"a":1}',
        "51-[]",
      ],
      "bad CONNECT payload": ["0[1]", '0"s"', "0null", '0{"a":1}x'],
      "bad DISCONNECT payload": ["1{}", "1/a,null", "1[]"],
      "bad CONNECT_ERROR payload": ["4[]", "4null", "4true"],
      "bad ACK payload": ["3{}", '3"a"', "31a[]"],
      "invalid JSON": ['2["a"', '2["a"]x', "2[undefined]", "2['a']", '2["a",]', `2${"[".repeat(100000)}`],
      "bad namespace": ['2admin,["a"]', '2/a,b,["x"]', '2/admin["a","b"]', "0é"],
      "non-digit ack id": ['21e3["a"]', '2-1["a"]', '21.5["a"]'],
    };
    for (const [name, inputs] of Object.entries(rejectedByBoth)) {
      it(`rejects ${name}`, () => {
        for (const input of inputs) {
          expectError(() => decode([input]));
          // the client's parser rejects these as well
          expect(() => decodeWith(peer, [input])).to.throwError();
        }
      });
    }

    strict("rejects inputs the reference lets through", () => {
      const inputs = [
        "", // no type
        "2", // EVENT without payload
        "2/admin", // EVENT without payload
        "3", // ACK without payload
        "4", // CONNECT_ERROR without payload
        '2123456789012345678901234["a"]', // ack id beyond safe integers
        '5 1-["a"]', // attachments count with a space
        '51-["a",{"_placeholder":true,"num":0.5}]', // fractional placeholder index
      ];
      for (const input of inputs) {
        expectError(() => decode(input.startsWith("51-") ? [input, Buffer.from([1])] : [input]));
      }
    });

    it("rejects placeholders pointing outside the attachments", () => {
      for (const num of ["1", "-1", '"0"', "null", "true"]) {
        expectError(
          () => decode([`51-["a",{"_placeholder":true,"num":${num}}]`, Buffer.from([1])]),
          "illegal attachments",
        );
      }
    });

    it("rejects binary data when no packet waits for it", () => {
      for (const chunk of [Buffer.from([1]), new ArrayBuffer(1), new Uint16Array(1)]) {
        expectError(() => decode([chunk]), "got binary data when not reconstructing a packet");
      }
      expectError(
        () => decode(['2["a"]', Buffer.from([1])]),
        "got binary data when not reconstructing a packet",
      );
    });

    it("rejects text while attachments are pending", () => {
      expectError(
        () => decode(['51-["a",{"_placeholder":true,"num":0}]', '2["b"]']),
        "got plaintext data when reconstructing a packet",
      );
    });

    it("honours the maxAttachments option", () => {
      expectError(() => decode(['53-["a"]'], { maxAttachments: 2 }), "too many attachments");
      expect(decode(['52-["a"]', Buffer.from([1]), Buffer.from([2])], { maxAttachments: 2 })).to.have.length(
        1,
      );
    });

    it("rejects chunks that are neither text nor binary", () => {
      for (const input of [5, true, {}, [], { base64: false }, () => 1]) {
        expectError(() => decode([input]));
      }
    });

    strict("rejects null, undefined, symbols and null-prototype objects with an Error", () => {
      for (const input of [null, undefined, Symbol("x"), Object.create(null)]) {
        expectError(() => decode([input]));
      }
    });

    strict("with a reviver, data deep enough to overflow its walk is a plain parse error", () => {
      // JSON.parse walks the result recursively for the reviver: the overflow surfaces as an Error
      const reviver = (key, value) => value;
      expectError(
        () => decode([`2["a",${"[".repeat(200000)}${"]".repeat(200000)}]`], reviver),
        "invalid payload",
      );
      const depth = impl.MAX_DEPTH - 1;
      expect(decodeOne([`2["a",${"[".repeat(depth)}${"]".repeat(depth)}]`], reviver).data[0]).to.be("a");
    });

    it("stays usable after an error", () => {
      const decoder = new Decoder();
      const out = [];
      decoder.on("decoded", (p) => out.push(p));
      expect(() => decoder.add("2[]")).to.throwError();
      decoder.add('2["ok"]');
      expect(out).to.eql([{ type: 2, nsp: "/", data: ["ok"] }]);
    });

    strict("never throws anything but an Error, and only emits valid packets, on random input", () => {
      // deterministic PRNG so a failure can be replayed
      let seed = 42;
      const rand = (n) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const alphabet = '0123456789-/,[]{}":_ ab?né\u0000';
      const placeholder = '{"_placeholder":true,"num":0}';
      for (let round = 0; round < 20000; round++) {
        let text = "";
        const length = rand(24);
        for (let i = 0; i < length; i++) {
          text += rand(10) === 0 ? placeholder : alphabet[rand(alphabet.length)];
        }
        const decoder = new Decoder();
        decoder.on("decoded", (packet) => {
          if (!isPacketValid(packet)) throw new Error(`invalid packet emitted for ${JSON.stringify(text)}`);
        });
        for (const chunk of [text, Buffer.from([1]), text]) {
          try {
            decoder.add(chunk);
          } catch (e) {
            // plain checks: expect.js is too slow for 60000 assertions
            if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError) {
              throw new Error(`${e} thrown for ${JSON.stringify(text)}`);
            }
            if (e.message.startsWith("invalid packet emitted")) throw e;
          }
        }
      }
    });
  });

  describe("nesting depth", () => {
    const LIMIT = 1000;
    // data `levels` arrays deep, the payload array included
    const nested = (levels, leaf = 1) => {
      let v = leaf;
      for (let i = 1; i < levels; i++) v = [v];
      return ["e", v];
    };
    const text = (levels) => '2["e",' + "[".repeat(levels - 1) + "]".repeat(levels - 1) + "]";

    strict("exports the limit", () => {
      expect(impl.MAX_DEPTH).to.be(LIMIT);
    });

    it(`a packet ${LIMIT} levels deep round-trips`, () => {
      const packet = { type: PacketType.EVENT, nsp: "/", data: nested(LIMIT) };
      expect(decodeOne(encode(packet)).data).to.eql(packet.data);
      const binary = { type: PacketType.EVENT, nsp: "/", data: nested(LIMIT - 1, Buffer.from([1])) };
      const decoded = decodeOne(encode(binary));
      let leaf = decoded.data[1];
      for (let i = 2; i < LIMIT - 1; i++) leaf = leaf[0];
      expect(Buffer.isBuffer(leaf[0])).to.be(true);
    });

    strict(`a packet ${LIMIT + 1} levels deep is rejected`, () => {
      expectError(() => decode([text(LIMIT + 1)]), "payload too deep");
      expectError(
        () => decode(["2" + '[{"a":'.repeat(100000) + "1" + "}]".repeat(100000)]),
        "payload too deep",
      );
      const wide =
        '2["e",' +
        Array.from({ length: 50 }, () => "[1,{}]").join(",") +
        "," +
        "[".repeat(LIMIT) +
        "]".repeat(LIMIT) +
        "]";
      expectError(() => decode([wide]), "payload too deep");
      expectError(
        () =>
          decode(["51-" + "[".repeat(LIMIT + 1) + '{"_placeholder":true,"num":0}' + "]".repeat(LIMIT + 1)]),
        "payload too deep",
      );
      expect(decodeOne([text(LIMIT)]).type).to.be(PacketType.EVENT);
    });

    it("brackets inside strings do not count, escaped quotes included", () => {
      const brackets = "[{".repeat(3000);
      for (const str of [brackets, `\\"${brackets}`, `${brackets}\\`, `\\\\`, `a\\\\"[[`]) {
        const data = ["e", str, { k: str }, [str]];
        expect(decodeOne(encode({ type: PacketType.EVENT, nsp: "/", data })).data).to.eql(data);
      }
    });

    strict("a decoder stays usable after a too deep packet", () => {
      const decoder = new Decoder();
      const out = [];
      decoder.on("decoded", (p) => out.push(p));
      expect(() => decoder.add(text(100000))).to.throwException();
      decoder.add('2["ok"]');
      expect(out.map((p) => p.data)).to.eql([["ok"]]);
    });

    strict(
      `encoding data deeper than ${LIMIT} levels or circular throws a clear error, whatever the depth`,
      () => {
        const circular = { a: 1 };
        circular.self = circular;
        const cyclicArray = [];
        cyclicArray.push(cyclicArray);
        const withBinary = nested(100000);
        withBinary.push(Buffer.from([1]));
        withBinary.reverse();
        for (const data of [
          nested(LIMIT + 1),
          nested(100000),
          ["e", circular],
          ["e", cyclicArray],
          withBinary,
        ]) {
          for (const type of [PacketType.EVENT, PacketType.ACK]) {
            expectError(
              () => encode({ type, nsp: "/", data, id: 1 }),
              `data nested deeper than ${LIMIT} levels (or circular) cannot be sent`,
            );
          }
        }
        // toJSON results count like the values they stand for
        const deepToJSON = { toJSON: () => nested(LIMIT) };
        expectError(
          () => encode({ type: PacketType.EVENT, nsp: "/", data: ["e", deepToJSON] }),
          `data nested deeper than ${LIMIT} levels (or circular) cannot be sent`,
        );
        // a CONNECT_ERROR carries data the depth walk does not see
        let deep = {};
        for (let i = 0; i < 100000; i++) deep = { d: deep };
        expectError(
          () => encode({ type: PacketType.CONNECT_ERROR, nsp: "/", data: deep }),
          `data nested deeper than ${LIMIT} levels (or circular) cannot be sent`,
        );
      },
    );
  });

  describe("isPacketValid", () => {
    const cases = [
      [{ type: 0, nsp: "/" }, true],
      [{ type: 0, nsp: "/", data: { a: 1 } }, true],
      [{ type: 0, nsp: "/", data: [1] }, false],
      [{ type: 0, nsp: 1 }, false],
      [{ type: 1, nsp: "/" }, true],
      [{ type: 1, nsp: "/", data: {} }, false],
      [{ type: 2, nsp: "/", data: ["a"] }, true],
      [{ type: 2, nsp: "/", data: [1] }, true],
      [{ type: 2, nsp: "/", data: ["a"], id: 3 }, true],
      [{ type: 2, nsp: "/", data: ["a"], id: 1.5 }, false],
      [{ type: 2, nsp: "/", data: ["a"], id: "3" }, false],
      [{ type: 2, nsp: "/", data: [] }, false],
      [{ type: 2, nsp: "/" }, false],
      [{ type: 2, nsp: "/", data: [null] }, false],
      ...RESERVED.map((name) => [{ type: 2, nsp: "/", data: [name] }, false]),
      [{ type: 3, nsp: "/", data: [] }, true],
      [{ type: 3, nsp: "/", data: {} }, false],
      [{ type: 4, nsp: "/", data: "err" }, true],
      [{ type: 4, nsp: "/", data: { message: "x" } }, true],
      [{ type: 4, nsp: "/", data: [] }, false],
      [{ type: 5, nsp: "/", data: ["a"] }, false],
      [{ type: 6, nsp: "/", data: [] }, false],
      [{ type: 7, nsp: "/" }, false],
    ];
    for (const [packet, valid] of cases) {
      it(`${JSON.stringify(packet)} is ${valid ? "valid" : "invalid"}`, () => {
        expect(isPacketValid(packet)).to.be(valid);
        expect(peer.isPacketValid(packet)).to.be(valid);
      });
    }
  });

  describe("cross-check with the client parser on random packets", () => {
    // deterministic PRNG so a failure can be replayed
    let seed = 7;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const strings = ["", "a", "é😀", "\u2028", '"quoted"', "_placeholder", "__proto__", "a,b/c"];
    function value(depth) {
      switch (rand(depth > 3 ? 6 : 9)) {
        case 0:
          return rand(1000) - 500;
        case 1:
          return strings[rand(strings.length)];
        case 2:
          return rand(2) === 0;
        case 3:
          return null;
        case 4:
          return Buffer.from(strings[rand(strings.length)]);
        case 5:
          return rand(1000) / 7;
        case 6:
          return new Uint8Array([rand(256), rand(256)]).buffer;
        case 7:
          return Array.from({ length: rand(4) }, () => value(depth + 1));
        default: {
          const obj = {};
          for (let i = rand(4); i > 0; i--) obj[strings[rand(strings.length)] + i] = value(depth + 1);
          return obj;
        }
      }
    }

    it("agrees on 2000 random EVENT and ACK packets", () => {
      for (let i = 0; i < 2000; i++) {
        const type = rand(2) === 0 ? 2 : 3;
        const data = Array.from({ length: rand(5) }, () => value(0));
        if (type === 2) data.unshift(strings[1 + rand(strings.length - 1)]);
        const packet = { type, nsp: rand(2) ? "/" : "/ns" };
        if (rand(2)) packet.id = rand(100000);
        packet.data = data;

        const ours = encode(packet);
        const theirs = new peer.Encoder().encode(packet);
        expect(ours[0]).to.be(theirs[0]);
        expect(ours.length).to.be(theirs.length);
        const expected = [normalize(packet)];
        expect(normalize(decodeWith(peer, ours))).to.eql(expected);
        expect(normalize(decode(theirs))).to.eql(expected);
      }
    });
  });
});

describe("binary helpers", () => {
  const binary = REFERENCE ? null : require(path.join(__dirname, "..", "..", "dist", "codec", "binary"));
  const own = REFERENCE ? it.skip : it;

  own("isBinary recognises Buffer, ArrayBuffer and views", () => {
    const { isBinary } = binary;
    for (const v of [
      Buffer.alloc(1),
      new ArrayBuffer(1),
      new Uint8Array(1),
      new Float32Array(1),
      new DataView(new ArrayBuffer(1)),
    ]) {
      expect(isBinary(v)).to.be(true);
    }
    for (const v of [null, undefined, "a", 1, {}, [], { byteLength: 1 }]) {
      expect(isBinary(v)).to.be(false);
    }
  });

  own("hasBinary stops at the first binary value", () => {
    const data = ["e", { a: Buffer.from([1]) }];
    Object.defineProperty(data[1], "b", {
      enumerable: true,
      get() {
        throw new Error("walked past the binary value");
      },
    });
    expect(binary.hasBinary(data)).to.be(true);
  });

  own("hasBinary finds nothing in plain data, dates and toJSON strings", () => {
    expect(binary.hasBinary(["e", 1, "s", null, { a: [{ b: new Date() }] }, { toJSON: () => "x" }])).to.be(
      false,
    );
  });

  own("hasBinary calls toJSON once, like JSON.stringify", () => {
    const selfish = {
      toJSON() {
        return this;
      },
    };
    expect(binary.hasBinary([selfish])).to.be(false);
  });

  own("deconstruct and reconstruct are inverse", () => {
    const a = Buffer.from([1]);
    const b = new Uint32Array([2]);
    const input = { x: [a, { y: b }], z: 1 };
    const { data, buffers } = binary.deconstruct(input);
    expect(data).to.eql({ x: [{ _placeholder: true, num: 0 }, { y: { _placeholder: true, num: 1 } }], z: 1 });
    expect(buffers[0]).to.be(a);
    expect(buffers[1]).to.be(b);
    expect(input.x[0]).to.be(a);
    const back = binary.reconstruct(JSON.parse(JSON.stringify(data)), buffers);
    expect(back.x[0]).to.be(a);
    expect(back.x[1].y).to.be(b);
  });

  own("reconstruct replaces a top-level placeholder", () => {
    const a = Buffer.from([1]);
    expect(binary.reconstruct({ _placeholder: true, num: 0 }, [a])).to.be(a);
  });
});
