import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

export interface CheckpointerOptions {
  /** How often the worker reads the WAL's frame counts. @default 100 */
  pollMs?: number;
  /** Frames written to the WAL and not yet copied back at which the worker copies them. @default 500 */
  backlogFrames?: number;
  /** The worker failed (its connection did not open): every checkpoint is the writer's again. */
  onError?: (error: Error) => void;
}

export interface Checkpointer {
  /** Closes the worker's connection and waits for the worker to end. */
  stop(): Promise<void>;
}

// Plain CommonJS evaluated as the worker's script: no build step and no TypeScript loader, so the same code runs
// under tsx, the test runner and dist/. The driver comes by its resolved path, wherever the process runs from.
//
// The counts come from the WAL index (the -shm file every connection maps): the header's mxFrame, the last frame
// written, at byte 16, and the checkpoint's nBackfill, the last frame copied back, at byte 96; native byte order.
// A read that races a commit sees an old or torn count, which only moves a checkpoint by one poll.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
// A checkpoint copies frames from the WAL to the file; it needs no page cache of its own (2 MB by default).
db.pragma('cache_size = -64');
const header = Buffer.alloc(100);
const little = require('node:os').endianness() === 'LE';
let shm;
const backlog = () => {
  try {
    shm ??= fs.openSync(workerData.path + '-shm', 'r');
    if (fs.readSync(shm, header, 0, 100, 0) < 100) return 0;
  } catch {
    return 0;
  }
  return little ? header.readUInt32LE(16) - header.readUInt32LE(96) : header.readUInt32BE(16) - header.readUInt32BE(96);
};
const poll = () => {
  if (backlog() < workerData.backlogFrames) return;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (the writer's own checkpoint): it copies what this one would have.
  }
};
const timer = setInterval(poll, workerData.pollMs);
parentPort.once('message', () => {
  clearInterval(timer);
  if (shm !== undefined) fs.closeSync(shm);
  db.close();
  parentPort.close();
});
`;

/**
 * Keeps SQLite's WAL checkpoints short on the event loop. SQLite checkpoints in whichever connection commits past
 * `wal_autocheckpoint` frames: in Rekey, the event loop, where copying a busy WAL (10 000 frames, then a sync:
 * 50–250 ms here) stalled every request in flight about every 20 s of a reset storm (SEC-48). A worker thread with
 * a connection of its own copies the frames back as they come (PASSIVE: it never waits for, nor holds up, the
 * writer), so when the writer's checkpoint falls due only the last few frames are left for it. The writer keeps
 * that checkpoint: run between its own transactions, it always catches up, and so lets the next one start the WAL
 * over from its beginning — a WAL only ever checkpointed beside a busy writer never catches up, and grows.
 */
export function startCheckpointer(path: string, options: CheckpointerOptions = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const workerData = { driver, path, pollMs: options.pollMs ?? 100, backlogFrames: options.backlogFrames ?? 500 };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 } });
  // It must not keep a process alive that is otherwise done (a CLI command, a test).
  worker.unref();
  worker.once('error', (error) => options.onError?.(error));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        worker.postMessage('stop');
        // A worker stuck in a long checkpoint gets two seconds; SQLite's files stay consistent if it is cut short.
        const ended = await Promise.race([exited.then(() => true), delay(2_000, false, { ref: false })]);
        if (!ended) await worker.terminate();
      })()),
  };
}
