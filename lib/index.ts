import { Server, ServerOptions } from "./server";
import { Namespace } from "./namespace";
import { Socket } from "./socket";
import { BroadcastOperator, RemoteSocket } from "./broadcast-operator";

export { Server, ServerOptions, Namespace, Socket, BroadcastOperator, RemoteSocket };
export type { Parser } from "./server";
export type { ExtendedError, NamespaceReservedEventsMap, ServerReservedEventsMap } from "./namespace";
export type { DisconnectReason, Event, Handshake, SocketReservedEventsMap } from "./socket";
export type { SocketDetails } from "./broadcast-operator";
export type { RateLimitOptions, EventRate } from "./rate-limit";
export type { SessionForwardingOptions } from "./engine/forwarding";
export type { Client } from "./client";
export type {
  Metrics,
  EngineMetrics,
  NamespaceMetrics,
  PromClientLike,
  RegisterMetricsOptions,
} from "./metrics";
export type { Room, SocketId, BroadcastOptions, BroadcastFlags } from "./adapter";
export type { DrainOptions, DrainResult } from "./drain";
export type {
  DefaultEventsMap,
  EventNames,
  EventParams,
  EventsMap,
  DecorateAcknowledgements,
  DecorateAcknowledgementsWithMultipleResponses,
  DecorateAcknowledgementsWithTimeoutAndMultipleResponses,
  RemoveAcknowledgements,
  TypedEventBroadcaster,
} from "./typed-events";

// `require("socket.io")(server, opts)` creates a server, as with the reference:
// the CommonJS export is a function that also carries the named exports.
function io(srv?: any, opts?: Partial<ServerOptions>): Server {
  return new Server(srv, opts);
}

module.exports = Object.assign(io, {
  Server,
  Namespace,
  Socket,
  BroadcastOperator,
  RemoteSocket,
  default: io,
});
