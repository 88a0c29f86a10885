"use strict";

// Waiting in tests: on the event itself (waitFor), on a condition the code under test
// will make true (until), and, for the checks that something does NOT happen, a silence
// window (expectNoEvent) that a test follows with a positive control: the same channel
// then carries something that must arrive, so that the silence proves something.
// `sleep` is for pacing what a test sends (a body trickled, a slow peer), never for
// waiting on the code under test.

/** Resolves after `ms`. */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with the arguments of the next `event` emitted by `emitter`
 * (the first argument alone when there is exactly one), rejects after `ms`.
 *
 * @example
 * const socket = await waitFor(io, "connection");
 */
function waitFor(emitter, event, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out waiting for "${String(event)}"`));
    }, ms);
    const listener = (...args) => {
      clearTimeout(timer);
      resolve(args.length === 1 ? args[0] : args);
    };
    emitter.once(event, listener);
  });
}

/**
 * Resolves once `predicate()` is true, checked on every turn of the event loop (and at
 * least every few ms); rejects after `ms`. For a state with no event of its own.
 *
 * @example
 * await until(() => engine.clientsCount === 0, "every session closed");
 */
function until(predicate, what = "condition", ms = 3000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const check = () => {
      let done;
      try {
        done = predicate();
      } catch (err) {
        reject(err);
        return;
      }
      if (done) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting until ${what}`));
      else setTimeout(check, 2);
    };
    check();
  });
}

/**
 * Resolves when `emitter` does NOT emit `event` within `ms`; rejects if it does.
 * Follow it with a positive control on the same emitter.
 *
 * @example
 * await expectNoEvent(client, "msg");
 * io.emit("msg", "control"); expect(await waitFor(client, "msg")).to.be("control");
 */
function expectNoEvent(emitter, event, ms = 200) {
  return new Promise((resolve, reject) => {
    const listener = (...args) => {
      clearTimeout(timer);
      reject(new Error(`unexpected "${String(event)}": ${JSON.stringify(args)}`));
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      resolve();
    }, ms);
    emitter.once(event, listener);
  });
}

module.exports = { sleep, waitFor, until, expectNoEvent };
