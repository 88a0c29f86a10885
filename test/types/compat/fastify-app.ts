// A fastify app with fastify-socket.io, as in its README.
import Fastify from "fastify";
import fastifySocketIO from "fastify-socket.io";
import { Socket } from "socket.io";

const app = Fastify();
app.register(fastifySocketIO, { cors: { origin: "*" }, transports: ["websocket"] });

app.get("/", async () => {
  app.io.emit("hello");
  return { clients: app.io.engine.clientsCount };
});

app.ready().then(() => {
  app.io.on("connection", (socket: Socket) => {
    socket.emit("welcome", socket.id);
  });
});

app.listen({ port: 3000 });
