/**
 * socket.io/engine: the Engine.IO server (the API of the npm package engine.io).
 *
 * @example
 * const engine = require("socket.io/engine");
 * const server = engine.listen(3000);
 * server.on("connection", (socket) => socket.send("hello"));
 */
import { createServer } from "http";
import type { Server as HttpServer } from "http";
import { Server } from "./server";
import type { ServerOptions, AttachOptions } from "./server";
import { Socket } from "./socket";
import { Transport } from "./transport";
import { transports } from "./transports";
import * as parser from "./codec/v4";

export const protocol = parser.protocol;

/**
 * Creates an http server answering 501 outside of the engine path, attaches
 * an engine to it and starts listening.
 *
 * @example
 * const engine = listen(3000, { pingInterval: 10000 }, () => console.log("listening"));
 */
export function listen(port: number, options?: ServerOptions & AttachOptions, fn?: () => void): Server;
export function listen(port: number, fn?: () => void): Server;
export function listen(
  port: number,
  options?: (ServerOptions & AttachOptions) | (() => void),
  fn?: () => void,
): Server {
  if (typeof options === "function") {
    fn = options;
    options = {};
  }
  const server = createServer((_req, res) => {
    res.writeHead(501);
    res.end("Not Implemented");
  });
  const engine = attach(server, options);
  engine.httpServer = server;
  server.listen(port, fn);
  return engine;
}

/**
 * Creates an engine and captures the requests of `server` for its path.
 *
 * @example
 * const engine = attach(httpServer, { path: "/engine.io" });
 */
export function attach(server: HttpServer, options: ServerOptions & AttachOptions = {}): Server {
  const engine = new Server(options);
  engine.attach(server, options);
  return engine;
}

export { Server, Socket, Transport, transports, parser };
export type {
  ServerOptions,
  AttachOptions,
  ResolvedServerOptions,
  Middleware,
  AllowRequest,
  ConnectionError,
  CookieOptions,
  CookieSerializeOptions,
} from "./server";
export type { SendOptions, SendCallback, SocketReadyState } from "./socket";
export type { AddressLimitsOptions } from "./address-limits";
export type { SessionForwardingOptions } from "./forwarding";
export type { EngineRequest } from "./transport";
export type { WsPreEncodedFrame } from "./ws-frame";
export { errors, errorMessages } from "./handshake-errors";
