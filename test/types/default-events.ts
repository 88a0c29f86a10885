// Without type arguments every event and argument is accepted, as with the
// reference, and the constructor accepts a port.
import { createServer } from "http";
import { Server } from "../../dist";
import type { DrainResult } from "../../dist";

const io = new Server(createServer(), { pingInterval: 1000, cors: { origin: "*" } });
io.on("connection", (socket) => {
  socket.emit("anything", 1, "two", { three: 3 }, (ack: unknown) => {});
  socket.on("whatever", (a: number, b: string) => {});
  socket.join(["a", "b"]);
  io.to("a").emit("x", 1);
  io.timeout(10).emit("y", (err: Error, res: unknown[]) => {});
});
io.of(/^\/dyn-\d+$/).on("connection", (socket) => socket.disconnect(true));
io.listen(0);

const io2 = new Server(3000, { path: "/custom" });
io2.close();

// io.drain(): typed options and result
const drained: Promise<DrainResult> = io.drain({
  rate: 100,
  batchSize: 10,
  deadline: 20000,
  closeHttpServer: true,
});
void drained.then(({ closed, persisted, notPersisted, timedOut, duration }) => [
  closed,
  persisted,
  notPersisted,
  timedOut,
  duration,
]);
// @ts-expect-error: rate is a number of sessions a second
void io.drain({ rate: "fast" });
