"use strict";

// Sessions of raw traffic, as lists of operations ("ops") that ./peer.js executes. An op is
// plain data, so that the ops sent before a violation can be written to a file and replayed:
//
//   { op: "ws", conn, srv, path, headers, deflate }       open a WebSocket
//   { op: "send", conn, data, text }                      one WebSocket frame (data: string or Buffer;
//                                                         text: a Buffer sent as a text frame)
//   { op: "close", conn, how }                            close, terminate or reset a WebSocket
//   { op: "http", conn, srv, method, path, headers, body, chunks, wait, background }
//                                                         one HTTP request; the body written in
//                                                         `chunks` pieces; aborted after `wait` ms
//   { op: "tcp", conn, srv, data, end, wait }             raw bytes on a TCP connection, then
//                                                         end, reset or hold it
//   { op: "wait", ms }                                    a pause, for the server to answer
//
// Strings may hold "{sid}", "{pid}", "{offset}" and "{ackid}": the executor fills them in with
// what the server sent earlier in the same session. Everything else comes from the generator,
// so (seed, peer, session number) gives the same ops on every run.

const { random, mix } = require("./random");
const { engineStep, pollingBody, mutateText, mutateBytes } = require("./packets");

/** The two servers of ./server.js: allowEIO3 on, with recovery; allowEIO3 off, on another path. */
const SERVERS = [
  { path: "/socket.io/", eio3: true, maxHttpBufferSize: 1e5 },
  { path: "/live/", eio3: false, maxHttpBufferSize: 1e4 },
];

const WEIRD = {
  EIO: ["", "5", "x", "3.0", "%34", "4&EIO=3", "2"],
  transport: ["", "flashsocket", "POLLING", "__proto__", "polling", "websocket", "webtransport"],
  sid: ["", "x", "{sid}{sid}", "%00", "AAAAAAAAAAAAAAAAAAAA", "{sid}&sid=x", "__proto__"],
};
const METHODS = ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"];
const CONTENT_TYPES = [
  "application/octet-stream",
  "application/json",
  "multipart/form-data; boundary=x",
  "text/html",
  "",
];

function query(r, s, transport, withSid, v = s.v) {
  const params = [`EIO=${v}`, `transport=${transport}`];
  if (withSid) params.push("sid={sid}");
  if (r.chance(0.3)) params.push(`t=${r.int(1e6).toString(36)}`);
  if (v === 3 && r.chance(0.5)) params.push("b64=1");
  if (r.chance(s.m)) {
    const name = r.pick(Object.keys(WEIRD));
    const i = params.findIndex((p) => p.startsWith(`${name}=`));
    const param = `${name}=${r.pick(WEIRD[name])}`;
    if (i === -1 || r.chance(0.3)) params.push(param);
    else params[i] = param;
  }
  if (r.chance(s.m / 4)) params.push(r.pick(["%zz", "j=0", "a=" + "a".repeat(4000), "&&=", "EIO"]));
  return `${SERVERS[s.srv].path}?${params.join("&")}`;
}

function headers(r, s) {
  const h = {};
  if (r.chance(0.2)) h.origin = r.pick(["http://ok.example", "null", "http://evil.example", "x"]);
  if (r.chance(0.15)) h.cookie = r.pick(["io=abc", "io={sid}", "=;;;", "io=" + "a".repeat(3000), "a=%zz"]);
  if (r.chance(0.15))
    h["accept-encoding"] = r.pick(["gzip", "deflate", "br", "gzip;q=0, x", "*", "identity"]);
  if (r.chance(0.03)) h["x-deny"] = "1";
  if (r.chance(0.05)) h["x-forwarded-for"] = r.pick(["1.2.3.4, ::1", "", "x"]);
  if (r.chance(s.m / 4)) h["user-agent"] = "u".repeat(r.pick([10, 5000]));
  return h;
}

/** A session's frames as WebSocket sends: v3 sends binary with its packet type as first byte. */
function wsSends(r, s, conn, steps) {
  const ops = [];
  for (let i = 0; i < steps; i++) {
    for (const item of engineStep(r, s.skip, s.m, s.nsps)) {
      if (item.text !== undefined) ops.push({ op: "send", conn, data: item.text });
      else
        ops.push({
          op: "send",
          conn,
          data: s.v === 3 ? Buffer.concat([Buffer.from([4]), item.binary]) : item.binary,
        });
    }
    if (r.chance(s.m / 10)) ops.push({ op: "send", conn, data: Buffer.from([0x34, 0xff, 0xfe]), text: true });
  }
  return ops;
}

/** The CONNECT packets of a session's namespaces (the admin one needs the token). */
const connectPackets = (s) =>
  s.nsps.map((nsp) => `40${nsp === "/" ? "" : `${nsp},`}${nsp === "/admin" ? '{"token":"ok"}' : ""}`);

function post(r, s, conn, items, extra = {}) {
  const { body, contentType } = pollingBody(r, s.v, items, s.m);
  const h = headers(r, s);
  h["content-type"] = r.chance(s.m / 2) ? r.pick(CONTENT_TYPES) : contentType;
  return {
    op: "http",
    conn,
    srv: s.srv,
    method: "POST",
    path: query(r, s, "polling", true),
    headers: h,
    body,
    ...extra,
  };
}

function pollingSteps(r, s, conn, count) {
  const ops = [];
  for (let i = 0; i < count; i++) {
    const kind = r.weighted([
      [50, "post"],
      [20, "poll"],
      [6, "bg-poll"],
      [5, "method"],
      [5, "chunked"],
      [2, "oversize"],
      [3, "mismatch"],
      [1, "flood"],
    ]);
    if (kind === "post" || kind === "chunked") {
      const items = Array.from({ length: 1 + r.int(3) }, () => engineStep(r, s.skip, s.m, s.nsps)).flat();
      ops.push(post(r, s, conn, items, kind === "chunked" ? { chunks: r.between(2, 64) } : {}));
    } else if (kind === "poll" || kind === "bg-poll") {
      const path = query(r, s, "polling", true);
      ops.push({
        op: "http",
        conn,
        srv: s.srv,
        method: "GET",
        path,
        headers: headers(r, s),
        wait: r.pick([5, 20, 100]),
        background: kind === "bg-poll",
      });
    } else if (kind === "method") {
      const path = query(r, s, "polling", r.chance(0.8));
      ops.push({
        op: "http",
        conn,
        srv: s.srv,
        method: r.pick(METHODS),
        path,
        headers: headers(r, s),
        body: r.chance(0.5) ? "40" : undefined,
      });
    } else if (kind === "oversize") {
      ops.push(post(r, s, conn, [{ text: `42["echo","${"x".repeat(SERVERS[s.srv].maxHttpBufferSize)}"]` }]));
    } else if (kind === "mismatch" && !s.skip.has("eio-mismatch")) {
      const v = s.v === 3 ? 4 : 3;
      const path = query(r, s, "polling", true, v);
      ops.push({
        op: "http",
        conn,
        srv: s.srv,
        method: r.pick(["GET", "POST"]),
        path,
        headers: {},
        body: undefined,
        wait: 50,
        cls: "eio-mismatch",
      });
    } else if (kind === "flood" && !s.skip.has("chunk-flood")) {
      const chunks = r.between(2000, 30000);
      const packet = `4${"x".repeat(chunks)}`;
      const body = s.v === 4 ? packet : `${packet.length}:${packet}`;
      ops.push({ ...post(r, s, conn, [{ text: "4" }]), body, chunks, cls: "chunk-flood" });
    }
  }
  return ops;
}

const handshake = (r, s, conn) => ({
  op: "http",
  conn,
  srv: s.srv,
  method: "GET",
  path: query(r, s, "polling", false),
  headers: headers(r, s),
  wait: 1000,
});

const SESSIONS = {
  /** A WebSocket from the first request, then frames. */
  websocket(r, s) {
    const ops = [
      {
        op: "ws",
        conn: 0,
        srv: s.srv,
        path: query(r, s, "websocket", false),
        headers: headers(r, s),
        deflate: r.chance(0.3),
      },
    ];
    if (r.chance(0.9)) {
      ops.push(...connectPackets(s).map((data) => ({ op: "send", conn: 0, data })));
      // as a client does, wait for the CONNECT answers: a packet for a namespace still connecting ends the connection
      ops.push({ op: "wait", ms: 20 });
    }
    // some sessions lose their connection and recover it: short ones, which odd input spares more often
    const recover = r.chance(0.3);
    ops.push(...wsSends(r, s, 0, recover ? r.between(1, 6) : r.between(1, 40)));
    // the session id (pid) and an offset must have arrived before the connection is lost
    if (recover) ops.push({ op: "wait", ms: 50 });
    ops.push({ op: "close", conn: 0, how: r.pick(["close", "terminate", "reset"]) });
    if (recover) {
      // the connection is lost; a new one asks to recover the session with what it saw
      const auth = (nsp) => `{"pid":"{pid}","offset":"{offset}"${nsp === "/admin" ? ',"token":"ok"' : ""}}`;
      ops.push({
        op: "ws",
        conn: 1,
        srv: s.srv,
        path: `${SERVERS[s.srv].path}?EIO=${s.v}&transport=websocket`,
        headers: {},
      });
      for (const nsp of s.nsps)
        ops.push({ op: "send", conn: 1, data: `40${nsp === "/" ? "" : `${nsp},`}${auth(nsp)}` });
      ops.push({ op: "wait", ms: 20 });
      ops.push(...wsSends(r, s, 1, r.between(1, 5)));
    }
    return ops;
  },

  /** HTTP long-polling: a handshake, then POSTs and GETs, some of them wrong. */
  polling(r, s) {
    const ops = [handshake(r, s, 0)];
    if (r.chance(0.9))
      ops.push(
        post(
          r,
          s,
          0,
          connectPackets(s).map((text) => ({ text })),
        ),
      );
    ops.push(...pollingSteps(r, s, 0, r.between(1, 20)));
    if (r.chance(0.5)) ops.push(post(r, s, 0, [{ text: "1" }]));
    return ops;
  },

  /** Polling, then the upgrade to WebSocket (probe, upgrade), then both transports. */
  upgrade(r, s) {
    const ops = [handshake(r, s, 0)];
    if (r.chance(0.8))
      ops.push(
        post(
          r,
          s,
          0,
          connectPackets(s).map((text) => ({ text })),
        ),
      );
    if (r.chance(0.5))
      ops.push({
        op: "http",
        conn: 0,
        srv: s.srv,
        method: "GET",
        path: query(r, s, "polling", true),
        headers: {},
        wait: 0,
        background: true,
      });
    ops.push({
      op: "ws",
      conn: 1,
      srv: s.srv,
      path: query(r, s, "websocket", true),
      headers: headers(r, s),
      deflate: r.chance(0.3),
    });
    const probe = r.chance(s.m) ? mutateText(r, "2probe") : "2probe";
    ops.push({ op: "send", conn: 1, data: probe });
    if (r.chance(0.9)) ops.push({ op: "send", conn: 1, data: r.chance(s.m) ? mutateText(r, "5") : "5" });
    if (r.chance(0.2))
      ops.push({ op: "ws", conn: 2, srv: s.srv, path: query(r, s, "websocket", true), headers: {} });
    ops.push(...wsSends(r, s, 1, r.between(1, 20)));
    if (r.chance(0.3)) ops.push(...pollingSteps(r, s, 0, r.between(1, 3)));
    ops.push({ op: "close", conn: 1, how: r.pick(["close", "terminate", "reset"]) });
    return ops;
  },

  /** Raw bytes on TCP: broken HTTP, broken upgrades, upgrades to other paths, raw WebSocket frames. */
  tcp(r, s) {
    const path = query(r, s, r.pick(["polling", "websocket"]), false);
    const key = r.bytes(16).toString("base64");
    const upgrade = (p, extra = "") =>
      `GET ${p} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
    const kind = r.weighted([
      [3, "garbage"],
      [4, "request"],
      [3, "short-body"],
      [2, "bad-chunks"],
      [4, "bad-upgrade"],
      [4, "frames"],
      [3, "other-path"],
    ]);
    let data;
    let end = r.pick(["end", "reset", "hold"]);
    let cls;
    if (kind === "garbage") data = r.bytes(r.int(200));
    else if (kind === "request")
      data = mutateText(r, `GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: io=1\r\n\r\n`);
    else if (kind === "short-body")
      data = `POST ${path}&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: ${r.pick([10, 1e6])}\r\n\r\n4`;
    else if (kind === "bad-chunks")
      data = `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${r.pick(["zz\r\n", "2\r\n42\r\n", "ffffffffff\r\n4"])}`;
    else if (kind === "bad-upgrade")
      data = mutateText(
        r,
        upgrade(
          path,
          r.pick([
            "",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=99\r\n",
            "Sec-WebSocket-Protocol: ,,\r\n",
          ]),
        ),
      );
    else if (kind === "frames") {
      // a valid handshake, then WebSocket frames that break the framing (opcodes, RSV bits, mask, lengths)
      const frame = Buffer.from([
        r.pick([0x81, 0x82, 0x83, 0xc1, 0x01, 0x88, 0x89]),
        r.pick([0x82, 0x02, 0xfe, 0xff, 0x80]),
        ...r.bytes(r.int(16)),
      ]);
      data = Buffer.concat([
        Buffer.from(upgrade(query(r, s, "websocket", false))),
        r.chance(0.5) ? frame : mutateBytes(r, frame),
      ]);
    } else data = upgrade(r.pick(["/other", "/", "/socket.iox", "/live"]));
    // a mutated upgrade may no longer be for the engine's path: any reset upgrade is in the class
    if (end === "reset" && /upgrade/i.test(data.toString("latin1"))) {
      if (s.skip.has("upgrade-reset")) end = "end";
      else cls = "upgrade-reset";
    }
    return [{ op: "tcp", conn: 0, srv: s.srv, data, end, wait: r.pick([0, 20, 100]), cls }];
  },
};

/**
 * The ops of session `session` of peer `peer` in the run seeded with `seed`.
 *
 * @example
 * const ops = generateSession(1, 0, 0, new Set());   // the first session of peer 0 in run 1
 */
function generateSession(seed, peer, session, skip) {
  const r = random(mix(seed, peer, session));
  const srv = r.chance(0.7) ? 0 : 1;
  // the version a client claims; the off server gets v3 now and then, to refuse it
  const v = SERVERS[srv].eio3 ? r.pick([3, 4]) : r.chance(0.1) ? 3 : 4;
  // most sessions are mostly valid so that they get deep into the server; some are noise
  const m = r.pick([0.01, 0.03, 0.1, 0.5]);
  const nsps = r.pick([["/"], ["/"], ["/", "/admin"], ["/dyn-a"], ["/admin", "/dyn-b"]]);
  const kind = r.weighted([
    [35, "websocket"],
    [35, "polling"],
    [20, "upgrade"],
    [10, "tcp"],
  ]);
  return { kind, ops: SESSIONS[kind](r, { srv, v, m, nsps, skip }) };
}

module.exports = { generateSession, SERVERS };
