/**
 * The transports a client may ask for (`transport` query parameter), and the
 * upgrades each one allows.
 */
import { Polling } from "./polling";
import { JSONP } from "./polling-jsonp";
import { WebSocket } from "./websocket";
import type { Transport, EngineRequest } from "../transport";

export interface TransportConstructor {
  new (req: EngineRequest): Transport;
  /** names of the transports a session may upgrade to from this one */
  upgradesTo: string[];
}

/**
 * `polling` answers with JSONP when the client gives a callback index (`j`).
 * Callable with `new`, like the transport classes: returning an object from a
 * constructor function yields that object.
 */
function polling(req: EngineRequest): Transport {
  return typeof req._query.j === "string" ? new JSONP(req) : new Polling(req);
}
polling.upgradesTo = ["websocket"];

export const transports: Record<string, TransportConstructor> = {
  polling: polling as unknown as TransportConstructor,
  websocket: WebSocket,
};

export { Polling, JSONP, WebSocket };
