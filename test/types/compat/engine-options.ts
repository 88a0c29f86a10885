// The Engine.IO options a Socket.IO server accepts, as in the documentation.
import { createServer } from "http";
import { Server, ServerOptions } from "socket.io";
import { WebSocketServer } from "ws";

const options: Partial<ServerOptions> = {
  path: "/my-path",
  serveClient: false,
  connectTimeout: 10000,
  pingInterval: 20000,
  pingTimeout: 10000,
  upgradeTimeout: 5000,
  maxHttpBufferSize: 1e8,
  transports: ["polling", "websocket"],
  allowUpgrades: true,
  allowEIO3: true,
  perMessageDeflate: { threshold: 2048 },
  httpCompression: { threshold: 2048 },
  addTrailingSlash: false,
  cleanupEmptyChildNamespaces: true,
  allowRequest: (req, callback) => {
    callback(null, req.headers.origin === "https://example.com");
  },
  cookie: {
    name: "my-cookie",
    httpOnly: true,
    sameSite: "strict",
    maxAge: 86400,
    secure: true,
    path: "/",
    domain: "example.com",
    expires: new Date(Date.now() + 86400000),
    partitioned: true,
    priority: "high",
  },
  cors: {
    origin: ["https://example.com", /\.example\.com$/],
    methods: ["GET", "POST"],
    allowedHeaders: ["my-custom-header"],
    credentials: true,
  },
  wsEngine: WebSocketServer,
};

const io = new Server(createServer(), options);
new Server({ cookie: true, cors: { origin: "*" } });
new Server({ cookie: { name: "io", sameSite: "none", secure: true } });
new Server({
  cors: (req, callback) => callback(null, { origin: req.headers.origin === "https://example.com" }),
});
// @ts-expect-error sameSite takes a fixed set of values
new Server({ cookie: { name: "io", sameSite: "sometimes" } });
io.listen(3000);
