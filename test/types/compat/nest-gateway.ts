// A NestJS gateway and the documented RedisIoAdapter, as in NestJS's
// "Gateways" and "Adapters" pages.
import "reflect-metadata";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  WsResponse,
} from "@nestjs/websockets";
import { IoAdapter } from "@nestjs/platform-socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { from, Observable } from "rxjs";
import { map } from "rxjs/operators";
import { Namespace, Server, ServerOptions, Socket } from "socket.io";

@WebSocketGateway({ cors: { origin: "*" }, transports: ["websocket"] })
export class EventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  @WebSocketServer()
  server!: Server;

  afterInit(server: Server): void {
    server.use((socket, next) => next());
  }

  handleConnection(client: Socket, ...args: any[]): void {
    client.join("lobby");
    this.server.to("lobby").emit("joined", client.id);
  }

  handleDisconnect(client: Socket): void {}

  @SubscribeMessage("events")
  findAll(@MessageBody() data: any): Observable<WsResponse<number>> {
    return from([1, 2, 3]).pipe(map((item) => ({ event: "events", data: item })));
  }

  @SubscribeMessage("identity")
  async identity(@MessageBody() data: number, @ConnectedSocket() client: Socket): Promise<number> {
    client.emit("identity", data);
    return data;
  }
}

@WebSocketGateway({ namespace: "chat" })
export class ChatGateway {
  @WebSocketServer()
  namespace!: Namespace;

  @SubscribeMessage("message")
  onMessage(@MessageBody() text: string): void {
    this.namespace.emit("message", text);
  }
}

export class RedisIoAdapter extends IoAdapter {
  private adapterConstructor!: ReturnType<typeof createAdapter>;

  async connectToRedis(): Promise<void> {
    const pubClient = createClient({ url: "redis://localhost:6379" });
    const subClient = pubClient.duplicate();
    await Promise.all([pubClient.connect(), subClient.connect()]);
    this.adapterConstructor = createAdapter(pubClient, subClient);
  }

  createIOServer(port: number, options?: ServerOptions): any {
    const server = super.createIOServer(port, options);
    server.adapter(this.adapterConstructor);
    return server;
  }
}

@Module({ providers: [EventsGateway, ChatGateway] })
class AppModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  const redisIoAdapter = new RedisIoAdapter(app);
  await redisIoAdapter.connectToRedis();
  app.useWebSocketAdapter(redisIoAdapter);
  await app.listen(3000);
}
bootstrap();
