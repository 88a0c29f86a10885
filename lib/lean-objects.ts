/**
 * Objects that every session holds, built to take less memory than their usual form while
 * behaving the same for every reader.
 *
 * The listener table. Node's EventEmitter keeps its listeners in `_events`, an object made with a null
 * prototype. V8 holds such an object in dictionary mode from its creation: a hash table of
 * about 180 bytes, even with no listener or one. An object built by a constructor whose
 * prototype has a null prototype behaves the same for the emitter (no inherited key:
 * `events.toString`, `events.__proto__` are undefined; own keys are the event names) but
 * stays in fast mode, with its properties in place: about 60 bytes for the few events a
 * socket has. Node's own EventEmitter used this very kind of object before version 8.
 *
 * Removing a listener may still turn the table into dictionary mode (as with Node's
 * object), and `removeAllListeners()` brings Node's object back: nothing else changes.
 */
import type { EventEmitter } from "events";

interface ListenerTableConstructor {
  new (): object;
}

const ListenerTable = function ListenerTable(this: object) {} as unknown as ListenerTableConstructor;
ListenerTable.prototype = Object.create(null);

/**
 * Gives a freshly constructed emitter (no listener yet) the fast-mode table.
 *
 * @example
 * class Socket extends EventEmitter {
 *   constructor() {
 *     super();
 *     useListenerTable(this);
 *   }
 * }
 */
export function useListenerTable(emitter: EventEmitter): void {
  (emitter as unknown as { _events: object })._events = new ListenerTable();
}

interface PlainObjectConstructor {
  new (): Record<string, any>;
}

// An object literal `{}` reserves room for 4 properties in the object itself: 56 bytes even
// while it stays empty. Objects of a constructor whose prototype is Object.prototype are
// plain objects for every reader (prototype, constructor, JSON, structured clone, inspect)
// and, once V8 has seen a few, take 24 bytes while empty; a property added later goes to a
// separate store (an object with properties takes 64 bytes instead of 56).
const PlainObject = function PlainObject() {} as unknown as PlainObjectConstructor;
PlainObject.prototype = Object.prototype;

/**
 * A new empty plain object, for the per-session ones that usually stay empty
 * (`socket.data`, `socket.handshake.auth` when the client sends none).
 *
 * @example
 * const data = emptyObject(); // like {}
 */
export function emptyObject(): Record<string, any> {
  return new PlainObject();
}
