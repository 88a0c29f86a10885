/**
 * Objects that every session holds, built to take less memory than their usual form while
 * behaving the same for every reader. (The listener tables of the emitters a session keeps
 * are made by the engine's `listenerTables`, engine/listener-table.ts.)
 */

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
