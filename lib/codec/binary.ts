/**
 * Binary attachment helpers of the Socket.IO packet format.
 *
 * A packet whose payload holds binary values is sent as one JSON text where each
 * binary value is replaced by a placeholder `{"_placeholder":true,"num":N}`,
 * followed by the N binary chunks in order.
 */

import { codedError } from "../errors";

/** A binary value that can travel as a Socket.IO attachment. */
export type BinaryData = Buffer | ArrayBuffer | ArrayBufferView;

/** The JSON stand-in for attachment number `num`. */
export interface Placeholder {
  _placeholder: true;
  num: number;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Deepest nesting of arrays and objects the data of a packet may have, both ways:
 * `["event", { a: [1] }]` is 3 levels deep. Deeper incoming packets are parse errors;
 * deeper (or circular) outgoing data makes the emit throw. Native JSON serialization
 * recurses and overflows the stack a few thousand levels down (fewer with a replacer
 * or from a deep call stack); 1000 keeps a wide margin while being far beyond any
 * structure an application sends on purpose.
 */
export const MAX_DEPTH = 1000;

/** The error of an outgoing value nested deeper than {@link MAX_DEPTH} levels. */
export function tooDeepError(): Error {
  return codedError("SIO_ERR_DATA_TOO_DEEP", MAX_DEPTH);
}

/**
 * Whether `value` is a Buffer, an ArrayBuffer or any ArrayBufferView (typed array, DataView).
 *
 * @example
 * isBinary(Buffer.from("a")); // true
 * isBinary(new Uint16Array(2)); // true
 * isBinary("a"); // false
 */
export function isBinary(value: unknown): value is BinaryData {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/**
 * Whether `value` holds a binary value anywhere inside it, looking through arrays,
 * own enumerable keys and `toJSON()` results the way `JSON.stringify` would.
 * Returns as soon as one binary value is found, and walks nothing for primitives,
 * so it is cheap on the emit hot path. A value without binary is walked whole, which
 * also bounds its depth before it is serialized.
 *
 * @throws Error when the walk goes deeper than {@link MAX_DEPTH} levels (or the value is circular)
 * @example
 * hasBinary(["event", { file: Buffer.from([1]) }]); // true
 * hasBinary(["event", { n: 1 }]); // false
 */
export function hasBinary(value: unknown): boolean {
  return hasBinaryIn(value, false, 0);
}

// `depth` counts the arrays and objects above `value`: the recursion is bounded by MAX_DEPTH
function hasBinaryIn(value: unknown, isToJSONResult: boolean, depth: number): boolean {
  if (value === null || typeof value !== "object") {
    return false;
  }
  if (isBinary(value)) {
    return true;
  }
  if (depth >= MAX_DEPTH) {
    throw tooDeepError();
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (hasBinaryIn(value[i], false, depth + 1)) {
        return true;
      }
    }
    return false;
  }
  const obj = value as Record<string, unknown>;
  // JSON.stringify calls toJSON once and serializes its result as is, so do the same
  if (!isToJSONResult && typeof obj.toJSON === "function") {
    return hasBinaryIn(obj.toJSON(), true, depth);
  }
  for (const key in obj) {
    if (hasOwn.call(obj, key) && hasBinaryIn(obj[key], false, depth + 1)) {
      return true;
    }
  }
  return false;
}

/**
 * Copies `data`, replacing each binary value with a placeholder and collecting the
 * binary values in placeholder order. `data` itself is left untouched.
 *
 * @throws Error when `data` is nested deeper than {@link MAX_DEPTH} levels (or is circular)
 * @example
 * const { data, buffers } = deconstruct(["file", Buffer.from([1, 2])]);
 * // data: ["file", { _placeholder: true, num: 0 }], buffers: [<Buffer 01 02>]
 */
export function deconstruct(data: unknown): { data: unknown; buffers: BinaryData[] } {
  const buffers: BinaryData[] = [];
  return { data: deconstructValue(data, "", buffers, false, 0), buffers };
}

// `depth` counts the arrays and objects above `value`: the recursion is bounded by MAX_DEPTH
function deconstructValue(
  value: unknown,
  key: string,
  buffers: BinaryData[],
  isToJSONResult: boolean,
  depth: number,
): unknown {
  if (value === null || typeof value !== "object") {
    return value;
  }
  if (isBinary(value)) {
    const placeholder: Placeholder = { _placeholder: true, num: buffers.length };
    buffers.push(value);
    return placeholder;
  }
  if (depth >= MAX_DEPTH) {
    throw tooDeepError();
  }
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      copy[i] = deconstructValue(value[i], String(i), buffers, false, depth + 1);
    }
    return copy;
  }
  const obj = value as Record<string, unknown>;
  // resolve toJSON here so that a binary value it returns becomes an attachment
  if (!isToJSONResult && typeof obj.toJSON === "function") {
    return deconstructValue(obj.toJSON(key), key, buffers, true, depth);
  }
  const copy: Record<string, unknown> = {};
  for (const k in obj) {
    if (hasOwn.call(obj, k)) {
      setOwn(copy, k, deconstructValue(obj[k], k, buffers, false, depth + 1));
    }
  }
  return copy;
}

/**
 * Replaces every placeholder inside `data` (a freshly parsed JSON value, mutated in
 * place) with its attachment. Walks iteratively so that deep nesting cannot overflow
 * the stack, and writes keys as own data properties so that a `__proto__` key stays
 * plain data.
 *
 * @throws Error("illegal attachments") when a placeholder index is not an integer
 * within `buffers`
 * @example
 * reconstruct(["file", { _placeholder: true, num: 0 }], [buf]); // ["file", buf]
 */
export function reconstruct(data: unknown, buffers: readonly unknown[]): unknown {
  if (isPlaceholder(data)) {
    return attachment(data, buffers);
  }
  const stack: unknown[] = [data];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") {
      continue;
    }
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (isPlaceholder(child)) {
          node[i] = attachment(child, buffers);
        } else if (child !== null && typeof child === "object") {
          stack.push(child);
        }
      }
      continue;
    }
    const obj = node as Record<string, unknown>;
    for (const key in obj) {
      if (!hasOwn.call(obj, key)) {
        continue;
      }
      const child = obj[key];
      if (isPlaceholder(child)) {
        setOwn(obj, key, attachment(child, buffers));
      } else if (child !== null && typeof child === "object") {
        stack.push(child);
      }
    }
  }
  return data;
}

function isPlaceholder(value: unknown): value is { _placeholder: true; num: unknown } {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    (value as { _placeholder?: unknown })._placeholder === true
  );
}

function attachment(placeholder: { num: unknown }, buffers: readonly unknown[]): unknown {
  const num = placeholder.num;
  if (typeof num !== "number" || !Number.isInteger(num) || num < 0 || num >= buffers.length) {
    throw codedError("SIO_ERR_INVALID_PLACEHOLDER");
  }
  return buffers[num];
}

// a plain assignment to "__proto__" on an object lacking that own key would change its prototype
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}
