import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

/**
 * SEC-49: what Rekey keeps on disk (the development secret, the SQLite file) is for its own user only.
 * New directories are 0700 and new files 0600, whatever the umask. Existing files of Rekey's own are
 * tightened at start; existing directories are left alone, as one may be shared with other software
 * (a volume, a project folder) and the files inside are private anyway.
 */

/** Creates the directory (and missing parents) as 0700; an existing one is not changed. */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/** Creates an empty 0600 file if there is none; an existing one loses any group or other access. */
export function ensurePrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  restrictToOwner(path);
}

/** Drops group and other permissions from an existing file; a missing one is fine. */
export function restrictToOwner(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!(mode & 0o077)) return;
  try {
    chmodSync(path, mode & 0o700);
  } catch (error) {
    // Another user's file (shared through group permissions) is theirs to tighten, not a reason to stop.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}
