import { randomBytes } from 'node:crypto';
import { argon2id, hash as argon2Hash, needsRehash as argon2NeedsRehash, verify as argon2Verify } from 'argon2';

/**
 * Argon2id password hashing (SEC-33). The `argon2` binding runs every hash on libuv's thread
 * pool, so a login never blocks the event loop. Inputs are already NFKC-normalised
 * (`normalizePassword`, SEC-32) and never truncated (SEC-29): the whole string is hashed.
 */
export interface PasswordHasher {
  /** PHC string `$argon2id$v=19$m=…,t=…,p=1$<16-byte salt>$<32-byte hash>`. */
  hash(normalized: string): Promise<string>;
  /** False, never an exception, for a wrong password and for a malformed or foreign hash. */
  verify(hash: string, normalized: string): Promise<boolean>;
  /** True when the hash is not argon2id with exactly the configured cost (rehash after a login). */
  needsRehash(hash: string): boolean;
  /**
   * True for an Argon2 PHC string this server will verify: well formed, and its cost within the
   * ceiling (`verifyLimits`). An import is refused otherwise, rather than stored and never matched.
   */
  accepts(hash: string): boolean;
  /**
   * Verifies a random guess against a dummy hash made with the same cost, so a login for an
   * unknown email spends the same time as one for a known email with a wrong password.
   */
  dummyVerify(): Promise<false>;
}

export interface PasswordHasherOptions {
  /** Argon2id memory cost in KiB. @default 19456 (config `argon2MemoryKib`, OWASP's floor) */
  memoryKib: number;
  /** Argon2id iterations. @default 2 (config `argon2TimeCost`) */
  timeCost: number;
}

const PARALLELISM = 1;
const PHC = /^\$argon2(id|i|d)\$(?:v=(\d+)\$)?([a-z]+=[^$,]+(?:,[a-z]+=[^$,]+)*)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** The most a stored hash may ask of one verification. */
export interface VerifyLimits {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

/**
 * A stored hash may come from an import, and its parameters decide what a sign-in costs: `m=1048576,t=64`
 * would make each attempt take a GiB and seconds of a pool thread, a denial of service by one row (SEC-33).
 * The ceiling leaves room for hashes stronger than ours (another system's, or ours before an operator
 * lowered the cost): 4× the configured memory or 256 MiB, whichever is more; 10 passes; 4 lanes. RFC 9106's
 * second recommendation (m = 64 MiB, t = 3, p = 4) fits; its first (m = 2 GiB) does not, as a few of
 * those verified at once would exhaust a normal host's memory. At the ceiling one verification costs
 * about 67× a default one, once per account: the first successful sign-in rehashes it at the configured cost.
 * There is no floor: a weak import (`$argon2d$…m=8,t=1`) is accepted, since refusing it would lock its
 * user out, and the first successful sign-in upgrades it.
 */
export function verifyLimits(memoryKib: number): VerifyLimits {
  return { memoryKib: Math.max(4 * memoryKib, 256 * 1024), timeCost: 10, parallelism: 4 };
}

interface ParsedPhc {
  type: string;
  version: string | undefined;
  params: Map<string, string>;
  salt: string;
  digest: string;
}

function parsePhc(hash: string): ParsedPhc | undefined {
  const match = PHC.exec(hash);
  if (!match) return undefined;
  const params = new Map(match[3]!.split(',').map((pair) => pair.split('=') as [string, string]));
  if (!['m', 't', 'p'].every((key) => /^\d{1,10}$/.test(params.get(key) ?? ''))) return undefined;
  return { type: match[1]!, version: match[2], params, salt: match[4]!, digest: match[5]! };
}

/**
 * The `argon2` package (0.45) writes `m=…,p=…,t=…`; the PHC string format and the reference
 * implementation say `m=…,t=…,p=…`, which is what PHP, libsodium and most Go/Java verifiers parse
 * (and what the SEC-33 check expects). Reorder once, here; verification accepts either order.
 * @see https://github.com/ranisalt/node-argon2/issues/559
 */
function canonicalPhc(hash: string): string {
  const phc = parsePhc(hash);
  if (!phc) throw new Error('argon2 returned an unexpected hash format');
  const order = ['m', 't', 'p', 'keyid', 'data'].filter((key) => phc.params.has(key));
  const params = order.map((key) => `${key}=${phc.params.get(key)}`).join(',');
  const version = phc.version === undefined ? '' : `v=${phc.version}$`;
  return `$argon2${phc.type}$${version}${params}$${phc.salt}$${phc.digest}`;
}

/** RFC 9106's recommended salt length, and the `argon2` package's default. */
const SALT_BYTES = 16;

export function createPasswordHasher({ memoryKib, timeCost }: PasswordHasherOptions): PasswordHasher {
  const options = { type: argon2id, memoryCost: memoryKib, timeCost, parallelism: PARALLELISM } as const;
  const limits = verifyLimits(memoryKib);
  let dummyHash: Promise<string> | undefined;

  function accepts(hash: string): boolean {
    const phc = parsePhc(hash);
    if (!phc) return false;
    if (phc.version !== undefined && phc.version !== '16' && phc.version !== '19') return false;
    const [m, t, p] = ['m', 't', 'p'].map((key) => Number(phc.params.get(key))) as [number, number, number];
    // Argon2's own floor (m ≥ 8 KiB per lane, t ≥ 1, p ≥ 1): below it the hash can never verify.
    if (p < 1 || t < 1 || m < 8 * p) return false;
    return m <= limits.memoryKib && t <= limits.timeCost && p <= limits.parallelism;
  }

  async function verify(hash: string, normalized: string): Promise<boolean> {
    if (!accepts(hash)) return false;
    try {
      return await argon2Verify(hash, normalized);
    } catch {
      return false;
    }
  }

  return {
    // The salt is drawn here, synchronously: left to the binding, it is an asynchronous randomBytes, a job
    // of its own on the thread pool that waits behind the hashes already queued there.
    hash: async (normalized) => canonicalPhc(await argon2Hash(normalized, { ...options, salt: randomBytes(SALT_BYTES) })),
    verify,
    accepts,
    needsRehash(hash) {
      const phc = parsePhc(hash);
      if (!phc || phc.type !== 'id') return true;
      try {
        return argon2NeedsRehash(hash, { memoryCost: memoryKib, timeCost, parallelism: PARALLELISM });
      } catch {
        return true;
      }
    },
    async dummyVerify() {
      // Made once, on first use, with the configured cost: a hard-coded hash would stop matching
      // the real cost as soon as an operator raised it, and the timing would differ again.
      dummyHash ??= argon2Hash(randomBytes(32).toString('base64url'), options).catch((error: unknown) => {
        dummyHash = undefined;
        throw error;
      });
      await verify(await dummyHash, randomBytes(32).toString('base64url'));
      return false;
    },
  };
}
