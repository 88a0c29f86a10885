/**
 * The Socket.IO packet encoder (same API as socket.io-parser v4's Encoder).
 */
import debugModule from "debug";
import { deconstruct, hasBinary, tooDeepError } from "./binary";
import { EncodedPacket, Packet, PacketType, Replacer } from "./packet";

const debug = debugModule("socket.io-parser");

export class Encoder {
  /**
   * @param replacer passed down to `JSON.stringify()`
   * @example
   * const encoder = new Encoder((key, value) => (typeof value === "bigint" ? String(value) : value));
   */
  constructor(private readonly replacer?: Replacer) {}

  /**
   * Encodes a packet. An EVENT or ACK whose data holds binary values becomes a
   * BINARY_EVENT or BINARY_ACK: placeholders in the text, the binary values as the
   * following chunks.
   *
   * @throws Error when the data is nested deeper than {@link MAX_DEPTH} levels (or is
   * circular): `socket.emit()`, `io.emit()` and acknowledgements throw it to their caller
   * @example
   * encoder.encode({ type: PacketType.EVENT, nsp: "/", data: ["hi"], id: 1 }); // ['21["hi"]']
   * encoder.encode({ type: PacketType.EVENT, nsp: "/", data: ["f", buf] });
   * // ['51-["f",{"_placeholder":true,"num":0}]', buf]
   */
  encode(obj: Packet): EncodedPacket {
    let type = obj.type;
    if (
      type === PacketType.EVENT ||
      type === PacketType.ACK ||
      type === PacketType.BINARY_EVENT ||
      type === PacketType.BINARY_ACK
    ) {
      const isEvent = type === PacketType.EVENT || type === PacketType.BINARY_EVENT;
      if (hasBinary(obj.data)) {
        const { data, buffers } = deconstruct(obj.data);
        type = isEvent ? PacketType.BINARY_EVENT : PacketType.BINARY_ACK;
        const encoded: EncodedPacket = [this.encodeAsString(type, obj.nsp, obj.id, data, buffers.length)];
        for (let i = 0; i < buffers.length; i++) {
          encoded.push(buffers[i]);
        }
        debug("encoded %j with %d attachment(s)", encoded[0], buffers.length);
        return encoded;
      }
      // a binary type without attachments would be rejected by the other side
      type = isEvent ? PacketType.EVENT : PacketType.ACK;
    }
    const str = this.encodeAsString(type, obj.nsp, obj.id, obj.data, 0);
    if (debug.enabled) debug("encoded %j", str);
    return [str];
  }

  private encodeAsString(
    type: PacketType,
    nsp: string | undefined,
    id: number | undefined,
    data: unknown,
    attachments: number,
  ): string {
    let str = "" + type;
    if (attachments > 0) {
      str += attachments + "-";
    }
    if (nsp && nsp !== "/") {
      str += nsp + ",";
    }
    if (id != null) {
      str += id;
    }
    if (data != null) {
      const json = stringify(data, this.replacer);
      if (json !== undefined) {
        str += json;
      }
    }
    return str;
  }
}

/**
 * JSON.stringify recurses natively: a value the depth walk did not see (the data of a
 * CONNECT_ERROR, or what a replacer builds) may still overflow the stack, reported as
 * the same error as any too deep value.
 */
function stringify(data: unknown, replacer: Replacer | undefined): string | undefined {
  try {
    return JSON.stringify(data, replacer);
  } catch (err) {
    throw err instanceof RangeError ? tooDeepError() : err;
  }
}
