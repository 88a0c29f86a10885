/**
 * HTTP long-polling transport.
 *
 * The client keeps at most one pending GET (the server answers it with the
 * queued packets, as one payload) and sends its packets with POST requests.
 */
import type { ServerResponse, OutgoingHttpHeaders } from "http";
import type { Socket as NetSocket } from "net";
import * as zlib from "zlib";
import accepts from "accepts";
import debugModule from "debug";
import { codedError } from "../../errors";
import { abortRequest, errors } from "../handshake-errors";
import { Transport, EngineRequest } from "../transport";
import { fromOtherNode } from "../forwarding";
import type { Packet } from "../codec/packet";

const debug = debugModule("engine:polling");

// the separator of the packets of a v4 payload
const SEPARATOR = "\x1e";
// `until` of decodeBody: until the data is paused
const PAUSED = -1;

/** Options of the `httpCompression` server option (also handed to zlib). */
export interface HttpCompressionOptions extends zlib.ZlibOptions {
  /** payloads smaller than this many bytes are sent uncompressed */
  threshold?: number;
}

const NOOP_PACKET: Packet = { type: "noop" };
const CLOSE_PACKET: Packet = { type: "close" };
const DEFAULT_THRESHOLD = 1024;

function compressFunction(encoding: string): typeof zlib.gzip {
  return encoding === "gzip" ? zlib.gzip : zlib.deflate;
}

function shouldCompress(packets: Packet[]): boolean {
  for (let i = 0; i < packets.length; i++) {
    const options = packets[i].options;
    if (!options || options.compress !== false) {
      return true;
    }
  }
  return false;
}

const EMPTY = Buffer.alloc(0);

/**
 * The answer to a long poll that came through another node (`sessionForwarding`), kept
 * until the client's next GET. That node may die after the answer reached it and before it
 * relayed it: a proxy that got no response header then sends the same GET to another node
 * (nginx's `proxy_next_upstream`, for an idempotent request), with the same query string and
 * so the same `t`, the random parameter engine.io-client puts on each request. That retry
 * gets these bytes again; without them, the packets of the answer would be lost, and the
 * client, which never saw an error, would not know.
 */
interface ForwardedAnswer {
  /** the `t` query parameter of the GET it answered */
  readonly t: string;
  /** as written: wrapped (JSONP), compressed if it was */
  readonly body: string | Buffer;
  readonly length: number;
  readonly type: string;
  readonly encoding: string | undefined;
  /** the connection from the other node it was written to */
  connection: NetSocket;
}

/** Whether the connection that carried an answer is gone (closed, or closing: its peer ended it). */
function isGone(connection: NetSocket): boolean {
  return connection.destroyed || connection.readableEnded;
}

// How long a GET with the `t` of the last answer that went through another node waits for
// the connection of that answer to close. The kernel of a killed node closes its connections
// one after the other (milliseconds apart on a busy machine), and the proxy that saw the
// first one close may have sent the retry, through a third node, before the close of the
// answer's connection reaches this one. A GET whose answer's connection stays open is a new
// poll that drew the same `t` (engine.io-client 6 draws it from the clock's millisecond and
// 3 random base-36 characters: two polls of a client in one millisecond share it once in
// 46656 times), and waits this long: a long poll, it would have waited for packets anyway.
const RETRY_WAIT = 1000;

// How long a session waits for its client's next GET when the connection of its pending GET,
// one that came through another node, closes before it is answered. That node may have died
// (killed, crashed) with the GET in its hands: the proxy in front of the nodes then sends the
// same GET to another node (nginx does for a GET that has no response header yet:
// `proxy_next_upstream error`, the default), and that retry reaches this node within
// milliseconds. A GET that got nothing delivered nothing, so whichever GET comes next is the
// poll, and the session goes on. A client that really went away (it aborted its GET on the
// other node: a closed browser tab) is closed this much later, with the same error.
const RETRY_GRACE = 1000;

/** Whether two GETs carry the same, non-empty, `t` query parameter. */
function sameT(a: EngineRequest, b: EngineRequest): boolean {
  const t = a._query.t;
  return typeof t === "string" && t !== "" && t === b._query.t;
}

/**
 * The bytes of one POST body. Node hands a body over in as many chunks as the client
 * cut it into, each a Buffer of its own (about 100 bytes of heap even for one byte):
 * from the second chunk on, the bytes are copied into one buffer grown by doubling up
 * to the limit, so that memory stays within twice what was received, whatever the
 * chunking (never sized from the declared length: a client announcing a large body
 * and trickling it would get memory reserved for nothing). A body in one chunk (the
 * usual case) is used as it is.
 */
class RequestBody {
  length = 0;
  private first: Buffer | null = null;
  private buffer: Buffer | null = null;

  /** Appends a chunk; the caller has checked that `limit` is not exceeded. */
  push(chunk: Buffer, limit: number): void {
    if (this.length === 0 && this.buffer === null) {
      this.first = chunk;
      this.length = chunk.length;
      return;
    }
    const needed = this.length + chunk.length;
    if (this.buffer === null || needed > this.buffer.length) {
      const current = this.buffer === null ? this.length : this.buffer.length;
      const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(needed, 2 * current)));
      const previous = this.buffer || this.first;
      if (previous !== null) {
        previous.copy(grown, 0, 0, this.length);
      }
      this.buffer = grown;
      this.first = null;
    }
    chunk.copy(this.buffer, this.length);
    this.length = needed;
  }

  bytes(): Buffer {
    if (this.buffer !== null) {
      return this.buffer.subarray(0, this.length);
    }
    return this.first || EMPTY;
  }
}

export class Polling extends Transport {
  /** bytes a single POST may carry before it is refused with 413 */
  maxHttpBufferSize = 1e6;
  /** pieces a POST body may arrive in before it is refused with 413 */
  maxBufferedChunks = 10000;
  /** ms a POST body may take to arrive before it is refused with 408 */
  httpRequestBodyTimeout = 30000;
  httpCompression: HttpCompressionOptions | false = false;
  /** how long a close waits for the client's next GET before giving up */
  closeTimeout = 30 * 1000;

  protected pollReq: EngineRequest | null = null;
  protected pollRes: ServerResponse | null = null;
  private dataReq: EngineRequest | null = null;
  private dataRes: ServerResponse | null = null;
  private dataCleanup: (() => void) | null = null;
  private bodyTimer: NodeJS.Timeout | null = null;
  private shouldClose: (() => void) | null = null;
  // the last response that carried packets, until the client's next poll: what the client
  // has not read of it stays in the server (see bufferedAmount)
  private lastResponse: ServerResponse | null = null;
  // Set by `_pauseData()` only (the rate limit of Socket.IO), so that a session never
  // paused has no such properties: while paused, the answer to a POST is held.
  private dataPaused?: boolean;
  private heldAnswer?: (() => void) | null;
  // the rest of a (v4, text) POST body left undecoded by a pause, and where it starts
  private heldBody?: string | null;
  private heldOffset?: number;
  // Set by `_refuseData()` only (the rate limit's disconnection): the POSTs are refused.
  private dataRefused?: boolean;
  // Set only once a GET that came through another node is answered (`sessionForwarding`).
  private forwardedAnswer?: ForwardedAnswer | null;
  // Set only while the session waits for its client's next GET after the connection of a GET
  // that came through another node closed unanswered (`sessionForwarding`, see RETRY_GRACE):
  // that GET stays pollReq / pollRes meanwhile, the transport not writable.
  private pollGrace?: NodeJS.Timeout | null;

  // Created once per session and reused by every poll. The GET stays the pending one, as with
  // the reference: the close that follows answers it (writing into a dead response costs
  // nothing) and its "headers" are emitted before the session's "close".
  private readonly onPollClose = (): void => {
    const req = this.pollReq;
    if (req !== null && this.readyState === "open" && fromOtherNode(req)) {
      this.awaitNextPoll(req);
      return;
    }
    this.onError(codedError("EIO_ERR_POLL_CLOSED"));
  };

  get name(): string {
    return "polling";
  }

  /**
   * What the last response still holds in the server: the part of its body the client has
   * not read yet (the kernel's buffers are full), none once it has been written.
   */
  override get bufferedAmount(): number {
    const res = this.lastResponse;
    return res !== null && !res.writableFinished ? res.writableLength : 0;
  }

  /** Closes at once, and drops the connection of a response the client is not reading. */
  override abort(): void {
    const res = this.lastResponse;
    if (res !== null && !res.writableFinished) {
      res.destroy();
    }
    this.lastResponse = null;
    super.abort();
  }

  // Error paths of the HTTP objects: an IncomingMessage emits "error" only when it has
  // listeners, and the errors of its socket belong to the http server ("clientError");
  // a ServerResponse emits "error" if ended twice, so every path below ends it once.
  override onRequest(req: EngineRequest): void {
    const res = req.res as ServerResponse;
    req.res = null;
    if (req.method === "GET") {
      this.onPollRequest(req, res);
    } else if (req.method === "POST") {
      this.onDataRequest(req, res);
    } else {
      res.writeHead(500);
      res.end();
    }
  }

  private onPollRequest(req: EngineRequest, res: ServerResponse): void {
    const answered = this.forwardedAnswer;
    if (answered) {
      // any other GET means the client got it
      this.forwardedAnswer = null;
      if (answered.t === req._query.t) {
        this.onRepeatedPoll(req, res, answered);
        return;
      }
    }
    if (this.pollReq && !this.replacesPendingPoll(req)) {
      debug("request overlap");
      this.onError(codedError("EIO_ERR_POLL_OVERLAP"));
      res.writeHead(400);
      res.end();
      return;
    }
    debug("setting request");
    // the client polls again: it has read the last response (or pipelines: then it is kept)
    if (this.lastResponse !== null && this.lastResponse.writableFinished) {
      this.lastResponse = null;
    }
    this.pollReq = req;
    this.pollRes = res;
    req.on("close", this.onPollClose);
    this.writable = true;
    this.onReady();
    // a close was requested while no GET was pending: answer this one with it
    if (this.writable && this.shouldClose) {
      this.send([NOOP_PACKET]);
    }
  }

  /**
   * The connection of the pending GET, which came through another node, closed before it was
   * answered: the session waits RETRY_GRACE for the client's next GET (the proxy's retry of
   * this one) before it closes as for a client gone. What is sent meanwhile is buffered, as
   * between two polls.
   */
  private awaitNextPoll(req: EngineRequest): void {
    debug("the connection of a GET from another node closed unanswered: waiting for the next GET");
    req.removeListener("close", this.onPollClose);
    this.writable = false;
    this.pollGrace = setTimeout(() => this.onGraceOver(), RETRY_GRACE);
  }

  /** No GET came within RETRY_GRACE: the close of the GET's connection does now what it does at once for a local GET. */
  private onGraceOver(): void {
    this.pollGrace = null;
    // the GET whose connection closed is the pending one again, as it was when it closed
    this.writable = true;
    if (this.shouldClose) {
      // a close of the session waits for the client's next GET: the client is gone
      this.send([NOOP_PACKET]);
      return;
    }
    this.onError(codedError("EIO_ERR_POLL_CLOSED"));
  }

  /**
   * Whether `req` takes the place of the pending GET, which is then let go of unanswered
   * (`sessionForwarding`): the client's next GET once the pending one, from another node,
   * lost its connection (see RETRY_GRACE); or the proxy's retry of the pending one (the same
   * `t`), which came before this node saw that GET's connection close (a killed node's
   * connections close one after the other, milliseconds apart), through a third node or
   * straight to this one (the proxy's next server may be the owner). Any other GET while one
   * is pending is an overlap.
   */
  private replacesPendingPoll(req: EngineRequest): boolean {
    const pending = this.pollReq as EngineRequest;
    const grace = this.pollGrace;
    if (grace) {
      debug("the next GET after a GET from another node lost its connection: the poll goes on");
      clearTimeout(grace);
      this.pollGrace = null;
    } else if (fromOtherNode(pending) && sameT(req, pending)) {
      debug("a retry of the pending GET, which got nothing: it takes its place");
      pending.removeListener("close", this.onPollClose);
      // the connection of the retried GET is going: nothing may be written into it
      pending.socket.destroy();
    } else {
      return false;
    }
    this.pollReq = null;
    this.pollRes = null;
    return true;
  }

  /** Ends the wait for the client's next GET (see RETRY_GRACE), if any, as the transport closes. */
  private endGrace(): void {
    const grace = this.pollGrace;
    if (grace) {
      clearTimeout(grace);
      this.pollGrace = null;
      this.releasePoll();
    }
  }

  /**
   * A GET with the `t` of the last answer that went through another node: a retry of it if
   * the connection of that answer is gone or closes within RETRY_WAIT, else a new poll.
   */
  private onRepeatedPoll(req: EngineRequest, res: ServerResponse, answer: ForwardedAnswer): void {
    const connection = answer.connection;
    if (isGone(connection)) {
      this.answerAgain(req, res, answer);
      return;
    }
    debug("a GET with the t of the last forwarded answer: waiting for that answer's connection");
    let timer: NodeJS.Timeout | undefined;
    const release = (): boolean => {
      if (timer === undefined) {
        return false;
      }
      clearTimeout(timer);
      timer = undefined;
      connection.removeListener("close", onGone);
      req.removeListener("close", onAbort);
      return true;
    };
    const onGone = (): void => {
      if (release()) {
        this.answerAgain(req, res, answer);
      }
    };
    const onAbort = (): void => {
      if (release()) {
        this.onError(codedError("EIO_ERR_POLL_CLOSED"));
      }
    };
    const onWaited = (): void => {
      if (isGone(connection)) {
        onGone();
      } else if (release()) {
        if (this.readyState === "closed") {
          // the session closed meanwhile: answered as a request a moment later would have been
          abortRequest(res, errors.UNKNOWN_SID);
        } else {
          this.onPollRequest(req, res);
        }
      }
    };
    // after the I/O of the turn in which the timer fires: a close already received counts
    timer = setTimeout(() => setImmediate(onWaited), RETRY_WAIT);
    connection.once("close", onGone);
    req.once("close", onAbort);
  }

  /**
   * Answers a GET retried after the node relaying its answer died, with that answer; the
   * packets buffered since go with the next GET, as they would have.
   */
  private answerAgain(req: EngineRequest, res: ServerResponse, answer: ForwardedAnswer): void {
    debug("the answer to this GET was lost with the node relaying it: sent again");
    const owner = this._owner;
    if (owner !== null) {
      owner.server.retriedPollsCount++;
    }
    const headers: OutgoingHttpHeaders = { "Content-Type": answer.type };
    if (answer.encoding !== undefined) {
      headers["Content-Encoding"] = answer.encoding;
    }
    headers["Content-Length"] = answer.length;
    res.writeHead(200, this.headers(req, headers));
    res.end(answer.body);
    this.lastResponse = res;
    // through another node again: that one may die too
    if (fromOtherNode(req)) {
      answer.connection = req.socket;
      this.forwardedAnswer = answer;
    }
  }

  private onDataRequest(req: EngineRequest, res: ServerResponse): void {
    if (this.dataRefused === true) {
      debug("data refused");
      res.writeHead(400, { Connection: "close" });
      res.end();
      req.destroy();
      return;
    }
    if (this.dataReq) {
      this.onError(codedError("EIO_ERR_DATA_OVERLAP"));
      res.writeHead(400);
      res.end();
      return;
    }
    const isBinary = req.headers["content-type"] === "application/octet-stream";
    if (isBinary && !this.codec.binaryPayloads) {
      // answered at once: a request left hanging would hold a connection (CVE-2026-59725)
      this.onError(codedError("EIO_ERR_INVALID_CONTENT"));
      res.writeHead(400);
      res.end();
      return;
    }
    // a declared length over the limit is refused before a byte of the body is read
    const declared = Number(req.headers["content-length"]);
    if (declared > this.maxHttpBufferSize) {
      this.refuseData(req, res, 413, "EIO_ERR_PAYLOAD_TOO_LARGE");
      return;
    }
    this.dataReq = req;
    this.dataRes = res;
    const body = new RequestBody();
    let chunks = 0;
    const cleanup = (): void => {
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.removeListener("close", onClose);
      this.dataReq = null;
      this.dataRes = null;
      this.dataCleanup = null;
    };
    const onClose = (): void => {
      cleanup();
      this.onError(codedError("EIO_ERR_DATA_CLOSED"));
    };
    const onData = (chunk: Buffer): void => {
      // each chunk costs heap of its own whatever its size: their number is bounded too
      if (++chunks > this.maxBufferedChunks) {
        debug("too many chunks (%d)", chunks);
        cleanup();
        this.refuseData(req, res, 413, "EIO_ERR_TOO_MANY_CHUNKS");
        return;
      }
      if (body.length + chunk.length > this.maxHttpBufferSize) {
        debug("payload too large (%d bytes)", body.length + chunk.length);
        cleanup();
        this.refuseData(req, res, 413, "EIO_ERR_PAYLOAD_TOO_LARGE");
        return;
      }
      body.push(chunk, this.maxHttpBufferSize);
    };
    const answer = (): void => {
      res.writeHead(200, this.headers(req, { "Content-Type": "text/html", "Content-Length": 2 }));
      res.end("ok");
    };
    const onEnd = (): void => {
      cleanup();
      const bytes = body.bytes();
      this.countReceived(bytes.length);
      this.onData(isBinary ? bytes : bytes.toString("utf8"));
      if (this.dataPaused === true) {
        // still the pending POST: the client sends its next body once this one is answered
        // (another one meanwhile is an overlap)
        this.dataReq = req;
        this.dataRes = res;
        this.heldAnswer = answer;
        return;
      }
      answer();
    };
    this.dataCleanup = cleanup;
    req.on("close", onClose);
    req.on("data", onData);
    req.on("end", onEnd);
    // one timer per session, re-armed for each body: it only acts on a body still pending
    if (this.bodyTimer) {
      this.bodyTimer.refresh();
    } else {
      this.bodyTimer = setTimeout(this.onBodyTimeout, this.httpRequestBodyTimeout);
      this.bodyTimer.unref();
    }
  }

  /**
   * Holds the answer to the POST being decoded (and to the next ones) until `_resumeData()`:
   * a client waits for it before it sends more. The rest of a body being decoded (v4) is
   * left undecoded, for `_drainData()`.
   *
   * @internal
   */
  _pauseData(): void {
    this.dataPaused = true;
  }

  /**
   * Decodes the packets of the body a pause left undecoded, `maxBytes` of it or a little
   * more (whole packets); whether some is left.
   *
   * @internal
   */
  _drainData(maxBytes: number): boolean {
    const body = this.heldBody;
    if (!body) {
      return false;
    }
    const start = this.heldOffset!;
    const next = this.readyState === "open" ? this.decodeBody(body, start, start + maxBytes) : -1;
    if (next === -1) {
      this.heldBody = null;
      return false;
    }
    this.heldOffset = next;
    return true;
  }

  /**
   * Refuses every later POST (400, its body unread, its connection closed), the session
   * left as it is: a session closed for sending too much (the rate limit of Socket.IO,
   * "disconnect") waits for its client's next GET to deliver the close, and a client that
   * never polls must not be read meanwhile.
   *
   * @internal
   */
  _refuseData(): void {
    this.dataRefused = true;
  }

  /**
   * Answers the POST held by `_pauseData()`, if any, once its body is decoded (see
   * `_drainData()`).
   *
   * @internal
   */
  _resumeData(): void {
    this.dataPaused = false;
    if (this.heldBody) {
      return;
    }
    const answer = this.heldAnswer;
    if (answer) {
      this.heldAnswer = null;
      this.dataReq = null;
      this.dataRes = null;
      answer();
    }
  }

  private readonly onBodyTimeout = (): void => {
    const req = this.dataReq;
    const res = this.dataRes;
    const cleanup = this.dataCleanup;
    if (req === null || res === null || cleanup === null) {
      return;
    }
    debug("the body of the data request took too long");
    cleanup();
    this.refuseData(req, res, 408, "EIO_ERR_BODY_TIMEOUT");
  };

  /**
   * Answers a POST whose body is refused, drops the rest of the body with the
   * connection, and closes the session, as the reference does.
   */
  private refuseData(
    req: EngineRequest,
    res: ServerResponse,
    status: number,
    code: "EIO_ERR_PAYLOAD_TOO_LARGE" | "EIO_ERR_TOO_MANY_CHUNKS" | "EIO_ERR_BODY_TIMEOUT",
  ): void {
    res.writeHead(status, { Connection: "close" });
    res.end();
    req.destroy();
    this.onError(codedError(code));
  }

  /** Decodes a POST body: a payload of packets. */
  protected override onData(data: string | Buffer): void {
    debug('received "%s"', data);
    if (typeof data !== "string" || this.codec.protocol !== 4) {
      this.codec.decodePayload(data, this.onPayloadPacket);
      return;
    }
    const next = this.decodeBody(data, 0, PAUSED);
    if (next !== -1) {
      this.heldBody = data;
      this.heldOffset = next;
    }
  }

  /**
   * Decodes the packets of a v4 text body from `start` on, as the codec's `decodePayload`
   * does (up to the first invalid one, or a close), until the offset `until` is passed, or
   * with `PAUSED` until `_pauseData()` is called meanwhile (the rate limit of Socket.IO: what
   * the client sent past its limit waits, undecoded, as it would in the network over
   * WebSocket). The offset of the next packet then, or -1 once the body is decoded.
   */
  private decodeBody(body: string, start: number, until: number): number {
    for (;;) {
      const end = body.indexOf(SEPARATOR, start);
      const packet = this.codec.decodePacket(end === -1 ? body.substring(start) : body.substring(start, end));
      if (this.onPayloadPacket(packet) === false || packet.type === "error" || end === -1) {
        return -1;
      }
      start = end + 1;
      if (until === PAUSED ? this.dataPaused === true : start >= until) {
        return start;
      }
    }
  }

  // bound once: called for each packet of every POST body
  private readonly onPayloadPacket = (packet: Packet): boolean | void => {
    if (packet.type === "close") {
      debug("got xhr close packet");
      this.onClose();
      return false;
    }
    this.onPacket(packet);
  };

  protected override onClose(): void {
    this.endGrace();
    if (this.writable) {
      // release the pending GET so the client is not left hanging
      this.send([NOOP_PACKET]);
    }
    super.onClose();
  }

  override send(packets: Packet[]): void {
    this.writable = false;
    const closeFn = this.shouldClose;
    if (closeFn) {
      debug("appending close packet to payload");
      packets.push(CLOSE_PACKET);
      this.shouldClose = null;
      // the close completes before the response is written, as with the reference: the
      // session's "close" comes before the response's "headers"
      closeFn();
    }
    this.write(
      this.codec.encodePayload(packets, this.supportsBinary),
      packets.length,
      shouldCompress(packets),
    );
  }

  private releasePoll(): void {
    if (this.pollReq) {
      this.pollReq.removeListener("close", this.onPollClose);
    }
    this.pollReq = null;
    this.pollRes = null;
  }

  /** Answers the pending GET with the payload of `packets` packets. */
  private write(data: string | Buffer, packets: number, compress: boolean): void {
    debug('writing "%s"', data);
    const req = this.pollReq as EngineRequest;
    const res = this.pollRes as ServerResponse;
    this.releasePoll();
    this.doWrite(req, res, data, packets, compress, this.onWritten);
  }

  // bound once: runs after each response carrying packets
  private readonly onWritten = (): void => this.onDrain();

  /** Content type of a response body; JSONP overrides it. */
  protected contentType(data: string | Buffer): string {
    return typeof data === "string" ? "text/plain; charset=UTF-8" : "application/octet-stream";
  }

  /** Wraps the payload before it is sent; JSONP overrides it. */
  protected wrap(data: string | Buffer): string | Buffer {
    return data;
  }

  private doWrite(
    req: EngineRequest,
    res: ServerResponse,
    payload: string | Buffer,
    packets: number,
    compress: boolean,
    callback: () => void,
  ): void {
    const data = this.wrap(payload);
    const length = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    this.countSent(packets, length);
    const type = this.contentType(data);
    const headers: OutgoingHttpHeaders = { "Content-Type": type };
    let encoding: string | undefined;
    const respond = (body: string | Buffer): void => {
      const bodyLength = body === data ? length : (body as Buffer).length;
      headers["Content-Length"] = bodyLength;
      res.writeHead(200, this.headers(req, headers));
      res.end(body);
      this.lastResponse = res;
      const t = req._query.t;
      if (typeof t === "string" && t !== "" && fromOtherNode(req)) {
        this.forwardedAnswer = { t, body, length: bodyLength, type, encoding, connection: req.socket };
      }
      callback();
    };
    const options = this.httpCompression;
    if (!options || !compress) {
      respond(data);
      return;
    }
    if (length < (options.threshold === undefined ? DEFAULT_THRESHOLD : options.threshold)) {
      respond(data);
      return;
    }
    const accepted = accepts(req).encodings(["gzip", "deflate"]);
    if (!accepted) {
      respond(data);
      return;
    }
    compressFunction(accepted)(data, options, (err, compressed) => {
      if (err) {
        res.writeHead(500);
        res.end();
        callback();
        return;
      }
      headers["Content-Encoding"] = encoding = accepted;
      respond(compressed);
    });
  }

  /** Adds the headers every polling response carries, then lets listeners amend them. */
  protected headers(req: EngineRequest, headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
    const ua = req.headers["user-agent"];
    if (ua && (ua.indexOf(";MSIE") !== -1 || ua.indexOf("Trident/") !== -1)) {
      // old IE's XSS filter mangles long-polling responses
      headers["X-XSS-Protection"] = "0";
    }
    headers["cache-control"] = "no-store";
    this.emit("headers", headers, req);
    return headers;
  }

  /** A close waiting for the client's next GET completes right away once discarded. */
  override discard(): void {
    super.discard();
    const pendingClose = this.shouldClose;
    if (pendingClose) {
      this.shouldClose = null;
      pendingClose();
    }
  }

  protected override doClose(fn: () => void): void {
    let closeTimeoutTimer: NodeJS.Timeout | undefined;
    if (this.bodyTimer) {
      clearTimeout(this.bodyTimer);
      this.bodyTimer = null;
    }
    if (this.dataReq) {
      debug("aborting ongoing data request");
      this.dataReq.destroy();
    }
    const onClose = (): void => {
      clearTimeout(closeTimeoutTimer);
      fn();
      this.onClose();
    };
    if (this.writable) {
      debug("transport writable - closing right away");
      this.send([CLOSE_PACKET]);
      onClose();
    } else if (this.discarded) {
      debug("transport discarded - closing right away");
      onClose();
    } else {
      debug("transport not writable - buffering orderly close");
      this.shouldClose = onClose;
      closeTimeoutTimer = setTimeout(onClose, this.closeTimeout);
    }
  }
}
