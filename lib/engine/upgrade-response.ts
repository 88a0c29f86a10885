/**
 * A stand-in for the ServerResponse of an upgrade request, so that connect-style
 * middlewares (helmet, express-session, cors...) run unchanged on it: the
 * headers they set end up in the WebSocket handshake response.
 */
import type { IncomingMessage, OutgoingHttpHeader } from "http";
import type { Duplex } from "stream";

const kResponseHeaders = Symbol("engine:responseHeaders");

type HeaderStore = Record<string, OutgoingHttpHeader>;

interface RequestWithHeaders extends IncomingMessage {
  [kResponseHeaders]?: HeaderStore;
}

export class UpgradeResponse {
  statusCode = 101;
  headersSent = false;
  private readonly headers: HeaderStore = {};

  constructor(
    req: IncomingMessage,
    private readonly socket: Duplex,
  ) {
    (req as RequestWithHeaders)[kResponseHeaders] = this.headers;
  }

  // header names are case-insensitive, as on a real ServerResponse
  setHeader(name: string, value: OutgoingHttpHeader): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  getHeader(name: string): OutgoingHttpHeader | undefined {
    return this.headers[name.toLowerCase()];
  }

  getHeaders(): HeaderStore {
    return this.headers;
  }

  hasHeader(name: string): boolean {
    return name.toLowerCase() in this.headers;
  }

  removeHeader(name: string): void {
    delete this.headers[name.toLowerCase()];
  }

  write(): boolean {
    return true;
  }

  // ws writes the real head; middlewares hooking writeHead (on-headers) still run
  writeHead(): this {
    return this;
  }

  /** A middleware answering the request itself refuses the upgrade. */
  end(): this {
    this.socket.destroy();
    return this;
  }
}

/**
 * Takes the headers middlewares set for an upgrade request, as a mutable
 * object (removed from the request).
 */
export function takeResponseHeaders(req: IncomingMessage): HeaderStore {
  const r = req as RequestWithHeaders;
  const headers = r[kResponseHeaders] || {};
  delete r[kResponseHeaders];
  return headers;
}
