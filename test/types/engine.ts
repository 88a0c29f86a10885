// Compile-time test of the socket.io/engine API, written as code for the
// engine.io package is.
import { createServer } from "http";
import { attach, listen, parser, protocol, Server, Socket, ServerOptions } from "../../dist/engine";

const opts: ServerOptions = {
  pingInterval: 10000,
  pingTimeout: 5000,
  maxHttpBufferSize: 1e8,
  transports: ["polling", "websocket"],
  cors: { origin: "*", credentials: true },
  cookie: { name: "io", httpOnly: true, sameSite: "strict" },
  allowEIO3: true,
  allowRequest: (req, fn) => fn(null, req.headers.origin !== undefined),
  maxBufferedAmount: 5e6,
};

const engine: Server = attach(createServer(), { ...opts, path: "/engine.io" });
const standalone: Server = listen(0, () => {});
const version: number = protocol;

engine.on("connection", (socket: Socket) => {
  const id: string = socket.id;
  const p: 3 | 4 = socket.protocol;
  socket.send("utf 8 string", { compress: false }, () => {});
  socket.send(Buffer.from([0, 1, 2]));
  socket.send("may be dropped", { volatile: true });
  const queued: number = socket.bufferedAmount;
  socket.on("message", (data) => {});
  socket.on("close", (reason, description) => {});
  socket.close();
});
engine.on("connection_error", (err) => {
  console.log(err.req.url, err.code, err.message, err.context);
});
engine.on("initial_headers", (headers, req) => {
  headers["set-cookie"] = "a=b";
});
engine.use((req, res, next) => next());
engine.generateId = () => Promise.resolve("custom-id");

const n: number = engine.clientsCount;
const dropped: number = engine.droppedPacketsCount;
const slow: number = engine.slowClientsClosedCount;
parser.encodePacket({ type: "message", data: "x" }, true, (encoded) => {});
const decoded = parser.decodePacket("4hello");
const t: string = decoded.type;

standalone.close();

// the request preparation step can be overridden, as code extending engine.io does
class TenantEngine extends Server {
  protected override prepare(req: import("http").IncomingMessage): void {
    super.prepare(req);
    (req as import("../../dist/engine").EngineRequest)._query.tenant = String(req.headers["x-tenant"]);
  }
}
new TenantEngine({ cookie: { name: "sid", priority: "high", partitioned: true } });
