import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** CPU time (clock ticks) each thread of this process has used so far. Linux only. */
function threadCpu(): Map<string, number> {
  const cpu = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(tid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return cpu;
}

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
export async function lowerHashingPriority(hashInParallel: () => Promise<unknown>, { nice = 10, idle = true } = {}): Promise<HashingPriority> {
  const result: HashingPriority = { reniced: 0, idle: 0 };
  if (process.platform !== 'linux') return result;
  const before = threadCpu();
  await hashInParallel();
  const after = threadCpu();
  const hashing = [...after].filter(([tid, ticks]) => Number(tid) !== process.pid && ticks - (before.get(tid) ?? 0) >= 2).map(([tid]) => tid);
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
  if (idle) result.idle = (await Promise.all(hashing.map(idleClass))).filter(Boolean).length;
  return result;
}
