import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compiledCopy, type CompiledCopy } from '../bench/compiled.ts';

/**
 * `npm ci && npm start` runs what was compiled: a copy of the project is built with `npm run build` (what the
 * `prepare` script runs) and its `bin/rekey.js` is started as `npm start` starts it, under a module hook that
 * refuses tsx, esbuild and any `.ts` file. A process that needed a loader, a TypeScript source or a bundler at
 * run time would fail to start or serve a broken page script.
 */

const SLOW = { timeout: 120_000 };
const PASSWORD = 'correct horse battery staple 42!';

/** Resolve hooks, run in Node's hooks thread: any attempt at tsx, esbuild or a TypeScript file throws. */
const REFUSE_HOOKS = `
export async function resolve(specifier, context, next) {
  if (/^(tsx|esbuild)(\\/|$)/.test(specifier) || /\\.[cm]?ts$/.test(specifier)) throw new Error('refused at run time: ' + specifier);
  const resolved = await next(specifier, context);
  if (/\\/node_modules\\/(tsx|esbuild)\\//.test(resolved.url) || /\\.[cm]?ts$/.test(resolved.url)) throw new Error('refused at run time: ' + resolved.url);
  return resolved;
}`;
const REFUSE = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(REFUSE_HOOKS)}`)});`,
)}`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('npm start runs the compiled build', SLOW, () => {
  let copy: CompiledCopy;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess | undefined;
  let serverErr = '';
  let url: string;

  /** `node bin/rekey.js …` of the compiled copy, tsx, esbuild and .ts files refused. */
  const start = (args: string[]) => spawn(process.execPath, ['--import', REFUSE, copy.bin, ...args], { cwd: dataDir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const run = (args: string[], input = ''): Promise<Result> =>
    new Promise((resolve, reject) => {
      const child = start(args);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin!.end(input);
    });

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'rekey-build-'));
    copy = compiledCopy(join(root, 'rekey'));
    dataDir = join(root, 'data');
    mkdirSync(dataDir);
    const inherited = Object.entries(process.env).filter(
      ([name]) => !name.startsWith('REKEY_') && !['NODE_ENV', 'PORT', 'HOST', 'NODE_OPTIONS'].includes(name),
    );
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = {
      ...Object.fromEntries(inherited),
      NODE_ENV: 'development',
      REKEY_DATA_DIR: dataDir,
      REKEY_SECRET: 'build-test-secret-0123456789abcdefghijklmnop',
      REKEY_BASE_URL: url,
      REKEY_LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    server = start(['serve']);
    server.stderr!.setEncoding('utf8').on('data', (chunk: string) => (serverErr = (serverErr + chunk).slice(-4000)));
    server.stdout!.resume();
    const exited = new Promise<never>((_, reject) => {
      server!.once('error', reject);
      server!.once('exit', (code) => reject(new Error(`rekey serve exited (${code}): ${serverErr}`)));
    });
    const deadline = Date.now() + 90_000;
    const healthy = (async () => {
      while (Date.now() < deadline) {
        try {
          if ((await fetch(`${url}/healthz`)).status === 200) return;
        } catch {
          // Not listening yet.
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`rekey serve did not answer /healthz within 90 s: ${serverErr}`);
    })();
    await Promise.race([healthy, exited]);
  }, 120_000);

  afterAll(() => {
    server?.kill('SIGTERM');
    if (copy) rmSync(join(copy.root, '..'), { recursive: true, force: true });
  });

  test('serves /healthz from dist/ with no tsx, esbuild or TypeScript loaded', async () => {
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(serverErr).not.toMatch(/refused at run time|running the TypeScript sources/);
  });

  test('serves the page script copied at build time, byte for byte', async () => {
    const response = await fetch(`${url}/assets/meter.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/javascript/);
    const served = Buffer.from(await response.arrayBuffer());
    expect(served.equals(readFileSync(join(copy.dist, 'pages', 'meter.client.js')))).toBe(true);
    expect(served.toString()).toContain('data-strength'); // the meter itself, not the "unavailable" stub
  });

  test('serves the WebAuthn script with @simplewebauthn/browser, bundled at build time', async () => {
    const response = await fetch(`${url}/assets/webauthn.js`);
    expect(response.status).toBe(200);
    const served = Buffer.from(await response.arrayBuffer());
    expect(served.equals(readFileSync(join(copy.dist, 'pages', 'webauthn.bundle.js')))).toBe(true);
    expect(served.toString('utf8')).toContain('navigator.credentials');
  });

  test('the CLI runs from dist/ too, and mail templates are found there', async () => {
    const created = await run(['users', 'create', 'ada@example.test', '--password-stdin', '--verified'], `${PASSWORD}\n`);
    expect(created.code, created.stderr).toBe(0);
    const reset = await run(['reset', 'ada@example.test', '--send-now']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).not.toMatch(/refused at run time|running the TypeScript sources/);
    const link = reset.stdout.trim();
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    // The mail is rendered from Liquid templates read at run time, next to the compiled module.
    const mailbox = await fetch(`${url}/dev/mailbox/messages?to=ada@example.test`);
    expect(mailbox.status).toBe(200);
    const { data } = (await mailbox.json()) as { data: Array<Record<string, unknown>> };
    expect(data).toHaveLength(1);
    expect(JSON.stringify(data[0])).toContain(link);
  });
});
