"use strict";

// The README's SIGTERM recipe, as a process of its own: drain.test.js signals it.
const http = require("http");
const { Server } = require("../../support/impl").sio();

const httpServer = http.createServer();
const io = new Server(httpServer, { connectionStateRecovery: {} });

process.once("SIGTERM", async () => {
  const result = await io.drain({ rate: 200, deadline: 2000, closeHttpServer: true });
  console.log("drained %j", result);
  process.exit(result.timedOut ? 1 : 0);
});

httpServer.listen(0, () => console.log("listening %d", httpServer.address().port));
