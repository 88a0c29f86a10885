"use strict";

// Socket.IO and Engine.IO packets, valid ones and mutations of them, as the fuzzer and the
// in-process random-input test send them. `r` is always a generator from ./random.js.
//
// Input classes named in CLASSES can be left out with `skip` (a Set of class names): a class
// is a kind of input known to take a server down, skipped only while its fix is pending.

/** Input classes that can be skipped, with what they send. */
const CLASSES = {
  "error-event": 'a Socket.IO EVENT named "error" (CVE-2024-38355 class)',
  "deep-nesting": "event arguments nested 1,000 to 100,000 levels deep, echoed through an ack",
  "chunk-flood": "a polling POST of thousands of one-byte chunks",
  "upgrade-reset": "an upgrade request to another path, then a TCP reset",
  "eio-mismatch": "a session's sid used with the other Engine.IO protocol version",
};

const NAMESPACES = ["/", "/", "/", "/admin", "/admin", "/dyn-a", "/dyn-b", "/nope", "admin", "/admin/", "//"];
const EVENTS = [
  "echo",
  "echo",
  "echo",
  "join",
  "leave",
  "say",
  "all",
  "bin",
  "ask",
  "rooms",
  "kick",
  "forbidden",
  "unknown",
  "disconnect",
  "disconnecting",
  "connect",
  "newListener",
  "__proto__",
  "constructor",
  "toString",
  "",
];
const AUTHS = [
  '{"token":"ok"}',
  "{}",
  '{"deny":true}',
  '{"pid":"{pid}","offset":"{offset}"}',
  '{"token":"ok","pid":"{pid}","offset":"{offset}"}',
  '"token"',
  "[1]",
  "null",
  '{"__proto__":{"token":"ok"}}',
];
const SCALARS = [
  "0",
  "1",
  "-1",
  "1.5",
  "1e308",
  "-0",
  "9007199254740993",
  "true",
  "false",
  "null",
  '""',
  '"x"',
  '"room1"',
  '"room2"',
  '"{sid}"',
  '"\\u0000"',
  '"\\ud800"',
  '"é😀"',
  '"__proto__"',
  '"constructor"',
];
const KEYS = ['"a"', '"__proto__"', '"constructor"', '"_placeholder"', '"num"', '"toJSON"', '"pid"', '""'];
const PLACEHOLDER_NUMS = ["0", "0", "1", "-1", '"0"', "1e9", "null", "1.5"];
/** A few valid Socket.IO packets, seeds for mutation. */
const SAMPLES = [
  "40",
  '40{"token":"x"}',
  "40/admin,",
  '42["echo",1]',
  '421["echo",{"a":[1,2,3]}]',
  '431["ok"]',
  '451-["echo",{"_placeholder":true,"num":0}]',
  '461-[{"_placeholder":true,"num":0}]',
  "41",
  '44{"message":"x"}',
];
// characters that matter to one of the parsers, for single-character edits
const ALPHABET = '0123456789[]{}",:-/_abcxyz#?\u00e9\u{1f600}\x1e\x00 ';
const BIG_NUMBERS = ["99999999999999999999", "-1", "1e3", "NaN", "0x10", "007", "4294967296", ""];

const placeholder = (r) => `{"_placeholder":true,"num":${r.pick(PLACEHOLDER_NUMS)}}`;

/** A JSON text at most `depth` levels deep; `plain` leaves out placeholders and long strings. */
function json(r, depth, plain = false) {
  const kind = depth <= 0 ? 0 : r.int(plain ? 10 : 12);
  if (kind < 6) return r.pick(SCALARS);
  if (kind < 8) return `[${Array.from({ length: r.int(4) }, () => json(r, depth - 1, plain)).join(",")}]`;
  if (kind < 10) {
    const fields = Array.from({ length: r.int(4) }, () => `${r.pick(KEYS)}:${json(r, depth - 1, plain)}`);
    return `{${fields.join(",")}}`;
  }
  if (kind < 11) return placeholder(r);
  return JSON.stringify("s".repeat(r.pick([100, 1000, 20000])));
}

function eventName(r, skip) {
  if (!skip.has("error-event") && r.chance(0.02)) return '"error"';
  return r.chance(0.95) ? JSON.stringify(r.pick(EVENTS)) : r.pick(["1", "null", "{}", "[]", '"error "']);
}

/** An event's arguments; the application's room events mostly get a room name first. */
function eventArgs(r, name, plain = false) {
  const room = /^"(join|leave|say)"$/.test(name) && r.chance(0.8) ? `,${r.pick(['"room1"', '"room2"'])}` : "";
  return room + Array.from({ length: r.int(3) }, () => `,${json(r, 3, plain)}`).join("");
}

// the events of the application in ./server.js, "kick" (which ends the socket) the rarest
const APP_EVENTS = [
  "echo",
  "echo",
  "echo",
  "join",
  "join",
  "say",
  "say",
  "leave",
  "all",
  "bin",
  "ask",
  "rooms",
  "forbidden",
  "unknown",
];

/**
 * A valid Socket.IO packet to one of the namespaces `nsps` the session joined: what a
 * well-behaved client sends, so that a session gets deep into the application.
 */
function validPacket(r, skip, nsps) {
  const prefix = nspPrefix(r.pick(nsps));
  // a client may emit "error" like any event (socket.emit("error") in socket.io-client)
  const special = r.chance(0.01) ? "kick" : !skip.has("error-event") && r.chance(0.005) ? "error" : null;
  const name = JSON.stringify(special || r.pick(APP_EVENTS));
  switch (
    r.weighted([
      [75, "event"],
      [10, "binary"],
      [8, "ack"],
      [4, "connect"],
      [3, "disconnect"],
    ])
  ) {
    case "event":
      return { text: `2${prefix}${ackId(r)}[${name}${eventArgs(r, name, true)}]`, attachments: [] };
    case "binary": {
      const count = 1 + r.int(2);
      const holders = Array.from({ length: count }, (_, num) => `,{"_placeholder":true,"num":${num}}`).join(
        "",
      );
      return {
        text: `5${count}-${prefix}${ackId(r)}[${name}${holders}]`,
        attachments: Array.from({ length: count }, () => r.bytes(r.int(64))),
      };
    }
    case "ack":
      return { text: `3${prefix}{ackid}[${json(r, 2, true)}]`, attachments: [] };
    case "connect":
      return { text: `0${nspPrefix(r.pick(["/", "/dyn-c"]))}`, attachments: [] };
    default:
      return { text: `1${prefix}`, attachments: [] };
  }
}

const nspPrefix = (nsp) => (nsp === "/" ? "" : `${nsp},`);
const ackId = (r) => (r.chance(0.5) ? "" : String(r.int(1000)));

/**
 * One Socket.IO packet as text, with its binary attachments: a CONNECT, an EVENT with or
 * without an ack id, an ACK, binary variants, a DISCONNECT, or types a client may not send.
 *
 * @example
 * const { text, attachments } = sioPacket(r, new Set());   // e.g. '2/admin,12["echo",1]', []
 */
function sioPacket(r, skip, nsp = r.pick(NAMESPACES)) {
  const prefix = nspPrefix(nsp);
  const kind = r.weighted([
    [14, "connect"],
    [50, "event"],
    [8, "ack"],
    [10, "binary"],
    [3, "deep"],
    [4, "disconnect"],
    [2, "error"],
    [2, "other"],
  ]);
  switch (kind) {
    case "connect":
      return { text: `0${prefix}${r.chance(0.6) ? r.pick(AUTHS) : ""}`, attachments: [] };
    case "event": {
      const name = eventName(r, skip);
      return { text: `2${prefix}${ackId(r)}[${name}${eventArgs(r, name)}]`, attachments: [] };
    }
    case "ack":
      return {
        text: `3${prefix}${r.chance(0.5) ? "{ackid}" : ackId(r) || "0"}[${json(r, 2)}]`,
        attachments: [],
      };
    case "binary": {
      const count = r.int(3);
      const declared = r.chance(0.9) ? count : r.int(4);
      const holders = Array.from({ length: count }, () => `,${placeholder(r)}`).join("");
      const head = r.chance(0.8)
        ? `5${declared}-${prefix}${ackId(r)}[${eventName(r, skip)}`
        : `6${declared}-${prefix}{ackid}[0`;
      return {
        text: `${head}${holders}]`,
        attachments: Array.from({ length: count }, () => r.bytes(r.int(64))),
      };
    }
    case "deep": {
      // a deeply nested argument, sent to "echo" with an ack so that the server encodes it back
      const depth = skip.has("deep-nesting")
        ? r.between(10, 60)
        : r.pick([r.between(10, 60), r.between(1000, 100000)]);
      return {
        text: `2${prefix}${r.int(1000)}["echo",${"[".repeat(depth)}${"]".repeat(depth)}]`,
        attachments: [],
        depth,
      };
    }
    case "disconnect":
      return { text: `1${prefix}`, attachments: [] };
    case "error":
      return { text: `4${prefix}{"message":"x"}`, attachments: [] };
    default:
      return { text: `${r.pick(["7", "8", "9", "", "-", "2x"])}${prefix}${json(r, 2)}`, attachments: [] };
  }
}

/** A text with one to four edits: characters inserted, removed or replaced, a cut, a copy, a number swapped. */
function mutateText(r, text) {
  let chars = Array.from(text);
  const edits = 1 + r.int(4);
  for (let i = 0; i < edits; i++) {
    const pos = r.int(chars.length + 1);
    const op = r.int(10);
    if (op < 3) chars.splice(pos, 0, r.pick(ALPHABET));
    else if (op < 5) chars.splice(pos, 1);
    else if (op < 7) chars[pos] = r.pick(ALPHABET);
    else if (op < 8) chars = chars.slice(0, pos);
    else if (op < 9) chars.splice(pos, 0, ...chars.slice(r.int(chars.length + 1)).slice(0, 16));
    else {
      const joined = chars.join("").replace(/\d+/, r.pick(BIG_NUMBERS));
      chars = Array.from(joined);
    }
  }
  return chars.join("");
}

/** Bytes with a few flipped, cut or added. */
function mutateBytes(r, bytes) {
  let out = Buffer.from(bytes);
  const op = r.int(3);
  if (op === 0 && out.length > 0) out[r.int(out.length)] ^= 1 << r.int(8);
  else if (op === 1) out = out.subarray(0, r.int(out.length + 1));
  else out = Buffer.concat([out, r.bytes(1 + r.int(8))]);
  return out;
}

/**
 * The Engine.IO packets of one step of a session: a MESSAGE carrying a valid Socket.IO packet
 * (and its attachments); or, with probability `m`, something odd: any Socket.IO packet, a
 * ping, pong, noop, upgrade, close, a bad type or raw bytes, half of the time mutated.
 * Each is `{ text }` or `{ binary }`.
 * `nsps`: the namespaces the session connected to.
 */
function engineStep(r, skip, m, nsps = ["/"]) {
  const message = ({ text, attachments }) => [
    { text: `4${text}` },
    ...attachments.map((binary) => ({ binary })),
  ];
  if (!r.chance(m))
    return r.chance(0.95) ? message(validPacket(r, skip, nsps)) : [{ text: r.pick(["3", "6"]) }];
  let items;
  const kind = r.weighted([
    [80, "message"],
    [4, "ping"],
    [3, "pong"],
    [2, "noop"],
    [2, "upgrade"],
    [2, "close"],
    [2, "bad"],
    [5, "raw"],
  ]);
  if (kind === "message") {
    const packet = sioPacket(r, skip, r.chance(0.5) ? r.pick(nsps) : undefined);
    items = message(packet);
    // a deep packet is sent as generated: mutating it would only make it shallow garbage
    if (packet.depth !== undefined) return items;
  } else if (kind === "raw") items = [{ binary: r.bytes(r.int(32)) }];
  else {
    const texts = {
      ping: ["2", "2probe"],
      pong: ["3", "3probe"],
      noop: ["6"],
      upgrade: ["5"],
      close: ["1"],
      bad: ["0", "7", "", "40"],
    };
    items = [{ text: r.pick(texts[kind]) }];
  }
  if (r.chance(0.5)) {
    const i = r.int(items.length);
    const item = items[i];
    items[i] =
      item.text !== undefined ? { text: mutateText(r, item.text) } : { binary: mutateBytes(r, item.binary) };
  }
  return items;
}

/** The digits of `n` as bytes of value 0-9, as the Engine.IO v3 binary payload writes lengths. */
const lengthBytes = (n) => Array.from(String(n), Number);

/**
 * An HTTP long-polling body for the packets of `items`, for protocol version `v`:
 * v4 joins packets with a record separator (binary as "b" + base64); v3 prefixes each with
 * its length, as text ("12:42[...]", binary as "b4" + base64) or as a binary payload.
 * With probability `m` the framing itself is broken.
 */
function pollingBody(r, v, items, m) {
  if (v === 4) {
    const parts = items.map((i) => (i.text !== undefined ? i.text : `b${i.binary.toString("base64")}`));
    const sep = r.chance(m) ? r.pick(["", "\x1e\x1e", "\x1f", "\n"]) : "\x1e";
    return { body: parts.join(sep), contentType: "text/plain;charset=UTF-8" };
  }
  if (r.chance(0.3)) {
    // v3 binary payload: 0 (string) or 1 (binary), the length as digit bytes, 255, the packet
    const chunks = items.map((i) => {
      const data = i.text !== undefined ? Buffer.from(i.text) : Buffer.concat([Buffer.from([4]), i.binary]);
      const length = i.text !== undefined ? i.text.length : data.length;
      const len = r.chance(m) ? length + r.pick([-1, 1, 1e6]) : length;
      return Buffer.concat([Buffer.from([i.text !== undefined ? 0 : 1, ...lengthBytes(len), 255]), data]);
    });
    const body = Buffer.concat(chunks);
    return { body: r.chance(m) ? mutateBytes(r, body) : body, contentType: "application/octet-stream" };
  }
  const parts = items.map((i) => {
    const packet = i.text !== undefined ? i.text : `b4${i.binary.toString("base64")}`;
    const len = r.chance(m)
      ? r.pick([packet.length + 1, packet.length - 1, "x", "", "99999999"])
      : packet.length;
    return `${len}:${packet}`;
  });
  return { body: parts.join(""), contentType: "text/plain;charset=UTF-8" };
}

module.exports = {
  CLASSES,
  SAMPLES,
  sioPacket,
  validPacket,
  mutateText,
  mutateBytes,
  engineStep,
  pollingBody,
  json,
};
