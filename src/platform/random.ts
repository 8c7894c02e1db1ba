import { randomFillSync } from 'node:crypto';

/**
 * Cryptographically secure random bytes, drawn from the CSPRNG 8 KiB at a time.
 * A call to the CSPRNG per token, IV and id showed up as a tenth of a request's CPU here; a pool gives
 * the same bytes with one call per 8 KiB. Every byte is handed out once (Node's randomUUID does the same).
 */
const pool = Buffer.alloc(8192);
let offset = pool.length;

export function randomBytes(size: number): Buffer {
  if (size > pool.length) return randomFillSync(Buffer.alloc(size));
  if (offset + size > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + size));
  pool.fill(0, offset, offset + size);
  offset += size;
  return out;
}

/** One random byte as a number, from the same pool without a Buffer for it (ids ask for one per character). */
export function randomByte(): number {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const byte = pool[offset]!;
  pool[offset++] = 0;
  return byte;
}

/** A uniform integer in [0, max) for max ≤ 256, by rejection sampling: no modulo bias. */
export function randomIntBelow(max: number): number {
  const limit = 256 - (256 % max);
  for (;;) {
    const byte = randomByte();
    if (byte < limit) return byte % max;
  }
}
