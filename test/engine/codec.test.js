"use strict";

// Engine.IO packet codecs: protocol v4 (`parser` of socket.io/engine) and v3
// (EIO3, for socket.io v2 clients). Besides round trips, every encoding is
// cross-checked against the parsers the real clients use: engine.io-parser@5
// (engine.io-client 6) and engine.io-parser@2 (socket.io-client 2).
//
// With REFERENCE=1 the suite runs against the reference server's codecs, except
// for tests marked `oursOnly`: the sync encoders (not in the reference API) and
// malformed inputs the reference lets through (e.g. it decodes "b!!" as an empty
// binary message) while ours reports them as the error packet.

const path = require("path");
const expect = require("expect.js");
const impl = require("../support/impl");

const dist = path.join(__dirname, "..", "..", "dist", "engine");
const referenceDir = path.dirname(require.resolve("engine.io"));

const parser = impl.REFERENCE ? impl.engine().parser : require(path.join(dist, "codec", "v4"));
const parserV3 = impl.REFERENCE
  ? require(path.join(referenceDir, "parser-v3", "index.js"))
  : require(path.join(dist, "codec", "v3"));

// Client-side peers.
const clientParser = require("engine.io-parser");
const clientParserV2 = loadClientParserV2();

function loadClientParserV2() {
  try {
    return require(
      require.resolve("engine.io-parser", {
        paths: [path.dirname(require.resolve("socket.io-client-v2/package.json"))],
      }),
    );
  } catch (e) {
    return null;
  }
}

const oursOnly = impl.REFERENCE ? it.skip : it;
const withV2Peer = clientParserV2 && clientParserV2.protocol === 3 ? describe : describe.skip;

const ERROR = { type: "error", data: "parser error" };
const TYPES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];
const UNICODE = ["héllo wörld", "日本語テキスト", "emoji 😀👍🏽🇫🇷 end", "\u0000nul\u2028sep", "😀"];

// Deterministic generator so a failing fuzz case is reproducible.
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randomString(rand, maxLength) {
  const alphabet = "0123456789:b4AQI=+/\x1e\xff😀é \u0000";
  let out = "";
  const length = Math.floor(rand() * maxLength);
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(rand() * alphabet.length)];
  return out;
}

function randomBytes(rand, maxLength) {
  const bytes = Buffer.alloc(Math.floor(rand() * maxLength));
  for (let i = 0; i < bytes.length; i++) {
    // Bias towards the framing bytes so the decoder goes deep into payloads.
    const r = rand();
    bytes[i] = r < 0.3 ? Math.floor(rand() * 10) : r < 0.4 ? 255 : r < 0.5 ? 1 : Math.floor(rand() * 256);
  }
  return bytes;
}

function bytesOf(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// A Uint8Array viewing bytes 3..6 of a larger buffer: encoders must honour the
// offset and length, not send the whole underlying ArrayBuffer.
function offsetView() {
  const backing = new Uint8Array([9, 9, 9, 1, 2, 3, 9, 9]);
  return backing.subarray(3, 6);
}

function binaryInputs() {
  return {
    Buffer: Buffer.from([1, 2, 3]),
    ArrayBuffer: new Uint8Array([1, 2, 3]).buffer,
    "Uint8Array with offset": offsetView(),
    "DataView with offset": new DataView(new Uint8Array([7, 1, 2, 3]).buffer, 1, 3),
  };
}

function collectV3(data, binaryType) {
  const out = [];
  parserV3.decodePayload(data, binaryType, (packet) => {
    out.push(packet);
  });
  return out;
}

function collectPeerV2(data, binaryType) {
  const out = [];
  clientParserV2.decodePayload(data, binaryType, (packet) => {
    out.push(packet);
  });
  return out;
}

function encodeV3Packet(packet, supportsBinary, utf8encode) {
  let result;
  parserV3.encodePacket(packet, supportsBinary, utf8encode, (encoded) => {
    result = encoded;
  });
  return result;
}

function encodeV3Payload(packets, supportsBinary) {
  let result;
  parserV3.encodePayload(packets, supportsBinary, (encoded) => {
    result = encoded;
  });
  return result;
}

function encodeV4Packet(packet, supportsBinary) {
  let result;
  parser.encodePacket(packet, supportsBinary, (encoded) => {
    result = encoded;
  });
  return result;
}

function encodeV4Payload(packets) {
  let result;
  parser.encodePayload(packets, (encoded) => {
    result = encoded;
  });
  return result;
}

// Packets compared by value, binary data by bytes and JS type.
function expectPackets(actual, expected) {
  expect(actual.length).to.be(expected.length);
  expected.forEach((packet, i) => expectPacket(actual[i], packet));
}

function expectPacket(actual, expected) {
  expect(actual.type).to.be(expected.type);
  if (expected.data === undefined) return expect(actual).not.to.have.property("data");
  if (typeof expected.data === "string") return expect(actual.data).to.be(expected.data);
  const isBuffer = Buffer.isBuffer(expected.data);
  expect(Buffer.isBuffer(actual.data)).to.be(isBuffer);
  if (!isBuffer) expect(actual.data).to.be.an(ArrayBuffer);
  expect(bytesOf(actual.data).equals(bytesOf(expected.data))).to.be(true);
}

function manyPackets(count) {
  const packets = [];
  for (let i = 0; i < count; i++) {
    if (i % 5 === 0) packets.push({ type: "message", data: Buffer.from([i & 255, 0, 255, 0x1e]) });
    else if (i % 5 === 1) packets.push({ type: "message", data: `msg ${i} ${UNICODE[i % UNICODE.length]}` });
    else if (i % 5 === 2) packets.push({ type: "ping" });
    else if (i % 5 === 3) packets.push({ type: "message", data: `${i}:4:b\x1e`.slice(0, 4) });
    else packets.push({ type: "noop" });
  }
  return packets;
}

describe("engine parser (Engine.IO v4)", () => {
  it("is protocol 4", () => {
    expect(parser.protocol).to.be(4);
  });

  it("is exported as `parser` from socket.io/engine", () => {
    const exported = impl.engine().parser;
    expect(exported.protocol).to.be(4);
    expect(exported.decodePacket("4hello")).to.eql({ type: "message", data: "hello" });
    exported.encodePayload([{ type: "message", data: Buffer.from([1]) }, { type: "ping" }], (payload) => {
      expect(payload).to.be("bAQ==\x1e2");
    });
  });

  describe("packets", () => {
    TYPES.forEach((type, code) => {
      it(`encodes and decodes "${type}" with and without data`, () => {
        expect(encodeV4Packet({ type }, true)).to.be(String(code));
        expect(encodeV4Packet({ type, data: "probe" }, false)).to.be(`${code}probe`);
        expectPacket(parser.decodePacket(String(code)), { type });
        expectPacket(parser.decodePacket(`${code}probe`), { type, data: "probe" });
      });
    });

    UNICODE.forEach((text) => {
      it(`round-trips the unicode string ${JSON.stringify(text)}`, () => {
        const encoded = encodeV4Packet({ type: "message", data: text }, true);
        expect(encoded).to.be("4" + text);
        expectPacket(parser.decodePacket(encoded), { type: "message", data: text });
      });
    });

    Object.entries(binaryInputs()).forEach(([name, data]) => {
      it(`sends ${name} data as raw bytes when binary is supported`, () => {
        expect([...bytesOf(encodeV4Packet({ type: "message", data }, true))]).to.eql([1, 2, 3]);
      });

      // The reference passes views and ArrayBuffers through as they are.
      oursOnly(`hands the transport ${name} data as a Buffer`, () => {
        expect(Buffer.isBuffer(encodeV4Packet({ type: "message", data }, true))).to.be(true);
      });

      it(`sends ${name} data as "b" + base64 otherwise`, () => {
        expect(encodeV4Packet({ type: "message", data }, false)).to.be("bAQID");
      });

      // The reference mishandles views here (a DataView decodes as empty, a
      // view stays a view with "arraybuffer"); WebSocket frames are Buffers anyway.
      const decodeIt = name === "Buffer" || name === "ArrayBuffer" ? it : oursOnly;
      decodeIt(`decodes a ${name} frame as a binary message`, () => {
        expectPacket(parser.decodePacket(data), { type: "message", data: Buffer.from([1, 2, 3]) });
        expectPacket(parser.decodePacket(data, "arraybuffer"), {
          type: "message",
          data: new Uint8Array([1, 2, 3]).buffer,
        });
      });
    });

    it("decodes base64 binary as a Buffer, or an ArrayBuffer of exactly its bytes", () => {
      expectPacket(parser.decodePacket("bAQID"), { type: "message", data: Buffer.from([1, 2, 3]) });
      const decoded = parser.decodePacket("bAQID", "arraybuffer");
      expect(decoded.data).to.be.an(ArrayBuffer);
      expect([...new Uint8Array(decoded.data)]).to.eql([1, 2, 3]);
      expectPacket(parser.decodePacket("b"), { type: "message", data: Buffer.alloc(0) });
    });

    it("sends empty binary data as an empty frame", () => {
      expect(encodeV4Packet({ type: "message", data: Buffer.alloc(0) }, true).length).to.be(0);
      expect(encodeV4Packet({ type: "message", data: new ArrayBuffer(0) }, false)).to.be("b");
    });

    it("runs the encode callbacks synchronously", () => {
      let called = false;
      parser.encodePacket({ type: "ping" }, true, () => (called = true));
      expect(called).to.be(true);
      called = false;
      parser.encodePayload([{ type: "ping" }], () => (called = true));
      expect(called).to.be(true);
    });

    oursOnly("offers sync encoders matching the callback forms", () => {
      const packets = manyPackets(50);
      for (const packet of packets) {
        const sync = parser.encodePacketSync(packet, true);
        const viaCallback = encodeV4Packet(packet, true);
        if (Buffer.isBuffer(sync)) expect(sync.equals(viaCallback)).to.be(true);
        else expect(sync).to.be(viaCallback);
        expect(parser.encodePacketSync(packet, false)).to.be(encodeV4Packet(packet, false));
      }
      expect(parser.encodePayloadSync(packets)).to.be(encodeV4Payload(packets));
    });
  });

  describe("payloads", () => {
    it("joins packets with \\x1e, binary as base64", () => {
      const packets = [
        { type: "message", data: "hello" },
        { type: "message", data: offsetView() },
        { type: "ping" },
        { type: "message", data: "😀" },
      ];
      const payload = encodeV4Payload(packets);
      expect(payload).to.be("4hello\x1ebAQID\x1e2\x1e4😀");
      expectPackets(parser.decodePayload(payload), [
        { type: "message", data: "hello" },
        { type: "message", data: Buffer.from([1, 2, 3]) },
        { type: "ping" },
        { type: "message", data: "😀" },
      ]);
      expect(parser.decodePayload(payload, "arraybuffer")[1].data).to.be.an(ArrayBuffer);
    });

    it("round-trips a payload of many packets", () => {
      const packets = manyPackets(1000);
      const decoded = parser.decodePayload(encodeV4Payload(packets));
      expectPackets(decoded, packets);
    });

    it("encodes a single packet without separator", () => {
      expect(encodeV4Payload([{ type: "noop" }])).to.be("6");
    });
  });

  describe("malformed input", () => {
    const badPackets = {
      "empty string": "",
      "unknown type digit": "9hello",
      "type out of range": "7",
      "non-digit type": "xhello",
      "the separator": "\x1e",
    };
    Object.entries(badPackets).forEach(([name, input]) => {
      it(`yields the error packet for ${name}`, () => {
        expect(parser.decodePacket(input)).to.eql(ERROR);
      });
    });

    const badBase64 = {
      "invalid characters": "b!!!!",
      "a misplaced padding": "bA=QI",
      "a dangling sextet": "bAQIDB",
      "padding on a short group": "bAQ=",
      "too much padding": "bA===",
    };
    Object.entries(badBase64).forEach(([name, input]) => {
      oursOnly(`yields the error packet for base64 with ${name}`, () => {
        expect(parser.decodePacket(input)).to.eql(ERROR);
      });
    });

    oursOnly("yields the error packet for input that is neither text nor binary", () => {
      for (const input of [null, undefined, 42, {}, [Buffer.from([1])]]) {
        expect(parser.decodePacket(input)).to.eql(ERROR);
      }
      expect(parser.decodePayload(null)).to.eql([ERROR]);
    });

    it("yields only the error packet for an empty payload", () => {
      expect(parser.decodePayload("")).to.eql([ERROR]);
    });

    it("stops a payload at the first invalid packet, returned last", () => {
      const decoded = parser.decodePayload("4a\x1e9bad\x1e4b");
      expectPackets(decoded, [{ type: "message", data: "a" }, ERROR]);
      expectPackets(parser.decodePayload("4a\x1e\x1e4b"), [{ type: "message", data: "a" }, ERROR]);
      expectPackets(parser.decodePayload("4a\x1e"), [{ type: "message", data: "a" }, ERROR]);
    });

    oursOnly("stops a payload at invalid base64", () => {
      expectPackets(parser.decodePayload("bAQID\x1eb$$\x1e4b"), [
        { type: "message", data: Buffer.from([1, 2, 3]) },
        ERROR,
      ]);
    });

    it("never throws on random input", () => {
      const rand = prng(4);
      for (let i = 0; i < 3000; i++) {
        const text = randomString(rand, 40);
        const packet = parser.decodePacket(text);
        expect(TYPES.concat("error")).to.contain(packet.type);
        const packets = parser.decodePayload(text);
        expect(packets.length).to.be.greaterThan(0);
        packets.slice(0, -1).forEach((p) => expect(p.type).not.to.be("error"));
        parser.decodePacket(randomBytes(rand, 20));
      }
    });
  });

  describe("compatibility with the client parser (engine.io-parser@5)", () => {
    const packets = [
      { type: "open", data: '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000}' },
      { type: "close" },
      { type: "ping", data: "probe" },
      { type: "pong" },
      { type: "upgrade" },
      { type: "noop" },
      ...UNICODE.map((data) => ({ type: "message", data })),
      { type: "message", data: Buffer.from([0, 1, 255, 0x1e, 0x62]) },
    ];

    it("client decodes the packets we encode, for WebSocket and polling", () => {
      for (const packet of packets) {
        for (const supportsBinary of [true, false]) {
          const encoded = encodeV4Packet(packet, supportsBinary);
          expectPacket(clientParser.decodePacket(encoded, "nodebuffer"), packet);
        }
      }
    });

    it("we decode the packets the client encodes", () => {
      for (const packet of packets) {
        for (const supportsBinary of [true, false]) {
          clientParser.encodePacket(packet, supportsBinary, (encoded) => {
            expectPacket(parser.decodePacket(encoded), packet);
          });
        }
      }
    });

    it("client decodes the payloads we encode, and vice versa", () => {
      const many = manyPackets(300).concat(packets);
      expectPackets(clientParser.decodePayload(encodeV4Payload(many), "nodebuffer"), many);
      clientParser.encodePayload(many, (payload) => {
        expect(payload).to.be(encodeV4Payload(many));
        expectPackets(parser.decodePayload(payload), many);
      });
    });

    it("agrees with the client on arraybuffer decoding", () => {
      const payload = encodeV4Payload([{ type: "message", data: offsetView() }]);
      const ours = parser.decodePayload(payload, "arraybuffer")[0].data;
      const theirs = clientParser.decodePayload(payload, "arraybuffer")[0].data;
      expect(ours).to.be.an(ArrayBuffer);
      expect(Buffer.from(ours).equals(Buffer.from(theirs))).to.be(true);
    });
  });
});

describe("engine parser (Engine.IO v3)", () => {
  it("is protocol 3", () => {
    expect(parserV3.protocol).to.be(3);
  });

  describe("packets", () => {
    TYPES.forEach((type, code) => {
      it(`encodes and decodes "${type}" with and without data`, () => {
        expect(encodeV3Packet({ type }, true, false)).to.be(String(code));
        expect(encodeV3Packet({ type, data: "probe" }, false, false)).to.be(`${code}probe`);
        expectPacket(parserV3.decodePacket(String(code)), { type });
        expectPacket(parserV3.decodePacket(`${code}probe`), { type, data: "probe" });
      });
    });

    UNICODE.forEach((text) => {
      it(`round-trips the unicode string ${JSON.stringify(text)}, plain and utf8-encoded`, () => {
        const plain = encodeV3Packet({ type: "message", data: text }, true, false);
        expect(plain).to.be("4" + text);
        expectPacket(parserV3.decodePacket(plain), { type: "message", data: text });

        const utf8 = encodeV3Packet({ type: "message", data: text }, true, true);
        expect(utf8).to.be("4" + Buffer.from(text, "utf8").toString("latin1"));
        expectPacket(parserV3.decodePacket(utf8, undefined, true), { type: "message", data: text });
      });
    });

    it("accepts the callback in place of utf8encode or supportsBinary", () => {
      let encoded;
      parserV3.encodePacket({ type: "message", data: Buffer.from([1]) }, true, (e) => (encoded = e));
      expect([...encoded]).to.eql([4, 1]);
      parserV3.encodePacket({ type: "pong", data: "probe" }, (e) => (encoded = e));
      expect(encoded).to.be("3probe");
    });

    Object.entries(binaryInputs()).forEach(([name, data]) => {
      it(`sends ${name} data as type byte + bytes over WebSocket`, () => {
        const encoded = encodeV3Packet({ type: "message", data }, true, false);
        expect(Buffer.isBuffer(encoded)).to.be(true);
        expect([...encoded]).to.eql([4, 1, 2, 3]);
      });

      it(`sends ${name} data as "b4" + base64 without binary support`, () => {
        expect(encodeV3Packet({ type: "message", data }, false, false)).to.be("b4AQID");
        let base64;
        parserV3.encodeBase64Packet({ type: "message", data }, (e) => (base64 = e));
        expect(base64).to.be("b4AQID");
      });
    });

    it("decodes binary frames and base64 packets, as Buffer or ArrayBuffer", () => {
      const frame = new Uint8Array([9, 4, 1, 2, 3, 9]).subarray(1, 5);
      expectPacket(parserV3.decodePacket(Buffer.from(frame)), {
        type: "message",
        data: Buffer.from([1, 2, 3]),
      });
      expectPacket(parserV3.decodePacket(Buffer.from(frame), "arraybuffer"), {
        type: "message",
        data: new Uint8Array([1, 2, 3]).buffer,
      });
      expectPacket(parserV3.decodePacket(new Uint8Array([2, 7]).buffer), {
        type: "ping",
        data: Buffer.from([7]),
      });
      expectPacket(parserV3.decodePacket("b4AQID"), { type: "message", data: Buffer.from([1, 2, 3]) });
      expectPacket(parserV3.decodeBase64Packet("4AQID", "arraybuffer"), {
        type: "message",
        data: new Uint8Array([1, 2, 3]).buffer,
      });
    });
  });

  describe("payloads", () => {
    it('encodes no packets as "0:", which decodes to nothing', () => {
      expect(encodeV3Payload([], false)).to.be("0:");
      expect(encodeV3Payload([], true)).to.be("0:");
      expect(collectV3("0:")).to.eql([]);
    });

    it("frames string packets with their length in UTF-16 characters", () => {
      const packets = [
        { type: "message", data: "héllo" },
        { type: "message", data: "😀" },
        { type: "ping" },
        { type: "message", data: "2:4x" },
      ];
      const payload = encodeV3Payload(packets, true);
      expect(payload).to.be("6:4héllo3:4😀1:25:42:4x");
      expectPackets(collectV3(payload), packets);
    });

    it("uses the base64 form for binary packets without binary support", () => {
      const payload = encodeV3Payload(
        [
          { type: "message", data: offsetView() },
          { type: "message", data: "a" },
        ],
        false,
      );
      expect(payload).to.be("6:b4AQID2:4a");
      expectPackets(collectV3(payload), [
        { type: "message", data: Buffer.from([1, 2, 3]) },
        { type: "message", data: "a" },
      ]);
    });

    it("encodes a binary payload when binary is supported and a packet is binary", () => {
      const payload = encodeV3Payload(
        [{ type: "message", data: "é😀" }, { type: "message", data: offsetView() }, { type: "ping" }],
        true,
      );
      expect(Buffer.isBuffer(payload)).to.be(true);
      // "4é😀" is 7 UTF-8 bytes; the binary packet is type byte + 3 bytes.
      expect([...payload]).to.eql([
        0, 7, 255, 0x34, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 1, 4, 255, 4, 1, 2, 3, 0, 1, 255, 0x32,
      ]);
      expectPackets(collectV3(payload), [
        { type: "message", data: "é😀" },
        { type: "message", data: Buffer.from([1, 2, 3]) },
        { type: "ping" },
      ]);
      expect(collectV3(payload, "arraybuffer")[1].data).to.be.an(ArrayBuffer);
    });

    it("writes multi-digit lengths digit by digit", () => {
      const data = Buffer.alloc(1234, 7);
      const payload = encodeV3Payload([{ type: "message", data }], true);
      expect([...payload.subarray(0, 6)]).to.eql([1, 1, 2, 3, 5, 255]);
      expectPackets(collectV3(payload), [{ type: "message", data }]);
    });

    it("round-trips many packets, as text and as binary", () => {
      const packets = manyPackets(1000);
      expectPackets(collectV3(encodeV3Payload(packets, false)), packets);
      expectPackets(collectV3(encodeV3Payload(packets, true)), packets);
    });

    function decodeUntilThird(payload) {
      const seen = [];
      parserV3.decodePayload(payload, undefined, (packet) => {
        seen.push(packet);
        return seen.length < 3 ? undefined : false;
      });
      return seen.length;
    }

    it("stops when the callback returns false", () => {
      expect(decodeUntilThird(encodeV3Payload(manyPackets(10), false))).to.be(3);
    });

    // The reference ignores the callback's answer for binary payloads.
    oursOnly("stops a binary payload when the callback returns false", () => {
      expect(decodeUntilThird(encodeV3Payload(manyPackets(10), true))).to.be(3);
    });

    it("accepts the callback in place of binaryType", () => {
      const seen = [];
      parserV3.decodePayload("2:4a", (packet) => seen.push(packet));
      expectPackets(seen, [{ type: "message", data: "a" }]);
      parserV3.encodePayload([{ type: "ping" }], (payload) => expect(payload).to.be("1:2"));
    });
  });

  describe("malformed input", () => {
    const badStrings = {
      "an empty payload": "",
      "a non-numeric length": "x:4a",
      "a length mixed with letters": "1a:4a",
      "an empty length": ":4a",
      "a length beyond the data": "5:4a",
      "a huge length": "99999999999999999999999:4a",
      "a missing colon": "24a",
      "an unknown packet type": "1:9",
      "a negative length": "-1:4a",
    };
    Object.entries(badStrings).forEach(([name, input]) => {
      it(`yields one error packet for ${name}`, () => {
        expect(collectV3(input)).to.eql([ERROR]);
      });
    });

    it("delivers the packets before a truncated length prefix, then the error", () => {
      expectPackets(collectV3("2:4a3"), [{ type: "message", data: "a" }, ERROR]);
      expectPackets(collectV3("2:4a!!"), [{ type: "message", data: "a" }, ERROR]);
    });

    oursOnly("yields one error packet for bad base64 inside a payload", () => {
      expect(collectV3("4:b4!!")).to.eql([ERROR]);
      expect(parserV3.decodePacket("b4A")).to.eql(ERROR);
      expect(parserV3.decodePacket("b9AQID")).to.eql(ERROR);
    });

    const badBinary = {
      "an empty buffer": [],
      "an unknown frame marker": [2, 1, 255, 0x34],
      "a length digit above 9": [0, 12, 255, 0x34],
      "a missing length terminator": [0, 1, 2],
      "an empty length": [0, 255, 0x34],
      "a length beyond the data": [1, 9, 255, 4, 1],
      "a zero length": [0, 0, 255],
      "an unknown string packet type": [0, 1, 255, 0x39],
      "an unknown binary packet type": [1, 2, 255, 9, 1],
      "invalid UTF-8 in a string frame": [0, 3, 255, 0x34, 0xc3, 0x28],
      "a truncated UTF-8 sequence": [0, 2, 255, 0x34, 0xe2],
      "an overlong UTF-8 encoding": [0, 4, 255, 0x34, 0xe0, 0x80, 0xaf],
      "an endless length": [0, ...new Array(40).fill(9), 255, 0x34],
    };
    Object.entries(badBinary).forEach(([name, bytes]) => {
      oursOnly(`yields one error packet for a binary payload with ${name}`, () => {
        expect(collectV3(Buffer.from(bytes))).to.eql([ERROR]);
      });
    });

    oursOnly("stops a binary payload at the first bad frame", () => {
      const good = [0, 2, 255, 0x34, 0x61];
      expectPackets(collectV3(Buffer.from([...good, 7, 1, 255, 0x34])), [
        { type: "message", data: "a" },
        ERROR,
      ]);
    });

    oursOnly("yields the error packet for bad single packets", () => {
      const inputs = ["", "9", "x", Buffer.alloc(0), Buffer.from([9, 1]), null, 42];
      for (const input of inputs) expect(parserV3.decodePacket(input)).to.eql(ERROR);
      expect(parserV3.decodePacket("4\xc3\x28", undefined, true)).to.eql(ERROR);
      expect(parserV3.decodePacket("4\u0100", undefined, true)).to.eql(ERROR);
    });

    it("never throws on random input", () => {
      const rand = prng(3);
      for (let i = 0; i < 3000; i++) {
        const text = randomString(rand, 30);
        parserV3.decodePacket(text);
        parserV3.decodePacket(text, undefined, true);
        collectV3(text);
        const bytes = randomBytes(rand, 30);
        parserV3.decodePacket(bytes);
        const packets = collectV3(bytes);
        // An error, if any, is the last thing delivered (the reference goes on
        // after a bad packet in a binary payload).
        if (!impl.REFERENCE) packets.slice(0, -1).forEach((p) => expect(p.type).not.to.be("error"));
      }
    });
  });

  withV2Peer("compatibility with the socket.io v2 client parser (engine.io-parser@2)", () => {
    const packets = [
      { type: "open", data: '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000}' },
      { type: "close" },
      { type: "ping", data: "probe" },
      { type: "pong" },
      { type: "upgrade" },
      { type: "noop" },
      ...UNICODE.map((data) => ({ type: "message", data })),
      { type: "message", data: Buffer.from([0, 1, 255, 58, 0x62]) },
      { type: "message", data: Buffer.alloc(300, 5) },
    ];

    it("client decodes the packets we encode, and vice versa", () => {
      for (const packet of packets) {
        for (const supportsBinary of [true, false]) {
          expectPacket(clientParserV2.decodePacket(encodeV3Packet(packet, supportsBinary, false)), packet);
          clientParserV2.encodePacket(packet, supportsBinary, (encoded) => {
            expectPacket(parserV3.decodePacket(encoded), packet);
          });
        }
        const utf8 = encodeV3Packet(packet, true, true);
        if (typeof utf8 === "string")
          expectPacket(clientParserV2.decodePacket(utf8, undefined, true), packet);
      }
    });

    it("produces byte-identical payloads, text and binary", () => {
      const many = manyPackets(200).concat(packets);
      for (const supportsBinary of [true, false]) {
        const ours = encodeV3Payload(many, supportsBinary);
        clientParserV2.encodePayload(many, supportsBinary, (theirs) => {
          if (Buffer.isBuffer(theirs)) expect(theirs.equals(ours)).to.be(true);
          else expect(theirs).to.be(ours);
        });
      }
    });

    it("treats lone surrogates in binary payloads as the client does", () => {
      const lone = [
        { type: "message", data: "a\uD800b\uDFFF" },
        { type: "message", data: Buffer.from([1]) },
      ];
      clientParserV2.encodePayload(lone, true, (theirs) => {
        expect(theirs.equals(encodeV3Payload(lone, true))).to.be(true);
      });
      // Surrogates encoded as code points (CESU-8 style) by lenient encoders.
      const cesu = Buffer.from([0, 8, 255, 0x34, 0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80, 0x21]);
      const ours = collectV3(cesu);
      expectPackets(ours, collectPeerV2(cesu));
      expectPackets(ours, [{ type: "message", data: "\uFFFD\uFFFD!" }]);
    });

    it("client decodes the payloads we encode, and vice versa", () => {
      const many = manyPackets(200).concat(packets);
      for (const supportsBinary of [true, false]) {
        expectPackets(collectPeerV2(encodeV3Payload(many, supportsBinary)), many);
        clientParserV2.encodePayload(many, supportsBinary, (payload) => {
          expectPackets(collectV3(payload), many);
        });
      }
    });
  });
});
