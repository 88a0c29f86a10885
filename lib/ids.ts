/**
 * Socket ids and private session ids: 20 characters of base64url (15 bytes: 12 random
 * bytes from the system's CSPRNG, then a 24-bit sequence number), the same shape as the
 * ids of the reference (base64id).
 *
 * The random bytes come from a pool refilled synchronously, one system call per 1024 ids.
 * base64id refills its pool asynchronously: when many sockets connect within one turn of
 * the event loop, it falls back to one `randomBytes()` call per id, which was the largest
 * part of the server's work for a socket's connection.
 */
import { randomFillSync } from "crypto";

const ID_BYTES = 15;
const RANDOM_BYTES = 12;
const IDS_PER_FILL = 1024;

const pool = Buffer.alloc(ID_BYTES * IDS_PER_FILL);
let next = IDS_PER_FILL;
let sequence = 0;

/**
 * A new id: unpredictable, and unique within the process even if the random bytes repeat.
 *
 * @example
 * generateId(); // "Yp6a8Kk3-lQ7tWz_AAAB"
 */
export function generateId(): string {
  if (next === IDS_PER_FILL) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next++ * ID_BYTES;
  sequence = (sequence + 1) & 0xffffff;
  const end = start + RANDOM_BYTES;
  pool[end] = sequence >>> 16;
  pool[end + 1] = (sequence >>> 8) & 0xff;
  pool[end + 2] = sequence & 0xff;
  return pool.toString("base64url", start, start + ID_BYTES);
}
