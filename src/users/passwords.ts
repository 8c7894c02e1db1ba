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
// A stored hash may come from an import; refuse parameters that would let one row eat the server.
const MAX_VERIFY_MEMORY_KIB = 1024 * 1024;
const MAX_VERIFY_TIME_COST = 64;
const MAX_VERIFY_PARALLELISM = 16;

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

export function createPasswordHasher({ memoryKib, timeCost }: PasswordHasherOptions): PasswordHasher {
  const options = { type: argon2id, memoryCost: memoryKib, timeCost, parallelism: PARALLELISM } as const;
  let dummyHash: Promise<string> | undefined;

  async function verify(hash: string, normalized: string): Promise<boolean> {
    const phc = parsePhc(hash);
    if (!phc) return false;
    const cost = (key: string) => Number(phc.params.get(key));
    if (cost('m') > MAX_VERIFY_MEMORY_KIB || cost('t') > MAX_VERIFY_TIME_COST || cost('p') > MAX_VERIFY_PARALLELISM) return false;
    try {
      return await argon2Verify(hash, normalized);
    } catch {
      return false;
    }
  }

  return {
    hash: async (normalized) => canonicalPhc(await argon2Hash(normalized, options)),
    verify,
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
