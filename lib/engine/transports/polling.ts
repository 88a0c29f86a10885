/**
 * HTTP long-polling transport.
 *
 * The client keeps at most one pending GET (the server answers it with the
 * queued packets, as one payload) and sends its packets with POST requests.
 */
import type { ServerResponse, OutgoingHttpHeaders } from "http";
import * as zlib from "zlib";
import accepts from "accepts";
import debugModule from "debug";
import { Transport, EngineRequest } from "../transport";
import * as parserV4 from "../parser";
import * as parserV3 from "../parser-v3";
import type { Packet } from "../parser";

const debug = debugModule("engine:polling");

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

export class Polling extends Transport {
  /** bytes a single POST may carry before it is refused with 413 */
  maxHttpBufferSize = 1e6;
  httpCompression: HttpCompressionOptions | false = false;
  /** how long a close waits for the client's next GET before giving up */
  closeTimeout = 30 * 1000;

  protected pollReq: EngineRequest | null = null;
  protected pollRes: ServerResponse | null = null;
  private dataReq: EngineRequest | null = null;
  private shouldClose: (() => void) | null = null;

  // created once per session and reused by every poll
  private readonly onPollClose = (): void => {
    this.writable = false;
    this.releasePoll();
    this.onError("poll connection closed prematurely");
  };

  get name(): string {
    return "polling";
  }

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
    if (this.pollReq) {
      debug("request overlap");
      this.onError("overlap from client");
      res.writeHead(400);
      res.end();
      return;
    }
    debug("setting request");
    this.pollReq = req;
    this.pollRes = res;
    req.on("close", this.onPollClose);
    this.writable = true;
    this.emit("ready");
    // a close was requested while no GET was pending: answer this one with it
    if (this.writable && this.shouldClose) {
      this.send([NOOP_PACKET]);
    }
  }

  private onDataRequest(req: EngineRequest, res: ServerResponse): void {
    if (this.dataReq) {
      this.onError("data request overlap from client");
      res.writeHead(400);
      res.end();
      return;
    }
    const isBinary = req.headers["content-type"] === "application/octet-stream";
    if (isBinary && this.protocol === 4) {
      this.onError("invalid content");
      res.writeHead(400);
      res.end();
      return;
    }
    this.dataReq = req;
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = (): void => {
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.removeListener("close", onClose);
      this.dataReq = null;
    };
    const onClose = (): void => {
      cleanup();
      this.onError("data request connection closed prematurely");
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > this.maxHttpBufferSize) {
        debug("payload too large (%d bytes)", length);
        cleanup();
        // the connection is closed once answered, so the rest of the body is dropped
        res.writeHead(413, { Connection: "close" });
        res.end();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
      this.onData(isBinary ? body : body.toString("utf8"));
      res.writeHead(200, this.headers(req, { "Content-Type": "text/html", "Content-Length": 2 }));
      res.end("ok");
    };
    req.on("close", onClose);
    req.on("data", onData);
    req.on("end", onEnd);
  }

  /** Decodes a POST body: a payload of packets. */
  protected override onData(data: string | Buffer): void {
    debug('received "%s"', data);
    if (this.protocol === 3) {
      parserV3.decodePayload(data, undefined, (packet) => this.onPayloadPacket(packet));
      return;
    }
    const packets = parserV4.decodePayload(data as string);
    for (let i = 0; i < packets.length; i++) {
      if (this.onPayloadPacket(packets[i]) === false) {
        return;
      }
    }
  }

  private onPayloadPacket(packet: Packet): boolean | void {
    if (packet.type === "close") {
      debug("got xhr close packet");
      this.onClose();
      return false;
    }
    this.onPacket(packet);
  }

  protected override onClose(): void {
    if (this.writable) {
      // release the pending GET so the client is not left hanging
      this.send([NOOP_PACKET]);
    }
    super.onClose();
  }

  override send(packets: Packet[]): void {
    this.writable = false;
    let closeFn: (() => void) | null = null;
    if (this.shouldClose) {
      debug("appending close packet to payload");
      packets.push(CLOSE_PACKET);
      closeFn = this.shouldClose;
      this.shouldClose = null;
    }
    const compress = shouldCompress(packets);
    if (this.protocol === 3) {
      parserV3.encodePayload(packets, this.supportsBinary, (data) => this.write(data, compress));
    } else {
      this.write(parserV4.encodePayloadSync(packets), compress);
    }
    if (closeFn) {
      closeFn();
    }
  }

  private releasePoll(): void {
    if (this.pollReq) {
      this.pollReq.removeListener("close", this.onPollClose);
    }
    this.pollReq = null;
    this.pollRes = null;
  }

  private write(data: string | Buffer, compress: boolean): void {
    debug('writing "%s"', data);
    const req = this.pollReq as EngineRequest;
    const res = this.pollRes as ServerResponse;
    this.releasePoll();
    this.doWrite(req, res, data, compress, () => this.emit("drain"));
  }

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
    compress: boolean,
    callback: () => void
  ): void {
    const data = this.wrap(payload);
    const headers: OutgoingHttpHeaders = { "Content-Type": this.contentType(data) };
    const respond = (body: string | Buffer): void => {
      headers["Content-Length"] = typeof body === "string" ? Buffer.byteLength(body) : body.length;
      res.writeHead(200, this.headers(req, headers));
      res.end(body);
      callback();
    };
    const options = this.httpCompression;
    if (!options || !compress) {
      respond(data);
      return;
    }
    const length = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    if (length < (options.threshold === undefined ? DEFAULT_THRESHOLD : options.threshold)) {
      respond(data);
      return;
    }
    const encoding = accepts(req).encodings(["gzip", "deflate"]);
    if (!encoding) {
      respond(data);
      return;
    }
    compressFunction(encoding)(data, options, (err, compressed) => {
      if (err) {
        res.writeHead(500);
        res.end();
        callback();
        return;
      }
      headers["Content-Encoding"] = encoding;
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
