/**
 * socket.io v2 clients (Socket.IO protocol v4 over Engine.IO v3, accepted with
 * `allowEIO3`): every place where the server treats them differently asks this
 * module, so that the differences can be found from here:
 *
 * - `server.ts` `onconnection`: they are connected to the main namespace implicitly;
 * - `client.ts` `ondecoded`: the query of a namespace comes in its name ("/nsp?a=1");
 * - `socket.ts` constructor: the socket id is derived from the connection id;
 * - `socket.ts` `_onconnect`: the CONNECT packet carries no data;
 * - `namespace.ts` `_add`: a middleware error is sent as its data or its message alone.
 */
import type { Socket as EngineSocket } from "./engine/socket";

/**
 * Whether the connection is a socket.io v2 client's.
 *
 * @example
 * if (isV2Client(socket.conn)) console.log("a socket.io v2 client");
 */
export function isV2Client(conn: EngineSocket): boolean {
  return conn.protocol === 3;
}
