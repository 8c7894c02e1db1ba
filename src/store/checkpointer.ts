import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** What SQLite is told to checkpoint at when the worker cannot (see connect.ts). */
export const AUTOCHECKPOINT_PAGES = 10_000;

export interface CheckpointerOptions {
  /** How often the worker checkpoints. @default 1000 */
  intervalMs?: number;
  /** The worker failed (its connection did not open): checkpoints are back on the event loop. */
  onError?: (error: Error) => void;
}

export interface Checkpointer {
  /** Checkpoints once more, closes the worker's connection and waits for the worker to end. */
  stop(): Promise<void>;
}

// Plain CommonJS evaluated as the worker's script: no build step and no TypeScript loader, so the same code runs
// under tsx, the test runner and dist/. The driver comes by its resolved path, wherever the process runs from.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another checkpoint): the next round copies what this one did not.
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/**
 * Moves SQLite's WAL checkpoints off the event loop. SQLite runs a checkpoint in whichever connection commits
 * past `wal_autocheckpoint` pages: in Rekey, the event loop, which a checkpoint of a busy WAL (10 000 pages,
 * copied into the database file and synced: 50–250 ms here) stalled every 20 s or so of a reset storm, and with
 * it every request in flight (SEC-48). A worker thread with a connection of its own checkpoints instead, every
 * second, PASSIVE: it never waits for, nor holds up, the connection that writes. The WAL file is reused from its
 * start once a checkpoint has caught up, and cut back to `journal_size_limit` then.
 */
export function startCheckpointer(sqlite: SQLite.Database, path: string, options: CheckpointerOptions = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, intervalMs: options.intervalMs ?? 1_000 } });
  // It must not keep a process alive that is otherwise done (a CLI command, a test).
  worker.unref();
  sqlite.pragma('wal_autocheckpoint = 0');
  worker.once('error', (error) => {
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    options.onError?.(error);
  });
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
