// The settings `rekey serve` runs with, shared by bin/rekey.js (which applies them) and the bench (which
// starts the server the same way). Plain JavaScript without imports: it runs before anything is loaded.

/**
 * Settings of the server's memory that only count when they are there before Node starts: glibc reads its
 * tunables when the process loads, V8 sizes its young generation when it creates the heap.
 *
 * - `glibc.malloc.mmap_threshold` (4 MiB): each Argon2id hash allocates its 19 MiB with malloc. After the
 *   first one is freed, glibc raises its mmap threshold past that size and serves the next ones from the
 *   hashing thread's own arena, which keeps the 19 MiB for the life of the process: 4 pool threads, 76 MiB
 *   that nothing uses between hashes. A fixed threshold hands each buffer back when its hash is done.
 * - `glibc.malloc.hugetlb=1`: those buffers get transparent huge pages, so mapping 19 MiB afresh costs a
 *   hash about 6 % more CPU instead of 19 % with 4 KiB pages.
 * - `--max-semi-space-size=4` (MiB): V8's young generation otherwise grows to 2 × 16 MiB under load.
 *
 * Operators can set them themselves (GLIBC_TUNABLES, NODE_OPTIONS); `REKEY_SERVE_TUNED=1` says they did,
 * or that none are wanted. Otherwise `serve` runs itself once more as a child with them.
 */
const SERVE_TUNABLES = ['glibc.malloc.hugetlb=1', 'glibc.malloc.mmap_threshold=4194304'];
const SERVE_NODE_FLAGS = ['--max-semi-space-size=4'];

/**
 * V8 settings that hold from the moment they are set (`v8.setFlagsFromString`), so the serving process sets
 * them itself however it was started, and no operator has to (Node refuses them in NODE_OPTIONS anyway).
 *
 * - `--heap-growing-percent=50`: the old generation may grow half past what the last full collection kept
 *   before the next one, instead of V8's own factor (about 2× for a heap this small). Under load much of what
 *   reaches the old generation is request garbage that lived a little too long; with V8's factor it piled up
 *   to about twice the live heap, ~30 MiB more RSS at the peak. The price: a mark-compact (~150 ms of CPU,
 *   mostly on a helper thread) every ~10 s of forgot load instead of every ~20 s.
 */
export const SERVE_V8_FLAGS = ['--heap-growing-percent=50'];

/** `rekey serve`, or `rekey` with no command (serve is the default), but not `--help` or `--version`. */
export function serving(args) {
  const command = args.find((arg) => !arg.startsWith('-'));
  if (command !== undefined) return command === 'serve';
  return !args.some((arg) => ['-h', '--help', '-V', '--version'].includes(arg));
}

/** The environment and Node flags `serve` should run with, or undefined when it already does. */
export function serveTuning(env = process.env, execArgv = process.execArgv) {
  if (env.REKEY_SERVE_TUNED) return undefined;
  const tunables = (env.GLIBC_TUNABLES ?? '').split(':').filter(Boolean);
  const missingTunables = process.platform === 'linux' ? SERVE_TUNABLES.filter((t) => !tunables.some((set) => set.split('=')[0] === t.split('=')[0])) : [];
  const nodeOptions = `${execArgv.join(' ')} ${env.NODE_OPTIONS ?? ''}`;
  const missingFlags = SERVE_NODE_FLAGS.filter((flag) => !nodeOptions.includes(flag.split('=')[0]));
  if (missingTunables.length === 0 && missingFlags.length === 0) return undefined;
  return {
    env: { ...env, REKEY_SERVE_TUNED: '1', ...(missingTunables.length ? { GLIBC_TUNABLES: [...tunables, ...missingTunables].join(':') } : {}) },
    execArgv: [...missingFlags, ...execArgv],
  };
}
