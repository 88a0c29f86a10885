/**
 * Handshake error codes and the way a refused request is answered.
 *
 * The numeric codes and their messages are part of the wire contract: clients
 * (and existing apps listening to "connection_error") rely on the exact values.
 */
import type { ServerResponse } from "http";
import type { Duplex } from "stream";
import debugModule from "debug";

const debug = debugModule("engine");

export const errors = {
  UNKNOWN_TRANSPORT: 0,
  UNKNOWN_SID: 1,
  BAD_HANDSHAKE_METHOD: 2,
  BAD_REQUEST: 3,
  FORBIDDEN: 4,
  UNSUPPORTED_PROTOCOL_VERSION: 5,
  TOO_MANY_REQUESTS: 6,
  SERVICE_UNAVAILABLE: 7,
} as const;

export type ErrorCode = (typeof errors)[keyof typeof errors];

export const errorMessages: Record<ErrorCode, string> = {
  0: "Transport unknown",
  1: "Session ID unknown",
  2: "Bad handshake method",
  3: "Bad request",
  4: "Forbidden",
  5: "Unsupported protocol version",
  6: "Too many requests",
  7: "Service unavailable",
};

/** Extra information about a refused request, as given to "connection_error". */
export type ErrorContext = Record<string, unknown> & { message?: string };

function messageFor(code: ErrorCode, context?: ErrorContext): string {
  return context && typeof context.message === "string" && context.message
    ? context.message
    : errorMessages[code];
}

// 503 (draining): a load balancer retries the handshake on another node (nginx:
// proxy_next_upstream http_503)
function statusOf(code: ErrorCode): number {
  switch (code) {
    case errors.FORBIDDEN:
      return 403;
    case errors.TOO_MANY_REQUESTS:
      return 429;
    case errors.SERVICE_UNAVAILABLE:
      return 503;
    default:
      return 400;
  }
}

/** The Retry-After header of a refusal whose context says when to come back. */
function retryAfterOf(context: ErrorContext | undefined): number | undefined {
  return context && typeof context.retryAfter === "number" ? context.retryAfter : undefined;
}

/**
 * Answers a refused HTTP request with `{"code":N,"message":"..."}`
 * (403 for "Forbidden", 429 for "Too many requests", 503 for "Service unavailable", 400
 * otherwise).
 */
export function abortRequest(res: ServerResponse, code: ErrorCode, context?: ErrorContext): void {
  if (res.headersSent || res.writableEnded) {
    return;
  }
  const body = JSON.stringify({ code, message: messageFor(code, context) });
  const headers: Record<string, string | number> = {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  };
  const retryAfter = retryAfterOf(context);
  if (retryAfter !== undefined) {
    headers["Retry-After"] = retryAfter;
  }
  res.writeHead(statusOf(code), headers);
  res.end(body);
}

/**
 * Answers a refused upgrade request on the raw socket, then destroys it.
 */
export function abortUpgrade(socket: Duplex, code: ErrorCode, context?: ErrorContext): void {
  // the peer may already be gone; a late write error must not crash the process
  socket.on("error", (err) => debug("socket error after refused upgrade: %s", err.message));
  if (socket.writable && code === errors.TOO_MANY_REQUESTS) {
    // new with the per-address limits, so answered as a polling request is rather than
    // with the plain text of the other upgrade refusals
    const body = JSON.stringify({ code, message: messageFor(code, context) });
    const retryAfter = retryAfterOf(context);
    socket.write(
      "HTTP/1.1 429 Too Many Requests\r\n" +
        "Connection: close\r\n" +
        "Content-Type: application/json\r\n" +
        (retryAfter !== undefined ? "Retry-After: " + retryAfter + "\r\n" : "") +
        "Content-Length: " +
        Buffer.byteLength(body) +
        "\r\n\r\n" +
        body,
    );
  } else if (socket.writable) {
    const message = messageFor(code, context);
    socket.write(
      (code === errors.SERVICE_UNAVAILABLE
        ? "HTTP/1.1 503 Service Unavailable\r\n"
        : "HTTP/1.1 400 Bad Request\r\n") +
        "Connection: close\r\n" +
        "Content-type: text/html\r\n" +
        "Content-Length: " +
        Buffer.byteLength(message) +
        "\r\n\r\n" +
        message,
    );
  }
  socket.destroy();
}
