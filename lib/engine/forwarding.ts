/**
 * Session forwarding (the `sessionForwarding` option): any node of a deployment serves any
 * request of any session, without load-balancer affinity. The owner of a session is named
 * in its id (session-tag.ts); a polling request or a WebSocket upgrade for a session this
 * node does not hold is sent to the owner's internal listener and its answer relayed
 * (polling, relay.ts), or the two connections are joined byte for byte (WebSocket). The
 * owner runs everything else (CORS, middlewares, maxHttpBufferSize, long-poll semantics):
 * the answer is the owner's.
 */
import { createServer, request as httpRequest } from "http";
import type {
  ClientRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server as HttpServer,
  ServerResponse,
} from "http";
import type { AddressInfo, Socket as NetSocket } from "net";
import { networkInterfaces } from "os";
import type { Duplex } from "stream";
import debugModule from "debug";
import { SessionTagCodec, MIN_SECRET_LENGTH } from "./session-tag";
import {
  CONNECT_TIMEOUT,
  FORWARDING_HEADER,
  OWNER_KEEP_ALIVE,
  Relay,
  connectionTokens,
  isEndToEnd,
  relayedHeaders,
} from "./relay";
import type { RelayTarget } from "./relay";
import type { EngineRequest } from "./transport";
import type { Server } from "./server";

const debug = debugModule("engine:forwarding");

/**
 * The `sessionForwarding` option: every node serves every request of every session.
 *
 * @example
 * new Server({ sessionForwarding: { secret: process.env.SIO_FORWARDING_SECRET } });
 */
export interface SessionForwardingOptions {
  /** shared by every node of the deployment, at least 16 characters; required */
  secret: string;
  /** bind address of this node's internal listener; default "127.0.0.1" */
  host?: string;
  /** port of the internal listener; default 0 (an ephemeral port, one per cluster worker) */
  port?: number;
  /**
   * the host other nodes dial to reach the internal listener (IP or name); default `host`,
   * or the first non-internal IPv4 address of the machine when `host` is a wildcard
   */
  address?: string;
  /**
   * ms a forwarded request may last before it is answered 400 "Session ID unknown" (or cut,
   * once the owner's answer has begun); default pingInterval + pingTimeout + 5000
   */
  timeout?: number;
}

// bound on the body of a refused forwarded upgrade (the engine's and ws's are a few bytes)
const MAX_REFUSAL_BODY = 64 * 1024;
// session ids whose tag was verified, kept so that each request of a forwarded session does
// not cost its HMACs (keystream and MAC) again; the oldest goes first
const MAX_KNOWN_OWNERS = 10000;

const kForwarded = Symbol("engine:forwarded");

interface Marked extends IncomingMessage {
  [kForwarded]?: true;
}

/**
 * Whether a request for a session this node holds came from another node (its internal
 * listener): the only requests so marked that reach a session.
 *
 * @internal
 */
export function fromOtherNode(req: IncomingMessage): boolean {
  return (req as Marked)[kForwarded] === true;
}

/** The headers of an upgrade sent to the owner: the client's, minus the hop-by-hop ones, plus the token. */
function upgradeHeaders(headers: IncomingHttpHeaders, token: string): OutgoingHttpHeaders {
  const listed = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (isEndToEnd(name, listed, FORWARDING_HEADER)) {
      out[name] = headers[name];
    }
  }
  out.connection = "Upgrade";
  out.upgrade = headers.upgrade;
  out[FORWARDING_HEADER] = token;
  return out;
}

function headLines(raw: string[]): string {
  let head = "";
  for (let i = 0; i < raw.length; i += 2) {
    head += raw[i] + ": " + raw[i + 1] + "\r\n";
  }
  return head;
}

const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]"]);

/** The host other nodes dial: the `address` option, else `host`, else the machine's first IPv4. */
function advertisedHost(host: string, address: string | undefined): string {
  if (address) {
    return address;
  }
  if (!WILDCARDS.has(host)) {
    return host;
  }
  const interfaces = networkInterfaces();
  for (const name of Object.keys(interfaces)) {
    for (const info of interfaces[name] || []) {
      // Node 18.0 to 18.3 give the family as a number
      if ((info.family === "IPv4" || (info.family as unknown) === 4) && !info.internal) {
        return info.address;
      }
    }
  }
  debug("no external IPv4 address: other nodes are told 127.0.0.1");
  return "127.0.0.1";
}

function formatAddress(host: string, port: number): string {
  return host.indexOf(":") !== -1 && host[0] !== "[" ? "[" + host + "]:" + port : host + ":" + port;
}

function parseAddress(address: string): RelayTarget | undefined {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    return undefined;
  }
  let host = address.slice(0, colon);
  if (host[0] === "[" && host[host.length - 1] === "]") {
    host = host.slice(1, -1);
  }
  return { host, port, address };
}

/**
 * Reads the owner's non-101 answer to an upgrade into the bytes the client gets (status,
 * headers, body, closing the connection); undefined when the body is over the bound.
 */
function readRefusal(answer: IncomingMessage, then: (response: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  answer.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_REFUSAL_BODY) {
      answer.destroy();
      then(undefined);
      return;
    }
    chunks.push(chunk);
  });
  answer.on("end", () => {
    const body = Buffer.concat(chunks);
    const headers = relayedHeaders(
      answer.rawHeaders,
      connectionTokens(answer.headers.connection),
      CONTENT_LENGTH,
    );
    const head =
      "HTTP/1.1 " +
      answer.statusCode +
      " " +
      answer.statusMessage +
      "\r\n" +
      headLines(headers) +
      // the tunnel's client connection ends with the refusal
      "Connection: close\r\n" +
      "Content-Length: " +
      body.length +
      "\r\n\r\n";
    then(Buffer.concat([Buffer.from(head, "latin1"), body]));
  });
}

const CONTENT_LENGTH = new Set(["content-length"]);

/** Arms the connect timeout of an outgoing request once it has its socket. */
function onUpstreamSocket(this: ClientRequest, socket: NetSocket): void {
  if (!socket.connecting) {
    return;
  }
  const timer = setTimeout(() => this.destroy(new Error("connect timeout")), CONNECT_TIMEOUT);
  const clear = (): void => clearTimeout(timer);
  socket.once("connect", clear);
  socket.once("close", clear);
}

function onTunnelError(this: Duplex, err: Error): void {
  debug("tunnel socket error: %s", err.message);
}

function onInternalSocketError(err: Error): void {
  debug("error on a socket of the internal listener: %s", err.message);
}

/**
 * The forwarding of one engine: its internal listener, the relay of forwarded polling
 * requests (relay.ts), the tunnels of forwarded upgrades.
 *
 * @internal
 */
export class Forwarding {
  readonly tags: SessionTagCodec;
  /** ms a forwarded request may last */
  readonly timeout: number;
  /** the internal listener */
  readonly listener: HttpServer;
  /** the forwarded polling requests */
  private readonly relay: Relay;
  private readonly host: string;
  private readonly port: number;
  private readonly advertised: string;
  /** the client sockets of the open tunnels */
  private readonly tunnels = new Set<Duplex>();
  /** other nodes' session ids whose tag was verified, and their owner */
  private readonly owners = new Map<string, RelayTarget>();
  private state: "idle" | "opening" | "listening" | "closed" | "failed" = "idle";
  private waiting: ((ready: boolean) => void)[] = [];
  private self: string | undefined;

  constructor(
    private readonly engine: Server,
    options: SessionForwardingOptions,
    defaultTimeout: number,
  ) {
    if (!options || typeof options.secret !== "string" || options.secret.length < MIN_SECRET_LENGTH) {
      throw new TypeError(
        `sessionForwarding.secret must be a string of at least ${MIN_SECRET_LENGTH} characters`,
      );
    }
    if (options.timeout !== undefined && !(options.timeout > 0)) {
      throw new TypeError("sessionForwarding.timeout must be a positive number of milliseconds");
    }
    this.tags = new SessionTagCodec(options.secret);
    this.timeout = options.timeout !== undefined ? options.timeout : defaultTimeout;
    this.host = options.host !== undefined ? options.host : "127.0.0.1";
    this.port = options.port !== undefined ? options.port : 0;
    this.advertised = advertisedHost(this.host, options.address);
    this.relay = new Relay(this.tags.token, this.timeout, (req, res, answered, reason, target) =>
      this.relayFailed(req as EngineRequest, res, answered, reason, target),
    );
    this.listener = createServer({ keepAliveTimeout: OWNER_KEEP_ALIVE }, (req, res) =>
      this.onInternalRequest(req, res),
    );
    this.listener.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onInternalUpgrade(req, socket, head),
    );
    this.listener.on("error", (err: Error) => this.onListenerError(err));
  }

  /** "host:port" of this node's internal listener, as other nodes dial it; undefined until it listens. */
  get address(): string | undefined {
    return this.state === "listening" ? this.self : undefined;
  }

  /** Starts the internal listener (again, after a close). */
  open(): void {
    // after a failure to listen, not again: the failure was reported once
    if (this.state !== "idle" && this.state !== "closed") {
      return;
    }
    this.state = "opening";
    debug("internal listener opening on %s", formatAddress(this.host, this.port));
    this.listener.listen({ host: this.host, port: this.port, exclusive: true }, () => {
      if (this.state !== "opening") {
        // closed while the address was being looked up
        this.listener.close();
        return;
      }
      this.self = formatAddress(this.advertised, (this.listener.address() as AddressInfo).port);
      this.state = "listening";
      debug("internal listener on %s, known to other nodes as %s", this.host, this.self);
      // it serves the public port, which keeps the process alive: not on its own
      this.listener.unref();
      this.settle(true);
    });
  }

  /** Closes the internal listener, the connections to other nodes and the open tunnels. */
  close(): void {
    if (this.state === "opening" || this.state === "listening") {
      this.listener.close();
    }
    this.state = "closed";
    this.settle(false);
    this.relay.close();
    for (const socket of this.tunnels) {
      socket.destroy();
    }
    this.tunnels.clear();
  }

  /**
   * Calls `then` with the session id of `id` naming this node, once the internal listener
   * listens, or `refuse` when it cannot (it failed, or the engine was closed).
   */
  tagWhenReady(id: string, then: (sid: string) => void, refuse: () => void): void {
    if (this.state === "listening") {
      then(this.tags.tag(String(id), this.self as string));
    } else if (this.state === "opening") {
      this.waiting.push((ready) => (ready ? then(this.tags.tag(String(id), this.self as string)) : refuse()));
    } else {
      refuse();
    }
  }

  /**
   * Forwards a polling request for a session another node owns; false (nothing done) when
   * the request is this node's to answer.
   */
  request(req: EngineRequest, res: ServerResponse): boolean {
    const target = this.ownerOf(req);
    if (target === undefined) {
      return false;
    }
    this.engine.forwardedRequestsCount++;
    debug('forwarding "%s %s" to %s', req.method, req.url, target.address);
    this.relay.forward(target, req, res);
    return true;
  }

  /**
   * Tunnels a WebSocket upgrade for a session another node owns to that node; false
   * (nothing done) when the upgrade is this node's to handle.
   */
  upgrade(req: EngineRequest, socket: Duplex, head: Buffer): boolean {
    const target = this.ownerOf(req);
    if (target === undefined) {
      return false;
    }
    this.engine.forwardedUpgradesCount++;
    debug('forwarding the upgrade "%s" to %s', req.url, target.address);
    socket.on("error", onTunnelError);
    const upstream = httpRequest({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: upgradeHeaders(req.headers, this.tags.token),
      agent: false,
    });
    let done = false;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      socket.removeListener("close", onClientClose);
    };
    const fail = (reason: string): void => {
      if (done) {
        return;
      }
      finish();
      this.engine.forwardingFailuresCount++;
      upstream.destroy();
      debug("%s unreachable for an upgrade (%s): answered as an unknown session", target.address, reason);
      socket.removeListener("error", onTunnelError);
      (req as Marked)[kForwarded] = true;
      this.engine.handleUpgrade(req, socket, head);
    };
    const onClientClose = (): void => {
      debug("client of a forwarded upgrade gone");
      finish();
      upstream.destroy();
    };
    const timer = setTimeout(() => fail("timeout"), this.timeout);
    socket.on("close", onClientClose);
    upstream.on("socket", onUpstreamSocket);
    upstream.on("error", (err: Error) => fail(err.message));
    upstream.on("upgrade", (answer: IncomingMessage, ownerSocket: NetSocket, ownerHead: Buffer) => {
      ownerSocket.on("error", onTunnelError);
      if (done) {
        ownerSocket.destroy();
        return;
      }
      finish();
      // the owner's 101 as it wrote it: Upgrade, Connection and Sec-WebSocket-Accept included
      socket.write(
        "HTTP/1.1 " +
          answer.statusCode +
          " " +
          answer.statusMessage +
          "\r\n" +
          headLines(answer.rawHeaders) +
          "\r\n",
      );
      if (ownerHead.length > 0) {
        socket.write(ownerHead);
      }
      if (head.length > 0) {
        ownerSocket.write(head);
      }
      this.tunnel(socket, ownerSocket);
    });
    // a refusal (the session gone meanwhile...): relayed as the owner wrote it, then closed
    upstream.on("response", (answer: IncomingMessage) => {
      answer.on("error", (err: Error) => fail(err.message));
      readRefusal(answer, (response) => {
        if (response === undefined) {
          fail("refusal body too large");
        } else if (!done) {
          finish();
          socket.end(response, () => socket.destroy());
        }
      });
    });
    upstream.end();
    return true;
  }

  /** Joins the client's socket and the owner's, byte for byte, until either closes. */
  private tunnel(client: Duplex, owner: NetSocket): void {
    const tunnels = this.tunnels;
    tunnels.add(client);
    const clientSocket = client as NetSocket;
    if (typeof clientSocket.setNoDelay === "function") {
      clientSocket.setNoDelay(true);
    }
    owner.setNoDelay(true);
    // a side that closes has sent all it had: the other ends once what it holds is written
    const endOther = (other: Duplex) => (): void => {
      if (!other.destroyed) {
        other.end(() => other.destroy());
      }
    };
    const destroyBoth = (): void => {
      client.destroy();
      owner.destroy();
    };
    client.on("close", endOther(owner));
    owner.on("close", endOther(client));
    client.on("close", () => tunnels.delete(client));
    client.on("error", destroyBoth);
    owner.on("error", destroyBoth);
    client.pipe(owner);
    owner.pipe(client);
  }

  /** Where a request for a session this node does not hold goes; undefined: answered here. */
  private ownerOf(req: EngineRequest): RelayTarget | undefined {
    const sid = req._query.sid;
    if (
      typeof sid !== "string" ||
      sid === "" ||
      (req as Marked)[kForwarded] === true ||
      Object.prototype.hasOwnProperty.call(this.engine.clients, sid)
    ) {
      return undefined;
    }
    const known = this.owners.get(sid);
    if (known !== undefined) {
      return known;
    }
    const address = this.tags.ownerOf(sid);
    if (address === undefined) {
      debug('no valid tag in the session id "%s"', sid);
      return undefined;
    }
    if (address === this.self) {
      return undefined;
    }
    const target = parseAddress(address);
    if (target !== undefined) {
      const owners = this.owners;
      if (owners.size >= MAX_KNOWN_OWNERS) {
        owners.delete(owners.keys().next().value as string);
      }
      owners.set(sid, target);
    }
    return target;
  }

  /** Answers a request the owner could not: as the engine answers an unknown session. */
  private answerLocally(req: EngineRequest, res: ServerResponse): void {
    (req as Marked)[kForwarded] = true;
    this.engine.handleRequest(req, res);
  }

  /** A forwarded request the owner did not answer (in full): answered here, or cut. */
  private relayFailed(
    req: EngineRequest,
    res: ServerResponse,
    answered: boolean,
    reason: string,
    target: RelayTarget,
  ): void {
    if (this.state === "closed" && !answered) {
      // This node shuts down, not the owner: answered here, the request would end a
      // session that lives on. Cut unanswered, a GET is sent again by the load balancer
      // (nginx's proxy_next_upstream) through another node, and the owner, which saw this
      // node's connection close, takes it for the poll (RETRY_GRACE in polling.ts).
      debug("closing: the forwarded request to %s cut unanswered", target.address);
      res.destroy();
      return;
    }
    this.engine.forwardingFailuresCount++;
    if (answered) {
      debug("forwarded request to %s cut (%s)", target.address, reason);
      res.destroy();
      return;
    }
    debug("%s unreachable (%s): answered as an unknown session", target.address, reason);
    this.answerLocally(req, res);
  }

  private onInternalRequest(req: IncomingMessage, res: ServerResponse): void {
    if (!this.authorized(req)) {
      res.writeHead(403, { Connection: "close", "Content-Length": 0 });
      res.end();
      return;
    }
    (req as Marked)[kForwarded] = true;
    this.engine.handleRequest(req, res);
  }

  private onInternalUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", onInternalSocketError);
    if (!this.authorized(req)) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", () =>
        socket.destroy(),
      );
      return;
    }
    (req as Marked)[kForwarded] = true;
    socket.removeListener("error", onInternalSocketError);
    this.engine.handleUpgrade(req, socket, head);
  }

  /** Checks the token of a request to the internal listener, and takes it out of the request. */
  private authorized(req: IncomingMessage): boolean {
    if (!this.tags.isToken(req.headers[FORWARDING_HEADER])) {
      debug("request without the forwarding token from %s: 403", req.socket.remoteAddress);
      return false;
    }
    // the relay writes it last: the headers object loses its last property, which is cheap
    delete req.headers[FORWARDING_HEADER];
    const raw = req.rawHeaders;
    for (let i = raw.length - 2; i >= 0; i -= 2) {
      if (raw[i].length === FORWARDING_HEADER.length && raw[i].toLowerCase() === FORWARDING_HEADER) {
        raw.splice(i, 2);
      }
    }
    return true;
  }

  private onListenerError(err: Error): void {
    const failed = this.state === "opening";
    if (failed) {
      this.state = "failed";
      this.settle(false);
    }
    debug("internal listener error: %s", err.message);
    const engine = this.engine;
    if (engine.listenerCount("error") > 0) {
      engine.emit("error", err);
    } else {
      process.emitWarning(
        `sessionForwarding: ${failed ? "the internal listener could not listen" : "internal listener error"}: ${err.message}` +
          (failed ? " (new sessions are refused with 503)" : ""),
        "SessionForwardingWarning",
      );
    }
  }

  private settle(ready: boolean): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const fn of waiting) {
      fn(ready);
    }
  }
}
