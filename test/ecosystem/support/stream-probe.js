"use strict";

/**
 * Resolves once the redis-streams adapter of `io` reads its stream: a probe broadcast to a
 * room nobody is in comes back through the adapter's reader. A node that reports "ready"
 * before that would miss the broadcasts of a test that starts at once.
 *
 * @example
 * await streamHeard(io, "probe:" + name);
 */
async function streamHeard(io, room) {
  const adapter = io.of("/").adapter;
  let heard = false;
  const onRawMessage = adapter.onRawMessage;
  adapter.onRawMessage = function (...args) {
    heard = true;
    return onRawMessage.apply(this, args);
  };
  while (!heard) {
    io.to(room).emit("probe");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  adapter.onRawMessage = onRawMessage;
}

module.exports = { streamHeard };
