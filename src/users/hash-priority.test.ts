import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerHashingPriority } from './hash-priority.ts';
import { createPasswordHasher } from './passwords.ts';

/** Threads of this process at each niceness. */
function threadsByNice(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    counts.set(nice, (counts.get(nice) ?? 0) + 1);
  }
  return counts;
}

// Each hash burns about as much CPU as a real one while holding 4 MiB.
const hasher = createPasswordHasher({ memoryKib: 4096, timeCost: 10 });
const hashes = (count: number) => () => Promise.all(Array.from({ length: count }, (_, i) => hasher.hash(`warm-up ${i}`)));
const POOL = 4; // libuv's default, as in this test process

describe.runIf(process.platform === 'linux')('the hashing threads run below the event loop (SEC-48)', () => {
  // As in a server, whose hashing threads are found once it has started: V8's threads, still compiling and
  // collecting what this test process has just loaded, settle first.
  beforeAll(async () => {
    await hashes(POOL)();
    await delay(300);
  });

  it('finds every pool thread, even one that sat out the first round of hashes', async () => {
    let round = 0;
    // The first round leaves a thread idle, as one busy with a file read would: it must be found in the next.
    const result = await lowerHashingPriority(() => hashes(round++ === 0 ? POOL - 1 : POOL)(), { nice: 5, idle: false, threads: POOL });
    expect(result).toEqual({ reniced: POOL, idle: 0 });
    // Three rounds: the thread left out of the first shows in the second and third.
    expect(round).toBe(3);
    expect(threadsByNice().get(5)).toBe(POOL);
  });

  it('lowers no more threads than the pool has', async () => {
    const result = await lowerHashingPriority(hashes(POOL), { nice: 7, idle: false, threads: 2 });
    expect(result.reniced).toBe(2);
    expect(threadsByNice().get(7)).toBe(2);
  });
});
