/**
 * The relay of forwarded polling requests (session forwarding, forwarding.ts). A request for
 * a session another node owns is written on a kept-alive TCP connection to that node's
 * internal listener, one request at a time per connection, and the owner's answer is parsed
 * here and relayed to the client's response.
 *
 * Node's HTTP client did this before: a ClientRequest, the agent's bookkeeping, an
 * IncomingMessage and a pipe per request, for a request of a few hundred bytes whose answer
 * comes from this package on another node; without them forwarding costs a deployment less
 * than half the CPU it did (bench/README.md, `node bench/forwarding.js`). Here the request
 * goes out in one write (its head from the client's raw headers; its body, if any, as the
 * client sends it) and the answer is read by a small parser that knows
 * Content-Length, chunked and close-delimited bodies and interim (1xx) answers. Anything
 * else from the owner (a malformed or oversized head, an unexpected 101, bytes it sends
 * unasked) fails the request as an unreachable owner does.
 */
import { connect } from "net";
import type { Socket as NetSocket } from "net";
import type { IncomingMessage, ServerResponse } from "http";
import debugModule from "debug";
import { HeartbeatQueue } from "./heartbeat";
import type { HeartbeatEntry } from "./heartbeat";

const debug = debugModule("engine:forwarding");

/**
 * A node to forward to.
 *
 * @internal
 */
export interface RelayTarget {
  host: string;
  port: number;
  /** "host:port", as the session tag names it */
  address: string;
}

/**
 * Told of each forwarded request that failed: `answered` once the owner's status and
 * headers went to the client's response (it can only be cut then).
 *
 * @internal
 */
export type RelayFailure = (
  req: IncomingMessage,
  res: ServerResponse,
  answered: boolean,
  reason: string,
  target: RelayTarget,
) => void;

// a node that does not accept the connection in this time is taken for gone
export const CONNECT_TIMEOUT = 2000;
// A kept-alive connection between two nodes is dropped by the node that opened it after
// IDLE_CONNECTION ms without a request, long before the owner would drop it
// (OWNER_KEEP_ALIVE, the internal listener's keepAliveTimeout): a request written on a
// connection that the owner is closing is reset, and its client answered 400 "Session ID
// unknown" though the owner is up. The margin is wider than any event loop lag.
export const IDLE_CONNECTION = 5000;
export const OWNER_KEEP_ALIVE = 30000;
// the owner's answer head (Node's own limit on a head it reads is 16 KB)
const MAX_HEAD = 64 * 1024;
// a chunk-size or trailer line of a chunked answer
const MAX_LINE = 8 * 1024;

// RFC 9110 7.6.1, plus the historical Proxy-Connection and Keep-Alive
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** The header carrying the token of the deployment, on the internal listener only. */
export const FORWARDING_HEADER = "x-socket-io-forwarding";

// What a header name is to the relay (HOP_BY_HOP, and the names it reads).
const enum Name {
  Other,
  HopByHop,
  Connection,
  ContentLength,
  TransferEncoding,
  Host,
  Forwarding,
}

function nameOf(name: string): Name {
  // by length first: most names are of none of these lengths, and are not even lower-cased
  switch (name.length) {
    case 2:
      return name.toLowerCase() === "te" ? Name.HopByHop : Name.Other;
    case 4:
      return name.toLowerCase() === "host" ? Name.Host : Name.Other;
    case 7: {
      const lower = name.toLowerCase();
      return lower === "trailer" || lower === "upgrade" ? Name.HopByHop : Name.Other;
    }
    case 10: {
      const lower = name.toLowerCase();
      return lower === "connection" ? Name.Connection : lower === "keep-alive" ? Name.HopByHop : Name.Other;
    }
    case 14:
      return name.toLowerCase() === "content-length" ? Name.ContentLength : Name.Other;
    case 16:
      return name.toLowerCase() === "proxy-connection" ? Name.HopByHop : Name.Other;
    case 17:
      return name.toLowerCase() === "transfer-encoding" ? Name.TransferEncoding : Name.Other;
    case 18:
      return name.toLowerCase() === "proxy-authenticate" ? Name.HopByHop : Name.Other;
    case 19:
      return name.toLowerCase() === "proxy-authorization" ? Name.HopByHop : Name.Other;
    case 22:
      return name.toLowerCase() === FORWARDING_HEADER ? Name.Forwarding : Name.Other;
    default:
      return Name.Other;
  }
}

/**
 * Whether a Connection header value lists nothing but keep-alive and close, the common
 * case, in which no other header of the message is hop-by-hop for being listed.
 */
function plainConnection(value: string): boolean {
  const lower = value.toLowerCase();
  return lower === "keep-alive" || lower === "close";
}

/** Whether a comma-separated header value has `token` (lower case) among its tokens. */
function hasToken(value: string, token: string): boolean {
  const lower = value.toLowerCase();
  if (lower === token) {
    return true;
  }
  for (const item of lower.split(",")) {
    if (item.trim() === token) {
      return true;
    }
  }
  return false;
}

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}

/** The status code of a status line "HTTP/1.x NNN reason" ending at `end`; -1 if it is not one. */
function statusCode(text: string, end: number): number {
  if (
    end < 12 ||
    !text.startsWith("HTTP/1.") ||
    (text.charCodeAt(7) !== 48 && text.charCodeAt(7) !== 49) ||
    text.charCodeAt(8) !== 32 ||
    (end > 12 && text.charCodeAt(12) !== 32)
  ) {
    return -1;
  }
  let code = 0;
  for (let i = 9; i < 12; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) {
      return -1;
    }
    code = code * 10 + digit;
  }
  return code;
}

/**
 * The header names a Connection header lists (hop-by-hop too), lower case.
 *
 * @internal
 */
export function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) {
    return undefined;
  }
  const tokens = new Set<string>();
  for (const token of String(value).split(",")) {
    tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

/**
 * Response headers (raw: names and values alternate) minus the hop-by-hop ones, those the
 * Connection header lists and those in `skip` (lower case).
 *
 * @internal
 */
export function relayedHeaders(raw: string[], listed: Set<string> | undefined, skip?: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!HOP_BY_HOP.has(name) && !(listed && listed.has(name)) && !(skip && skip.has(name))) {
      out.push(raw[i], raw[i + 1]);
    }
  }
  return out;
}

/**
 * Whether a request header goes to the owner: not a hop-by-hop one, not one that the
 * Connection header lists, not the forwarding header (a client's, on the public port).
 *
 * @internal
 */
export function isEndToEnd(
  lowerName: string,
  listed: Set<string> | undefined,
  forwardingHeader: string,
): boolean {
  return !HOP_BY_HOP.has(lowerName) && lowerName !== forwardingHeader && !(listed && listed.has(lowerName));
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const CRLF = Buffer.from("\r\n", "latin1");
const DIGITS = /^\d{1,15}$/;
const CHUNK_SIZE_DIGITS = /^[0-9A-Fa-f]{1,8}$/;
const CONTENT_LENGTH = new Set(["content-length"]);

// where the parser of a connection is in the owner's answer
const enum Phase {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Done,
}

function uncork(socket: NetSocket): void {
  socket.uncork();
}

/**
 * One forwarded request: the client's request and response, the connection it went out on.
 */
class Exchange implements HeartbeatEntry {
  // the request's deadline (Relay.deadlines)
  hbQueue: HeartbeatQueue | null = null;
  hbPrev: HeartbeatEntry | null = null;
  hbNext: HeartbeatEntry | null = null;
  hbDue = 0;
  /** the owner's status and headers went to the client's response */
  answered = false;
  /** answered whole, failed or abandoned: nothing more to do */
  done = false;
  /** the whole request (head and body) was written to the connection */
  sent = false;
  /** the request body waits for the connection to drain */
  paused = false;
  /** one listener for the client's response closing early and the client's errors */
  private readonly onGone: () => void;
  private onData: ((chunk: Buffer) => void) | undefined;
  private onEnd: (() => void) | undefined;

  constructor(
    readonly relay: Relay,
    readonly link: Link,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.onGone = () => {
      if (!this.done) {
        // the client went away: the owner sees the request end early, as it would have
        debug("client of a forwarded request gone");
        this.abandon();
      }
    };
    res.on("close", this.onGone);
    res.on("error", this.onGone);
    req.on("error", this.onGone);
  }

  /** Writes the request to the connection: its head, then its body as the client sends it. */
  send(head: string, body: "none" | "length" | "chunked"): void {
    const socket = this.link.socket;
    if (body === "none") {
      this.sent = true;
      socket.write(head, "latin1");
      return;
    }
    const req = this.req;
    // the head and what the client already sent of the body leave in one write: the body
    // of a request parsed with its head comes in the next tick, once the request flows
    socket.cork();
    socket.write(head, "latin1");
    const chunked = body === "chunked";
    this.onData = (chunk: Buffer) => {
      if (this.done) {
        return;
      }
      let flushed: boolean;
      if (chunked) {
        // the client's chunks arrive decoded: encoded again for the owner
        socket.cork();
        socket.write(chunk.length.toString(16) + "\r\n", "latin1");
        socket.write(chunk);
        flushed = socket.write("\r\n", "latin1");
        socket.uncork();
      } else {
        flushed = socket.write(chunk);
      }
      if (!flushed) {
        this.paused = true;
        req.pause();
      }
    };
    this.onEnd = () => {
      if (this.done) {
        return;
      }
      if (chunked) {
        socket.write("0\r\n\r\n", "latin1");
      }
      this.sent = true;
    };
    req.on("data", this.onData);
    req.on("end", this.onEnd);
    process.nextTick(uncork, socket);
  }

  /** The connection drained: the rest of the body may go. */
  drained(): void {
    if (this.paused && !this.done) {
      this.paused = false;
      this.req.resume();
    }
  }

  /** The owner's status and headers; false when the client's response refused them. */
  head(status: number, message: string, headers: string[]): boolean {
    const res = this.res;
    const { statusCode, statusMessage } = res;
    try {
      res.writeHead(status, message, headers);
    } catch (err) {
      // a header Node will not write (an owner that is not this package?): nothing was
      // sent, and the response is as it was for the answer given here instead
      res.statusCode = statusCode;
      res.statusMessage = statusMessage;
      this.fail("answer head refused: " + (err as Error).message);
      return false;
    }
    this.answered = true;
    return true;
  }

  /** A piece of the answer's body. */
  write(piece: Buffer): void {
    if (!this.res.write(piece)) {
      this.link.socket.pause();
      this.res.once("drain", () => {
        if (this.link.exchange === this) {
          this.link.socket.resume();
        }
      });
    }
  }

  /** The answer is whole: its last piece, if any, and the end. */
  finish(last: Buffer | undefined): void {
    this.settle();
    if (last !== undefined && last.length > 0) {
      this.res.end(last);
    } else {
      this.res.end();
    }
  }

  /** The owner did not answer, or not in full: the relay's user answers or cuts. */
  fail(reason: string): void {
    if (this.done) {
      return;
    }
    this.settle();
    this.link.drop(this);
    this.relay.failed(this.req, this.res, this.answered, reason, this.link.target);
  }

  /** The client went away: so does the request to the owner. */
  private abandon(): void {
    this.settle();
    this.link.drop(this);
  }

  private settle(): void {
    this.done = true;
    this.relay.deadlines.remove(this);
    if (!this.sent && this.onData !== undefined) {
      // the rest of the body, if the client still sends it, goes nowhere: the request's
      // answer is settled (a body the owner refused, say)
      this.req.removeListener("data", this.onData);
      this.req.removeListener("end", this.onEnd as () => void);
      this.req.resume();
    }
  }
}

/** A connection to an owner's internal listener, and the parser of its answers. */
class Link implements HeartbeatEntry {
  // the idle deadline (Relay.idleLinks), while in its target's pool
  hbQueue: HeartbeatQueue | null = null;
  hbPrev: HeartbeatEntry | null = null;
  hbNext: HeartbeatEntry | null = null;
  hbDue = 0;
  readonly socket: NetSocket;
  /** the request in flight on this connection */
  exchange: Exchange | null = null;
  /** in its target's pool of idle connections */
  pooled = false;
  private gone = false;
  private phase = Phase.Head;
  // the start of a head or a line that the next read completes
  private pending: Buffer | null = null;
  // bytes left of a Content-Length body or of a chunk
  private remaining = 0;
  // the connection ends with this answer (the owner said close, or the body runs to its end)
  private last = false;
  private connectTimer: NodeJS.Timeout | null;

  constructor(
    readonly relay: Relay,
    readonly target: RelayTarget,
  ) {
    const socket = connect({ host: target.host, port: target.port });
    this.socket = socket;
    socket.setNoDelay(true);
    this.connectTimer = setTimeout(() => this.fail("connect timeout"), CONNECT_TIMEOUT);
    socket.once("connect", () => this.clearConnectTimer());
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onEnd());
    socket.on("error", (err: Error) => this.fail(err.message));
    socket.on("close", () => this.fail("connection closed"));
    socket.on("drain", () => {
      if (this.exchange !== null) {
        this.exchange.drained();
      }
    });
  }

  /** Takes the connection out of service: its request, if any, is left to its caller. */
  destroy(): void {
    if (this.gone) {
      return;
    }
    this.gone = true;
    this.clearConnectTimer();
    this.relay.forget(this);
    this.socket.destroy();
  }

  get usable(): boolean {
    return !this.gone;
  }

  /** The request in flight is over before its answer: the connection goes with it. */
  drop(exchange: Exchange): void {
    if (this.exchange === exchange) {
      this.exchange = null;
      this.destroy();
    }
  }

  /** Fails the request in flight, if any, and closes the connection. */
  fail(reason: string): void {
    const exchange = this.exchange;
    if (exchange !== null) {
      exchange.fail(reason);
    } else {
      this.destroy();
    }
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  private onEnd(): void {
    if (this.exchange !== null && this.phase === Phase.UntilClose) {
      this.complete(undefined, false);
    }
    this.fail("closed by the owner");
  }

  private onData(chunk: Buffer): void {
    const exchange = this.exchange;
    if (exchange === null) {
      // nothing was asked: an owner that speaks out of turn gets no more requests here
      this.destroy();
      return;
    }
    let data = chunk;
    if (this.pending !== null) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    try {
      this.parse(exchange, data);
    } catch (err) {
      // a bug here must not take the process down: the request fails as for a lost owner
      this.fail("relay error: " + (err as Error).message);
    }
  }

  private parse(exchange: Exchange, data: Buffer): void {
    const length = data.length;
    let at = 0;
    let last: Buffer | undefined;
    while (at < length && this.phase !== Phase.Done) {
      if (this.exchange !== exchange) {
        return;
      }
      switch (this.phase) {
        case Phase.Head: {
          const end = data.indexOf(HEAD_END, at);
          if (end === -1) {
            if (length - at > MAX_HEAD) {
              this.fail("answer head too large");
            } else {
              this.pending = data.subarray(at);
            }
            return;
          }
          if (!this.onHead(exchange, data.toString("latin1", at, end))) {
            return;
          }
          at = end + 4;
          break;
        }
        case Phase.Length: {
          const take = Math.min(this.remaining, length - at);
          const piece = data.subarray(at, at + take);
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.phase = Phase.Done;
            last = piece;
          } else {
            exchange.write(piece);
          }
          break;
        }
        case Phase.ChunkSize:
        case Phase.Trailers: {
          const eol = data.indexOf(CRLF, at);
          if (eol === -1) {
            if (length - at > MAX_LINE) {
              this.fail("chunked answer line too long");
            } else {
              this.pending = data.subarray(at);
            }
            return;
          }
          const line = data.toString("latin1", at, eol);
          at = eol + 2;
          if (this.phase === Phase.Trailers) {
            // trailers are not relayed (Node's client dropped them too); the empty line ends them
            if (line === "") {
              this.phase = Phase.Done;
            }
            break;
          }
          const semicolon = line.indexOf(";");
          const digits = (semicolon === -1 ? line : line.slice(0, semicolon)).trim();
          if (!CHUNK_SIZE_DIGITS.test(digits)) {
            this.fail("malformed chunk size");
            return;
          }
          const size = parseInt(digits, 16);
          if (size === 0) {
            this.phase = Phase.Trailers;
          } else {
            this.remaining = size;
            this.phase = Phase.ChunkData;
          }
          break;
        }
        case Phase.ChunkData: {
          const take = Math.min(this.remaining, length - at);
          exchange.write(data.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.phase = Phase.ChunkEnd;
          }
          break;
        }
        case Phase.ChunkEnd: {
          if (length - at < 2) {
            this.pending = data.subarray(at);
            return;
          }
          if (data[at] !== 13 || data[at + 1] !== 10) {
            this.fail("malformed chunk end");
            return;
          }
          at += 2;
          this.phase = Phase.ChunkSize;
          break;
        }
        case Phase.UntilClose: {
          exchange.write(at === 0 ? data : data.subarray(at));
          at = length;
          break;
        }
      }
    }
    if (this.phase === Phase.Done && this.exchange === exchange) {
      this.complete(last, at < length);
    }
  }

  /** Reads the owner's status and headers; false when the request failed on them. */
  private onHead(exchange: Exchange, text: string): boolean {
    // "HTTP/1.x NNN reason"
    let end = text.indexOf("\r\n");
    if (end === -1) {
      end = text.length;
    }
    const code = statusCode(text, end);
    if (code === -1) {
      this.fail("malformed status line");
      return false;
    }
    const message = end > 12 ? text.slice(13, end) : "";
    const raw: string[] = [];
    let contentLength = -1;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let listing = false;
    for (let at = end + 2; at < text.length; at = end + 2) {
      end = text.indexOf("\r\n", at);
      if (end === -1) {
        end = text.length;
      }
      const colon = text.indexOf(":", at);
      if (colon <= at || colon > end) {
        this.fail("malformed header line");
        return false;
      }
      const name = text.slice(at, colon);
      // the value without the whitespace around it
      let from = colon + 1;
      let to = end;
      while (from < to && isBlank(text.charCodeAt(from))) {
        from++;
      }
      while (to > from && isBlank(text.charCodeAt(to - 1))) {
        to--;
      }
      const value = text.slice(from, to);
      switch (nameOf(name)) {
        case Name.Other:
        case Name.Host:
        case Name.Forwarding:
          break;
        case Name.ContentLength: {
          const n = DIGITS.test(value) ? Number(value) : -1;
          if (n === -1 || (contentLength !== -1 && contentLength !== n)) {
            this.fail("malformed Content-Length");
            return false;
          }
          contentLength = n;
          break;
        }
        case Name.TransferEncoding:
          transferEncoding = transferEncoding === undefined ? value : transferEncoding + ", " + value;
          continue;
        case Name.Connection:
          connection = connection === undefined ? value : connection + ", " + value;
          listing = listing || !plainConnection(value);
          continue;
        default:
          continue;
      }
      raw.push(name, value);
    }
    if (code < 200) {
      if (code === 101) {
        this.fail("unexpected 101 answer");
        return false;
      }
      // an interim answer (100 Continue to a client's Expect): the final one follows
      return true;
    }
    const close = connection !== undefined && hasToken(connection, "close");
    this.last =
      close ||
      (text.charCodeAt(7) === 48 && !(connection !== undefined && hasToken(connection, "keep-alive")));
    let headers = raw;
    if (exchange.req.method === "HEAD" || code === 204 || code === 304) {
      this.phase = Phase.Done;
    } else if (transferEncoding !== undefined) {
      // the body is decoded here: its length is the client response's own business
      headers = relayedHeaders(raw, undefined, CONTENT_LENGTH);
      const codings = transferEncoding.split(",");
      if (codings[codings.length - 1].trim().toLowerCase() === "chunked") {
        this.phase = Phase.ChunkSize;
      } else {
        this.phase = Phase.UntilClose;
        this.last = true;
      }
    } else if (contentLength === 0) {
      this.phase = Phase.Done;
    } else if (contentLength > 0) {
      this.phase = Phase.Length;
      this.remaining = contentLength;
    } else {
      this.phase = Phase.UntilClose;
      this.last = true;
    }
    if (listing) {
      // the Connection header names other headers, hop-by-hop too: left out as well
      headers = relayedHeaders(headers, connectionTokens(connection));
    }
    if (close) {
      // the owner closing its connection after this answer (a refused POST body) closes the
      // client's too, as it would have without a hop between them
      headers.push("Connection", "close");
    }
    return exchange.head(code, message, headers);
  }

  /** The answer is whole: relayed, and the connection kept for the next request if it can be. */
  private complete(last: Buffer | undefined, leftover: boolean): void {
    const exchange = this.exchange as Exchange;
    this.exchange = null;
    const reusable = !this.last && !leftover && exchange.sent && !this.gone;
    this.phase = Phase.Head;
    this.pending = null;
    this.last = false;
    exchange.finish(last);
    if (reusable) {
      this.relay.release(this);
    } else {
      this.destroy();
    }
  }
}

/**
 * The forwarded polling requests of one engine: a pool of connections per owner, each
 * request's deadline, the idle connections' deadline.
 *
 * @internal
 */
export class Relay {
  /** the deadlines of the requests in flight, one timer for all */
  readonly deadlines: HeartbeatQueue;
  /** the idle connections' deadlines, one timer for all */
  private readonly idleLinks: HeartbeatQueue;
  /** each owner's idle connections; the last one in is the next one used */
  private readonly pools = new Map<string, Link[]>();
  private readonly links = new Set<Link>();
  private readonly headerLine: string;

  /**
   * @param token the forwarding header's value, the deployment's token
   * @param timeout ms a request may last
   * @param failed told of each request that failed
   */
  constructor(
    token: string,
    timeout: number,
    readonly failed: RelayFailure,
  ) {
    // last: the owner takes it out of the request, which is cheap for the last header
    this.headerLine = FORWARDING_HEADER + ": " + token + "\r\n";
    this.deadlines = new HeartbeatQueue(
      () => timeout,
      (entry) => (entry as Exchange).fail("timeout"),
      () => 0,
      // a request in flight keeps the process alive by its connections
      true,
    );
    this.idleLinks = new HeartbeatQueue(
      () => IDLE_CONNECTION,
      (entry) => (entry as Link).destroy(),
      () => 0,
      // idle connections do not keep the process alive
      true,
    );
  }

  /**
   * Sends `req` to `target` and relays its answer to `res`; a failure before any of the
   * answer was relayed goes to `failed` (which answers), one after it too (which cuts).
   */
  forward(target: RelayTarget, req: IncomingMessage, res: ServerResponse): void {
    const raw = req.rawHeaders;
    const connection = req.headers.connection;
    // the headers the Connection header names are hop-by-hop too (keep-alive and close,
    // its usual values, name none)
    const listed =
      connection !== undefined && !plainConnection(connection) ? connectionTokens(connection) : undefined;
    let head = req.method + " " + req.url + " HTTP/1.1\r\n";
    let host = false;
    let contentLength: string | undefined;
    let transferEncoding = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const kind = nameOf(name);
      if (kind === Name.TransferEncoding) {
        transferEncoding = true;
        continue;
      }
      if (kind !== Name.Other && kind !== Name.ContentLength && kind !== Name.Host) {
        // hop-by-hop, Connection, or the forwarding header sent by a client
        continue;
      }
      if (listed !== undefined && listed.has(name.toLowerCase())) {
        // a length the client listed goes: its body goes chunked instead
        transferEncoding = transferEncoding || kind === Name.ContentLength;
        continue;
      }
      if (kind === Name.ContentLength) {
        contentLength = raw[i + 1];
      } else if (kind === Name.Host) {
        host = true;
      }
      head += name + ": " + raw[i + 1] + "\r\n";
    }
    if (!host) {
      // an HTTP/1.0 client's request: the owner's HTTP/1.1 server requires one
      head += "Host: " + target.address + "\r\n";
    }
    // the client's Transfer-Encoding is decoded by now: the body is encoded again for the owner
    const body = transferEncoding
      ? "chunked"
      : contentLength !== undefined && contentLength !== "0"
        ? "length"
        : "none";
    if (body === "chunked") {
      head += "Transfer-Encoding: chunked\r\n";
    }
    head += this.headerLine + "\r\n";
    const link = this.acquire(target);
    const exchange = new Exchange(this, link, req, res);
    link.exchange = exchange;
    this.deadlines.push(exchange);
    exchange.send(head, body);
  }

  /** Closes every connection; the requests in flight fail. */
  close(): void {
    for (const link of Array.from(this.links)) {
      link.fail("engine closed");
    }
  }

  /** An idle connection to `target`, or a new one. */
  private acquire(target: RelayTarget): Link {
    const pool = this.pools.get(target.address);
    if (pool !== undefined) {
      let link = pool.pop();
      while (link !== undefined) {
        link.pooled = false;
        this.idleLinks.remove(link);
        if (link.usable) {
          link.socket.ref();
          return link;
        }
        link = pool.pop();
      }
    }
    const link = new Link(this, target);
    this.links.add(link);
    return link;
  }

  /** Puts a connection whose answer is whole back into its target's pool. */
  release(link: Link): void {
    let pool = this.pools.get(link.target.address);
    if (pool === undefined) {
      pool = [];
      this.pools.set(link.target.address, pool);
    }
    link.socket.unref();
    link.pooled = true;
    pool.push(link);
    this.idleLinks.push(link);
  }

  /** A connection closed: out of the pools for good. */
  forget(link: Link): void {
    this.links.delete(link);
    this.idleLinks.remove(link);
    if (link.pooled) {
      link.pooled = false;
      const pool = this.pools.get(link.target.address);
      if (pool !== undefined) {
        const index = pool.indexOf(link);
        if (index !== -1) {
          pool.splice(index, 1);
        }
        if (pool.length === 0) {
          this.pools.delete(link.target.address);
        }
      }
    }
  }
}
