/**
 * A server's start-up time and memory, read from /proc (Linux): resident set size (`VmRSS`) and its peak
 * (`VmHWM`). Elsewhere the figures are undefined and the rows say "not measured".
 *
 *   startup     spawn → first 200 on `GET /healthz` (Rekey) or → its "ready" line (Better Auth)
 *   idle        RSS once the server is up, its users created, and nothing has been asked of it for a moment
 *   before load `VmHWM` at that point: the most the process held while starting and being seeded
 *   load peak   the most it held during the forgot throughput runs: `VmHWM` after resetting it
 *               (`echo 5 > /proc/<pid>/clear_refs`) at the start of the load, or, where the kernel refuses
 *               the reset, the largest `VmRSS` sampled every 50 ms
 */
import { readFileSync, writeFileSync } from 'node:fs';

const MIB = 1024 * 1024;

/** `VmRSS` and `VmHWM` of a process in bytes, or undefined when /proc cannot tell. */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    const rss = kib('VmRSS');
    const hwm = kib('VmHWM');
    return Number.isFinite(rss) && Number.isFinite(hwm) ? { rss: rss * 1024, hwm: hwm * 1024 } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process that serves: `rekey serve` without the memory settings in its environment runs itself once
 * more with them (bin/serve-tuning.js), and the process started is then a launcher whose one child serves.
 */
export function servingPid(pid: number): { server: number; launcher?: number } {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    if (children.length === 1) return { server: children[0]!, launcher: pid };
  } catch {
    // not Linux, or the kernel does not list children
  }
  return { server: pid };
}

export interface Footprint {
  label: string;
  /** What "startup" measured, for the table. */
  startupUntil: string;
  startupMs?: number;
  idleRss?: number;
  startPeak?: number;
  loadPeak?: number;
  /** RSS of the launcher process, when there is one (see `servingPid`). */
  launcherRss?: number;
}

/** Idle RSS and the peak so far, after a short pause so the server settles (background loading, GC). */
export async function idleFootprint(pid: number, settleMs = 1_000): Promise<Pick<Footprint, 'idleRss' | 'startPeak'>> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const memory = memoryOf(pid);
  return { idleRss: memory?.rss, startPeak: memory?.hwm };
}

/** Starts watching a process's peak RSS; the returned function stops and gives the peak in bytes. */
export function peakMeter(pid: number): () => number | undefined {
  let reset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    reset = true;
  } catch {
    // Not permitted here (or not Linux): fall back to sampling.
  }
  let sampled = memoryOf(pid)?.rss;
  const timer = setInterval(() => {
    const rss = memoryOf(pid)?.rss;
    if (rss !== undefined) sampled = Math.max(sampled ?? 0, rss);
  }, 50);
  return () => {
    clearInterval(timer);
    const memory = memoryOf(pid);
    if (memory) sampled = Math.max(sampled ?? 0, memory.rss);
    return reset && memory ? Math.max(memory.hwm, sampled ?? 0) : sampled;
  };
}

const mib = (bytes: number | undefined): string => (bytes === undefined ? '—' : `${(bytes / MIB).toFixed(0)} MiB`);

/** Target for Rekey's peak under the forgot load. */
export const LOAD_PEAK_TARGET_MIB = 150;

/** The markdown table: one row per server, Rekey's judged against the target. */
export function footprintTable(rows: Footprint[]): string[] {
  return [
    '| server | startup ms | until | idle RSS | peak RSS before the load | peak RSS under the forgot load | target | met? |',
    '| --- | ---: | --- | ---: | ---: | ---: | --- | --- |',
    ...rows.map((row) => {
      const judged = row.label.startsWith('Rekey');
      const met = judged && row.loadPeak !== undefined ? (row.loadPeak / MIB < LOAD_PEAK_TARGET_MIB ? 'yes' : '**no**') : '—';
      return `| ${row.label} | ${row.startupMs === undefined ? '—' : row.startupMs.toFixed(0)} | ${row.startupUntil} | ${mib(row.idleRss)} | ${mib(row.startPeak)} | ${mib(row.loadPeak)} | ${judged ? `peak under load < ${LOAD_PEAK_TARGET_MIB} MiB` : '—'} | ${met} |`;
    }),
  ];
}

/** One line for the log. */
export function describeFootprint(row: Footprint): string {
  const launcher = row.launcherRss === undefined ? '' : `; its launcher process ${mib(row.launcherRss)} RSS besides`;
  return `${row.label}: startup ${row.startupMs === undefined ? '—' : `${row.startupMs.toFixed(0)} ms`} (${row.startupUntil}), idle RSS ${mib(row.idleRss)}, peak before the load ${mib(row.startPeak)}, peak under the forgot load ${mib(row.loadPeak)}${launcher}`;
}
