import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * CPU time (ns) each thread of this process has run so far. Linux only: from `schedstat`, exact; where the
 * kernel keeps none, from `stat`'s clock ticks, which are sampled every 10 ms and may miss a short hash.
 */
function threadCpu(): Map<string, number> {
  const cpu = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      cpu.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      try {
        // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpu.set(tid, (Number(fields[11]) + Number(fields[12])) * 10_000_000);
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return cpu;
}

/** A thread that ran this long during one round of hashes ran a hash (one takes 20–30 ms of CPU). */
const HASHING_NS = 10_000_000;

/**
 * Puts one thread in Linux's SCHED_IDLE class with util-linux's `chrt` (Node has no call for it); false
 * where chrt is missing or the kernel refuses.
 */
async function idleClass(tid: string): Promise<boolean> {
  try {
    await run('chrt', ['--idle', '--pid', '0', tid]);
    return true;
  } catch {
    return false;
  }
}

export interface HashingPriority {
  /** Threads given the niceness. */
  reniced: number;
  /** Threads moved to SCHED_IDLE. */
  idle: number;
}

/**
 * Runs the hashing threads (libuv's pool) at a lower priority than the event loop.
 *
 * Argon2id is meant to eat CPU. Under a burst of confirms the pool's threads and the event loop compete
 * for the same cores, and a health check or a cheap request waits behind hashes it has nothing to do
 * with. Linux lets a thread lower its own weight (`setpriority` on a thread id); the pool's threads are
 * the ones that burn CPU while we hash in parallel, so we find them by that and renice them.
 *
 * A niced thread only weighs less: when the event loop (or PostgreSQL, or anything else) wakes, the
 * scheduler may let the hash finish its slice first, a few milliseconds. A SCHED_IDLE thread is
 * preempted at once by any other that wakes, and runs whenever a core would otherwise idle: on a machine
 * where Rekey has the cores, hashing keeps its throughput and the rest answers first. The cost: on a host
 * kept busy by other work, hashing gets only what that work leaves (`idle: false` keeps the niceness alone).
 * Elsewhere than Linux this does nothing.
 */
export async function lowerHashingPriority(
  hashInParallel: () => Promise<unknown>,
  { nice = 10, idle = true, threads = Infinity }: { nice?: number; idle?: boolean; threads?: number } = {},
): Promise<HashingPriority> {
  const result: HashingPriority = { reniced: 0, idle: 0 };
  if (process.platform !== 'linux') return result;
  // A thread counts as hashing when it ran a hash's worth of CPU in two rounds: one round alone may catch V8
  // compiling or collecting on a thread of its own (which must keep the event loop's priority), and a pool
  // thread busy with other work during a round leaves its hash to another, so rounds go on (at most four)
  // until the pool's threads have all shown twice. A pool thread left out would hash at the event loop's
  // priority from then on.
  const rounds = new Map<string, number>();
  const hashing = new Set<string>();
  for (let round = 0; round < 4 && (round < 2 || hashing.size < threads); round++) {
    const before = threadCpu();
    await hashInParallel();
    for (const [tid, ns] of threadCpu()) {
      if (Number(tid) === process.pid || ns - (before.get(tid) ?? 0) < HASHING_NS) continue;
      rounds.set(tid, (rounds.get(tid) ?? 0) + 1);
      if (rounds.get(tid)! >= 2 && hashing.size < threads) hashing.add(tid);
    }
  }
  for (const tid of hashing) {
    try {
      // Also under SCHED_IDLE: if the class is refused or later reset, the weight still holds.
      if (nice > 0) {
        setPriority(Number(tid), nice);
        result.reniced++;
      }
    } catch {
      // not permitted here: leave it as it is
    }
  }
  if (idle) result.idle = (await Promise.all([...hashing].map(idleClass))).filter(Boolean).length;
  return result;
}
