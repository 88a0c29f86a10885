"use strict";

// The engine lifecycle shared by the engine suites: a standalone engine on port 0,
// clients of the given class (if any), and everything closed after each test.
const eio = require("../../support/impl").engine();
const { closeEngine } = require("../../support/servers");

/**
 * @param {Function} [ClientClass] the engine.io-client Socket class (v6 or v3), for connect()
 * @param {object} [defaults] engine options of every start()
 * @example
 * const h = useEngine(ClientSocket);
 * beforeEach(() => h.start({ pingInterval: 50 }));
 * const { client, socket } = await h.connect({ transports: ["websocket"] });
 */
function useEngine(ClientClass, defaults = {}) {
  const h = { engine: undefined, port: undefined, clients: [] };

  /** Starts an engine; resolves { engine, port }. */
  h.start = async (opts) => {
    await new Promise((resolve) => {
      h.engine = eio.listen(0, { ...defaults, ...opts }, resolve);
    });
    h.port = h.engine.httpServer.address().port;
    h.clients = [];
    return { engine: h.engine, port: h.port };
  };

  /** Opens a client; resolves { client, socket } once both sides saw the open. */
  h.connect = (opts) => {
    const client = new ClientClass(`http://localhost:${h.port}`, opts);
    h.clients.push(client);
    const server = new Promise((resolve) => h.engine.once("connection", resolve));
    const open = new Promise((resolve) => client.once("open", resolve));
    return Promise.all([server, open]).then(([socket]) => ({ client, socket }));
  };

  afterEach(async () => {
    h.clients.forEach((c) => c.close());
    if (h.engine) await closeEngine(h.engine);
    h.engine = undefined;
  });

  return h;
}

module.exports = { useEngine };
