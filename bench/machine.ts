import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Linux's USER_HZ, the unit of CPU times in /proc (100 on every mainstream Linux). */
export const CLOCK_TICKS = 100;

/** utime + stime, in ticks, from a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` file. Throws if it is gone. */
export function cpuTicksOf(statPath: string): number {
  // Fields after the `(comm)`: utime is field 14 and stime 15 of the whole line.
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU accounting from /proc (Linux), so a run can say how much of the machine other processes took
 * while it was measured. Elsewhere every figure is undefined and the checks are skipped.
 */
interface Snapshot {
  /** Jiffies summed over all cores. */
  total: number;
  idle: number;
  /** utime + stime jiffies of each watched process. */
  processes: Map<number, number>;
}

function readSnapshot(pids: number[]): Snapshot | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // user…steal; guest time is already in user
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0); // idle + iowait
    const processes = new Map<number, number>();
    for (const pid of pids) {
      try {
        processes.set(pid, cpuTicksOf(`/proc/${pid}/stat`));
      } catch {
        // The process has exited.
      }
    }
    return { total, idle, processes };
  } catch {
    return undefined;
  }
}

export interface CpuShare {
  /** Share of the whole machine (all cores) that was busy, 0–1. */
  busy: number;
  /** Share of the machine used by the watched processes (load generator, server, database). */
  ours: number;
  /** Share used by everything else: interference with the measurement. */
  others: number;
  /** CPU seconds of the watched processes. */
  oursSeconds: number;
}

/**
 * Starts measuring; call the returned function at the end of the run. `pids` is evaluated at both
 * ends, so processes started meanwhile (new database backends) count from zero.
 */
export function cpuMeter(pids: number[] | (() => number[])): () => CpuShare | undefined {
  const list = typeof pids === 'function' ? pids : () => pids;
  const start = readSnapshot(list());
  return () => {
    const end = readSnapshot(list());
    if (!start || !end || end.total <= start.total) return undefined;
    const total = end.total - start.total;
    const busy = 1 - (end.idle - start.idle) / total;
    let used = 0;
    for (const [pid, jiffies] of end.processes) used += jiffies - (start.processes.get(pid) ?? 0);
    const ours = Math.min(busy, used / total);
    return { busy, ours, others: Math.max(0, busy - ours), oursSeconds: used / CLOCK_TICKS };
  };
}

/**
 * Waits (up to `maxSeconds`) until the machine is mostly idle, sampling one second at a time,
 * so a scenario does not start in the middle of someone else's build. Returns the last idle share.
 */
export async function waitForQuiet(minIdle: number, maxSeconds: number): Promise<number | undefined> {
  const deadline = Date.now() + maxSeconds * 1000;
  let idle: number | undefined;
  do {
    const meter = cpuMeter([]);
    await sleep(1000);
    const share = meter();
    if (!share) return undefined;
    idle = 1 - share.busy;
    if (idle >= minIdle) return idle;
  } while (Date.now() < deadline);
  return idle;
}

export const cpuModel = (): string => os.cpus()[0]?.model.trim() ?? 'unknown CPU';

/** PIDs of the local PostgreSQL server's processes (its backends do the work of a PostgreSQL run). */
export function postgresPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}
