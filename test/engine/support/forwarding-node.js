"use strict";

// A node of a `sessionForwarding` deployment in a process of its own (forked by
// session-forwarding.test.js), so that a test can stop it (SIGSTOP) and kill it (SIGKILL)
// while requests it forwarded are pending on the owner. An engine on /socket.io/ with the
// secret given as argv[2]; it sends its public port to the parent once it listens.
const http = require("http");
const eio = require("../../support/impl").engine();

const httpServer = http.createServer();
const engine = eio.attach(httpServer, { path: "/socket.io", sessionForwarding: { secret: process.argv[2] } });
httpServer.listen(0, "127.0.0.1", () => {
  const ready = () => {
    if (engine._forwarding.address === undefined) {
      setTimeout(ready, 5);
      return;
    }
    process.send({ port: httpServer.address().port });
  };
  ready();
});
