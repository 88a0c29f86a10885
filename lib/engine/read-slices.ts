/**
 * Reads of a WebSocket's stream handed to ws a slice at a time, stopping where the stream
 * is paused. ws decodes all of a read it is given before the application can stop it: a
 * flooding client's first read (up to 64 KB, some 4,000 small packets) would be decoded in
 * one turn of the event loop, after its bucket of the rate limit was empty a few packets
 * in. Sliced, a read stops at the first slice that ends with the stream paused (by the rate
 * limit, or by ws's own backpressure); the rest goes back to the front of the stream, read
 * when reading starts again. A read the size of a slice or less (most of them) goes
 * through untouched.
 */
import type { Duplex } from "stream";

/** Bytes handed to ws at a time: some 60 of a flooder's smallest packets. */
export const READ_SLICE = 1024;

const kEmit = Symbol("engine:emit");

interface Sliced extends Duplex {
  [kEmit]: (event: string | symbol, ...args: unknown[]) => boolean;
}

// one function for every sliced stream, its own emit kept on the stream: no closure per
// connection
function emitSliced(this: Sliced, event: string | symbol, chunk?: unknown): boolean {
  if (event !== "data" || arguments.length !== 2 || !Buffer.isBuffer(chunk) || chunk.length <= READ_SLICE) {
    // eslint-disable-next-line prefer-rest-params, prefer-spread
    return this[kEmit].apply(this, arguments as unknown as [string | symbol, ...unknown[]]);
  }
  let handled = false;
  for (let start = 0; start < chunk.length; start += READ_SLICE) {
    handled = this[kEmit]("data", chunk.subarray(start, start + READ_SLICE)) || handled;
    if (start + READ_SLICE < chunk.length && (this.isPaused() || this.destroyed)) {
      if (!this.destroyed) {
        this.unshift(chunk.subarray(start + READ_SLICE));
      }
      break;
    }
  }
  return handled;
}

/**
 * Hands the reads of `stream` to its "data" listeners (ws's) a slice at a time, until the
 * stream is paused.
 *
 * @internal
 */
export function readInSlices(stream: Duplex): void {
  const sliced = stream as Sliced;
  if (sliced[kEmit] !== undefined) {
    return;
  }
  sliced[kEmit] = stream.emit;
  sliced.emit = emitSliced;
}
