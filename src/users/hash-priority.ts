import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

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
 * Runs the hashing threads (libuv's pool) at a lower priority than the event loop.
 *
 * Argon2id is meant to eat CPU. Under a burst of confirms the pool's threads and the event loop compete
 * for the same cores, and a health check or a cheap request waits behind hashes it has nothing to do
 * with. Linux lets a thread lower its own weight (`setpriority` on a thread id); the pool's threads are
 * the ones that burn CPU while we hash in parallel, so we find them by that and renice them. Hashing
 * still takes every idle cycle; it just yields first. Elsewhere than Linux this does nothing.
 *
 * @returns how many threads were reniced.
 */
export async function lowerHashingPriority(hashInParallel: () => Promise<unknown>, nice = 10): Promise<number> {
  if (process.platform !== 'linux') return 0;
  const before = threadCpu();
  await hashInParallel();
  const after = threadCpu();
  let reniced = 0;
  for (const [tid, ticks] of after) {
    if (Number(tid) === process.pid || ticks - (before.get(tid) ?? 0) < 2) continue;
    try {
      setPriority(Number(tid), nice);
      reniced++;
    } catch {
      // not permitted here: leave it as it is
    }
  }
  return reniced;
}
