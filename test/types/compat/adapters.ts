// The official adapters: set on the server, then reached through
// `io.of("/").adapter` with a cast to call their own methods.
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter, RedisAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createAdapter as createClusterAdapter, NodeClusterAdapter } from "@socket.io/cluster-adapter";
import { createAdapter as createPostgresAdapter, PostgresAdapter } from "@socket.io/postgres-adapter";
import { Pool } from "pg";
import { createClient } from "redis";

async function redis(): Promise<void> {
  const pubClient = createClient({ url: "redis://localhost:6379" });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const io = new Server({ adapter: createAdapter(pubClient, subClient) });
  io.adapter(createAdapter(pubClient, subClient, { key: "app" }));
  io.of("/").adapter.on("error", (err: Error) => console.error(err));

  const adapter = io.of("/").adapter as RedisAdapter;
  const rooms: Set<string> = await adapter.allRooms();
  const servers: number = await adapter.serverCount();
  const uid: string = adapter.uid;

  // the room events of any adapter
  io.of("/").adapter.on("create-room", (room) => console.log(`room ${room} was created`));
  io.of("/").adapter.on("join-room", (room, id) => console.log(`socket ${id} has joined room ${room}`));
  const members: number = io.of("/").adapter.rooms.get("news")?.size ?? 0;
  const ofSocket: Set<string> | undefined = io.of("/").adapter.sids.get("some-id");

  new Server({ adapter: createShardedAdapter(pubClient, subClient) });
  new Server({ adapter: createStreamsAdapter(pubClient), connectionStateRecovery: {} });
}

function cluster(): void {
  const io = new Server({ adapter: createClusterAdapter() });
  const adapter = io.of("/").adapter as NodeClusterAdapter;
  const servers: Promise<number> = adapter.serverCount();
}

function postgres(): void {
  const pool = new Pool({ host: "localhost", user: "postgres" });
  const io = new Server();
  io.adapter(createPostgresAdapter(pool, { tableName: "socket_io_attachments" }));
  const adapter = io.of("/").adapter as PostgresAdapter;
  adapter.close();
}

redis();
cluster();
postgres();
