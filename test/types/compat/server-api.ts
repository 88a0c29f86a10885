// The server API as an application uses it, with typed events.
import { createServer } from "http";
import { Server, Socket, Namespace, RemoteSocket, DisconnectReason, ExtendedError, Event } from "socket.io";

interface ClientToServerEvents {
  message: (text: string) => void;
  join: (room: string, ack: (ok: boolean) => void) => void;
}

interface ServerToClientEvents {
  message: (from: string, text: string) => void;
  ping: (callback: (latency: number) => void) => void;
}

interface InterServerEvents {
  hello: (node: string) => void;
}

interface SocketData {
  user: { id: number; name: string };
}

type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

const httpServer = createServer();
const io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(httpServer, {
  cors: { origin: ["https://example.com"], credentials: true },
  connectionStateRecovery: { maxDisconnectionDuration: 60000 },
  pingInterval: 10000,
});

function authenticate(socket: ChatSocket, next: (err?: ExtendedError) => void): void {
  const token: unknown = socket.handshake.auth.token;
  if (typeof token !== "string") {
    const err: ExtendedError = new Error("not authorized");
    err.data = { reason: "missing token" };
    return next(err);
  }
  socket.data.user = { id: 1, name: token };
  next();
}
io.use(authenticate);

io.on("connection", (socket) => {
  const headers: string | undefined = socket.handshake.headers["user-agent"];
  const address: string = socket.handshake.address;
  const query = socket.handshake.query.token;
  const recovered: boolean = socket.recovered;
  const transport: string = socket.conn.transport.name;

  socket.join(`user:${socket.data.user.id}`);
  const rooms: string[] = [...socket.rooms].map((room) => room.toUpperCase());

  socket.on("message", (text) => {
    socket.broadcast.emit("message", socket.data.user.name, text.trim());
    io.to([...socket.rooms])
      .except(socket.id)
      .emit("message", "server", text);
  });
  socket.on("join", async (room, ack) => {
    await socket.join(room);
    ack(socket.rooms.has(room));
  });
  socket.use(([event, ...args]: Event, next) => {
    if (event === "forbidden") return next(new Error("forbidden event"));
    next();
  });
  socket.onAny((event: string, ...args: unknown[]) => {});
  socket.onAnyOutgoing((event: string) => {});
  socket.on("error", (err) => {
    const message: string = err.message;
  });
  socket.on("disconnect", (reason: DisconnectReason, description) => {});

  socket.timeout(1000).emit("ping", (err, latency) => {
    if (err) return;
    const ms: number = latency;
  });
  socket.compress(false).volatile.emit("message", "server", "hello");
  // @ts-expect-error the event map is enforced
  socket.emit("message", 42);
});

const admin: Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData> =
  io.of("/admin");
admin.use((socket, next) => (socket.handshake.auth.admin ? next() : next(new Error("admins only"))));
io.of(/^\/tenant-\d+$/).on("connection", (socket) => {
  const tenant = socket.nsp;
  tenant.emit("message", tenant.name, "joined");
});

io.on("hello", (node) => {});
io.serverSideEmit("hello", "node-1");

async function main(): Promise<void> {
  const sockets: RemoteSocket<ServerToClientEvents, SocketData>[] = await io.in("room").fetchSockets();
  for (const remote of sockets) {
    remote.emit("message", "server", `hi ${remote.data.user.name}`);
    remote.join("vip");
  }
  const latencies: number[] = await io.timeout(2000).emitWithAck("ping");
  io.socketsJoin("everyone");
  io.in("room").socketsLeave("room");
  io.in("banned").disconnectSockets(true);
  const count: number = io.engine.clientsCount;
  const ids: Set<string> = await io.of("/").allSockets();
  io.local.emit("message", "server", "only here");

  io.engine.on("connection_error", (err) => {
    console.log(err.req, err.code, err.message, err.context);
  });
  io.engine.on("initial_headers", (headers: Record<string, string>, req) => {
    headers["x-request-id"] = String(req.headers["x-request-id"]);
  });
  io.engine.use((req: unknown, res: unknown, next: () => void) => next());
  io.engine.generateId = () => "custom-id";

  httpServer.listen(3000);
  await io.close();
}
main();

// CommonJS-style creation, still typed
const standalone = new Server(3001, { path: "/ws" });
standalone.on("connection", (socket) => socket.emit("anything", 1, { two: 2 }));
