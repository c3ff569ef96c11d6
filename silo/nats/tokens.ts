/**
 * Unguessable reply tokens. A reply subject ends with one, and a caller settles only the
 * records of the message it sent under that token: a forged reply has to guess 64 random
 * bits. Random bytes are drawn in batches (one `getRandomValues` per 512 tokens).
 */
const TOKEN_BYTES = 8;
const pool = Buffer.alloc(TOKEN_BYTES * 512);
let at = pool.length;

/** 16 hex characters from the system's CSPRNG. */
export function randomToken(): string {
  if (at + TOKEN_BYTES > pool.length) {
    globalThis.crypto.getRandomValues(pool);
    at = 0;
  }
  const token = pool.toString('hex', at, at + TOKEN_BYTES);
  at += TOKEN_BYTES;
  return token;
}
