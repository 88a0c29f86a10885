import engine from "./dist/engine/index.js";

export const { Server, Socket, Transport, transports, parser, protocol, listen, attach } = engine;
export default engine;
