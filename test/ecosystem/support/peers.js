"use strict";

// Small helpers shared by the ecosystem tests: wait for an event with a bound,
// and collect what a real socket.io-client receives.

/**
 * Resolves with the arguments of the next `event` on `emitter`, rejects after `ms`.
 * @example const [msg] = await once(client, "hello");
 */
function once(emitter, event, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error("timed out waiting for '" + event + "'"));
    }, ms);
    function listener(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(event, listener);
  });
}

/**
 * Resolves once a socket.io-client socket is connected; rejects with its connect_error,
 * or after `ms`.
 * @example await connected(ioc(url));
 */
function connected(client, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error("not connected after " + ms + " ms")), ms);
    const onConnect = () => done();
    const onError = (err) => done(err);
    function done(err) {
      clearTimeout(timer);
      client.off("connect", onConnect);
      client.off("connect_error", onError);
      if (err) reject(err);
      else resolve(client);
    }
    client.once("connect", onConnect);
    client.once("connect_error", onError);
  });
}

/**
 * Polls `predicate` every 10 ms until it is truthy; rejects after `ms`.
 * @example await waitFor(() => received.length === 4);
 */
async function waitFor(predicate, ms = 3000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Records every event a client receives, in order: `log` is [event, ...args][].
 * @example const rec = record(client); ...; rec.events() // ["hello", "end"]
 */
function record(client) {
  const log = [];
  client.onAny((event, ...args) => log.push([event, ...args]));
  return {
    log,
    events: () => log.map((entry) => entry[0]),
    args: (event) => log.filter((entry) => entry[0] === event).map((entry) => entry.slice(1)),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { once, connected, waitFor, record, sleep };
