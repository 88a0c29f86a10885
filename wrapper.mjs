import io from "./dist/index.js";

export const { Server, Namespace, Socket, BroadcastOperator, RemoteSocket } = io;
export default io;
