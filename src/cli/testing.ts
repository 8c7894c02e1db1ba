import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Helpers for the CLI tests: the real `bin/rekey.js` as a child process, in the environment of a fresh install. */
export const BIN = fileURLToPath(new URL('../../bin/rekey.js', import.meta.url));
export const BASE_URL = 'https://rekey.example.test';
/** Each test starts the CLI a few times; on a loaded machine one start can take several seconds. */
export const SLOW = { timeout: 180_000 };

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a fresh install: nothing inherited from the shell's own Rekey settings. */
export function cliEnv(dataDir: string, databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('REKEY_') && !['NODE_ENV', 'PORT', 'HOST'].includes(name));
  return {
    ...Object.fromEntries(inherited),
    NODE_ENV: 'development',
    REKEY_DATA_DIR: dataDir,
    REKEY_DATABASE_URL: databaseUrl,
    REKEY_SECRET: 'cli-test-secret-0123456789abcdefghijklmnop',
    REKEY_BASE_URL: BASE_URL,
    REKEY_LOG_LEVEL: 'silent',
    ...extra,
  };
}

/** Runs `node bin/rekey.js …` as a real child process, from the data dir (so no stray rekey.config.json applies). */
export function rekey(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: env.REKEY_DATA_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
