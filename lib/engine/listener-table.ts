/**
 * Smaller listener tables for the emitters a session keeps for its whole life.
 *
 * EventEmitter starts every emitter with `{ __proto__: null }` as its table of listeners,
 * which V8 keeps as a hash table: 184 bytes, empty or with a few listeners. An object
 * whose prototype is a frozen empty object without prototype looks up the same (an event
 * named "toString" or "constructor" finds nothing) but keeps fast properties. Made by a
 * constructor of its own for each kind of emitter, V8 sizes the objects of that kind to the
 * events they get (slack tracking): 40 bytes for a socket with one listener, instead of 56
 * for an object made with `Object.create()`. With thousands of sessions, three tables each,
 * that adds up.
 */
import type { EventEmitter } from "events";

const NO_LISTENERS: object = Object.freeze(Object.create(null));

interface ListenerTableOwner {
  _events?: object;
  _eventsCount?: number;
}

/**
 * A function that replaces the listener table of an emitter that has no listener yet by a
 * compact one, and leaves any other emitter alone. Call it once per kind of emitter (at
 * module level), so that each kind gets tables of its own size.
 *
 * @example
 * const compactTable = listenerTables();
 * class Session extends EventEmitter {
 *   constructor() {
 *     super();
 *     compactTable(this);
 *   }
 * }
 */
export function listenerTables(): (emitter: EventEmitter) => void {
  const ListenerTable = function ListenerTable() {} as unknown as new () => object;
  ListenerTable.prototype = NO_LISTENERS;
  return (emitter) => {
    const owner = emitter as unknown as ListenerTableOwner;
    if (typeof owner._events === "object" && owner._events !== null && owner._eventsCount === 0) {
      owner._events = new ListenerTable();
    }
  };
}
