"use strict";

// A separate process with no Socket.IO server, only @socket.io/redis-emitter, as a
// worker or a cron job of a user's deployment would be. It reads one JSON command
// per line on stdin and answers "done <id>" once Redis has processed the publish:
//   { id, nsp?, to?, except?, op: "emit" | "socketsJoin" | "socketsLeave" |
//     "disconnectSockets" | "serverSideEmit", args }
// An argument { $bin: base64 } is sent as a Buffer.
//   node emitter-process.js redis://127.0.0.1:6379
const readline = require("readline");
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const decode = (arg) => (arg && typeof arg.$bin === "string" ? Buffer.from(arg.$bin, "base64") : arg);

async function main() {
  const client = createClient({ url: process.argv[2] });
  client.on("error", (err) => console.error("redis error: " + err.message));
  await client.connect();
  const emitter = new Emitter(client);
  console.log("ready");

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const { id, nsp = "/", to, except, op, args = [] } = JSON.parse(line);
    let target = emitter.of(nsp);
    if (op !== "serverSideEmit") {
      if (to) target = target.to(to);
      if (except) target = target.except(except);
    }
    target[op](...args.map(decode));
    // commands on one connection are answered in order: once PING is, the publish is done
    await client.ping();
    console.log("done " + id);
  }
  await client.quit();
}

main().catch((err) => {
  console.error(err.stack);
  process.exit(1);
});
