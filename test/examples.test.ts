import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from './support/harness.ts';

const EXAMPLE = fileURLToPath(new URL('../examples/workos-reset.mjs', import.meta.url));

/** The README's SDK example is a file that runs with plain `node` against a listening Rekey. */
describe('examples/workos-reset.mjs', () => {
  let h: Harness & { url?: string };

  beforeAll(async () => {
    h = await createHarness(STORES[0]!, { listen: true });
  });
  afterAll(() => h.close());

  it('creates a reset with the WorkOS SDK and confirms it', { timeout: 60_000 }, async () => {
    const email = 'example.user@example.com';
    await managementApi(h).createUser(email, `${GOOD_PASSWORD} old`);
    const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [EXAMPLE, email], {
        env: { PATH: process.env.PATH, KEY: h.secretKey, REKEY_URL: h.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(result.code, result.out).toBe(0);
    expect(result.out).toMatch(/^created password_reset_\w+ for example\.user@example\.com/m);
    expect(result.out).toMatch(/^password changed for example\.user@example\.com/m);
    const login = await managementApi(h).login(email, 'a new long passphrase 2026');
    expect(login.statusCode, login.body).toBe(200);
  });
});
