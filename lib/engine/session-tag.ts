/**
 * The owner of a session, written in its id (the `sessionForwarding` option): a session id
 * is `<id>.<tag>`, the tag being base64url of the owner's internal address ("host:port")
 * encrypted with a keystream derived from the secret and the id, followed by a MAC over
 * the id and the address. A client can neither read the address nor make a node dial an
 * address of its choosing: a tag whose MAC fails names no one.
 *
 * Also derives, from the same secret, the token that nodes present to each other's
 * internal listener, so that the secret itself never travels.
 */
import { createHmac, timingSafeEqual } from "crypto";

// 12 bytes (96 bits) of HMAC-SHA256: a forgery is a 2^-96 guess, and 12 bytes are 16
// base64url characters without padding
const MAC_BYTES = 12;
// an address ("host:port") a tag may carry: a DNS name is at most 253 characters
const MAX_ADDRESS_BYTES = 300;
const MAX_TAG_CHARS = Math.ceil(((MAX_ADDRESS_BYTES + MAC_BYTES) * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The shortest secret accepted: 16 characters. */
export const MIN_SECRET_LENGTH = 16;

// one purpose per key: the same secret never keys two different uses
function derive(secret: string, purpose: string): Buffer {
  return createHmac("sha256", secret)
    .update("socket.io session forwarding: " + purpose)
    .digest();
}

/**
 * Creates and verifies the tags of the session ids of one deployment (one secret).
 *
 * @example
 * const tags = new SessionTagCodec(process.env.SIO_FORWARDING_SECRET);
 * const sid = tags.tag("AbCd", "10.0.0.2:41234"); // "AbCd.<tag>"
 * tags.ownerOf(sid); // "10.0.0.2:41234"
 */
export class SessionTagCodec {
  /** What a node sends in the forwarding header: derived from the secret, not the secret. */
  readonly token: string;
  private readonly tokenBytes: Buffer;
  private readonly encryptionKey: Buffer;
  private readonly macKey: Buffer;

  constructor(secret: string) {
    this.encryptionKey = derive(secret, "encryption");
    this.macKey = derive(secret, "authentication");
    this.tokenBytes = Buffer.from(derive(secret, "token").toString("base64url"));
    this.token = this.tokenBytes.toString();
  }

  /**
   * The session id naming `address` as the owner of `id`: `<id>.<tag>`.
   *
   * @example
   * tags.tag("AbCd", "127.0.0.1:41234"); // "AbCd.q1Rz..."
   */
  tag(id: string, address: string): string {
    const plain = Buffer.from(address);
    const sealed = Buffer.allocUnsafe(plain.length + MAC_BYTES);
    xorInto(sealed, plain, this.keystream(id, plain.length));
    this.mac(id, plain).copy(sealed, plain.length, 0, MAC_BYTES);
    return id + "." + sealed.toString("base64url");
  }

  /**
   * The owner's address written in a session id, or undefined when the id has no tag or
   * its tag was not made with this secret for this id.
   *
   * @example
   * tags.ownerOf("AbCd.q1Rz..."); // "127.0.0.1:41234"
   * tags.ownerOf("AbCd.forged"); // undefined
   */
  ownerOf(sid: string): string | undefined {
    const dot = sid.lastIndexOf(".");
    if (dot === -1) {
      return undefined;
    }
    const tag = sid.slice(dot + 1);
    if (tag.length > MAX_TAG_CHARS || !BASE64URL.test(tag)) {
      return undefined;
    }
    const sealed = Buffer.from(tag, "base64url");
    const length = sealed.length - MAC_BYTES;
    if (length <= 0) {
      return undefined;
    }
    const id = sid.slice(0, dot);
    const plain = Buffer.allocUnsafe(length);
    xorInto(plain, sealed.subarray(0, length), this.keystream(id, length));
    const expected = this.mac(id, plain).subarray(0, MAC_BYTES);
    if (!timingSafeEqual(expected, sealed.subarray(length))) {
      return undefined;
    }
    return plain.toString();
  }

  /**
   * Whether a header value is this deployment's token (compared in constant time).
   *
   * @example
   * tags.isToken(req.headers["x-socket-io-forwarding"]); // true for another node
   */
  isToken(value: string | string[] | undefined): boolean {
    if (typeof value !== "string") {
      return false;
    }
    const given = Buffer.from(value);
    return given.length === this.tokenBytes.length && timingSafeEqual(given, this.tokenBytes);
  }

  // HMAC-SHA256 in counter mode: block i is HMAC(key, i || id)
  private keystream(id: string, length: number): Buffer {
    const blocks: Buffer[] = [];
    for (let i = 0, made = 0; made < length; i++, made += 32) {
      blocks.push(
        createHmac("sha256", this.encryptionKey)
          .update(String(i) + ":")
          .update(id)
          .digest(),
      );
    }
    return blocks.length === 1 ? blocks[0] : Buffer.concat(blocks);
  }

  // the id's length first, so that no (id, address) pair reads as another
  private mac(id: string, address: Buffer): Buffer {
    return createHmac("sha256", this.macKey)
      .update(Buffer.byteLength(id) + ":")
      .update(id)
      .update(address)
      .digest();
  }
}

function xorInto(target: Buffer, source: Buffer, keystream: Buffer): void {
  for (let i = 0; i < source.length; i++) {
    target[i] = source[i] ^ keystream[i];
  }
}
