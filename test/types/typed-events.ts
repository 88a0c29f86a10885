// Compile-time test of the typed events generics: `npm run test:types` fails
// if a correct use stops compiling or a wrong one (@ts-expect-error) compiles.
import { createServer } from "http";
import { Server, Socket, Namespace, RemoteSocket } from "../../dist";

interface ClientToServerEvents {
  hello: (name: string) => void;
  withAck: (n: number, cb: (doubled: number) => void) => void;
}

interface ServerToClientEvents {
  noArg: () => void;
  basicEmit: (a: number, b: string, c: Buffer) => void;
  withAck: (d: string, callback: (e: number) => void) => void;
}

interface InterServerEvents {
  ping: () => void;
  count: (cb: (n: number) => void) => void;
}

interface SocketData {
  name: string;
  age: number;
}

const io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(
  createServer(),
);

io.on("connection", (socket) => {
  const s: Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData> = socket;

  socket.emit("noArg");
  socket.emit("basicEmit", 1, "2", Buffer.from([3]));
  socket.emit("withAck", "4", (e) => {
    const n: number = e;
  });
  // @ts-expect-error wrong argument type
  socket.emit("basicEmit", "1", "2", Buffer.from([3]));
  // @ts-expect-error unknown event
  socket.emit("unknown");

  socket.timeout(1000).emit("withAck", "4", (err, e) => {
    const error: Error = err;
    const n: number = e;
  });
  const answer: Promise<number> = socket.timeout(1000).emitWithAck("withAck", "4");
  const answer2: Promise<number> = socket.emitWithAck("withAck", "4");

  socket.on("hello", (name) => {
    const n: string = name;
  });
  socket.on("withAck", (n, cb) => {
    cb(n * 2);
  });
  // @ts-expect-error listener does not match
  socket.on("hello", (name: number) => {});

  socket.on("disconnect", (reason) => {
    const r: string = reason;
    if (reason === "write buffer full") {
      const queued: number = socket.conn.bufferedAmount;
    }
  });
  socket.on("disconnecting", (reason) => {});

  socket.data.name = "john";
  // @ts-expect-error SocketData is typed
  socket.data.name = 42;

  socket.to("room").emit("basicEmit", 1, "2", Buffer.from([3]));
});

io.emit("noArg");
io.to("room").except("other").emit("basicEmit", 1, "2", Buffer.from([]));
// @ts-expect-error broadcasts cannot carry a plain acknowledgement
io.emit("withAck", "4", (e: number) => {});
io.timeout(1000).emit("withAck", "4", (err, responses) => {
  const error: Error = err;
  const all: number[] = responses;
});
const all: Promise<number[]> = io.timeout(1000).emitWithAck("withAck", "4");

io.serverSideEmit("ping");
io.on("ping", () => {});
io.serverSideEmit("count", (err, responses) => {
  const n: number[] = responses;
});
const counts: Promise<number[]> = io.serverSideEmitWithAck("count");

const nsp: Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData> =
  io.of("/admin");
nsp.emit("noArg");
nsp.use((socket, next) => {
  socket.data.age = 3;
  next(new Error("nope"));
});

async function remote() {
  const sockets = await io.fetchSockets();
  for (const socket of sockets) {
    const r: RemoteSocket<ServerToClientEvents, SocketData> = socket;
    const age: number = socket.data.age;
    socket.emit("noArg");
    socket.timeout(100).emit("withAck", "4", (err, e) => {});
  }
}
remote();
