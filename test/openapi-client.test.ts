import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../src/store/testing.ts';
import { createHarness, freshAccounts, type Harness } from './support/harness.ts';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures', 'openapi-client');
const root = resolve(here, '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** What calls.ts exports (not imported by type: the repository's tsc never sees the generated file it needs). */
interface Calls {
  run(
    baseUrl: string,
    account: { secretKey: string; clientId: string; email: string; password: string; newPassword: string },
  ): Promise<Record<string, unknown>>;
}

/**
 * The integrator's path: generate types from the served document with openapi-typescript, compile a client
 * against them with tsc (strict, with deliberate mistakes that must not compile), then call a running server.
 */
describe('a typed client generated from the served OpenAPI document', () => {
  let dir: string;
  let compiled: { ok: boolean; output: string };

  beforeAll(async () => {
    const h = await createHarness(STORES[0]!, { listen: true });
    try {
      const doc = await (await fetch(`${h.url}/openapi.json`)).json();
      dir = mkdtempSync(join(tmpdir(), 'rekey-openapi-client-'));
      writeFileSync(join(dir, 'rekey-api.ts'), astToString(await openapiTS(doc as Parameters<typeof openapiTS>[0])));
    } finally {
      await h.close();
    }
    for (const file of ['client.ts', 'calls.ts']) copyFileSync(join(fixtures, file), join(dir, file));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023'],
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
          strict: true,
          noUncheckedIndexedAccess: true,
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
          noEmit: true,
          skipLibCheck: true,
        },
        files: ['rekey-api.ts', 'client.ts', 'calls.ts'],
      }),
    );
    compiled = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).then(
      ({ stdout }) => ({ ok: true, output: stdout }),
      (error: { stdout?: string; message: string }) => ({ ok: false, output: error.stdout || error.message }),
    );
  }, 180_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('compiles with tsc, and its deliberate mistakes do not', () => {
    expect(compiled.output).toBe('');
    expect(compiled.ok).toBe(true);
  });

  for (const factory of STORES) {
    describe(`${factory.name}: against a running server`, () => {
      let h: Harness & { url?: string };
      beforeAll(async () => {
        h = await createHarness(factory, { listen: true });
      });
      afterAll(() => h.close());

      it('creates, reads, resets and signs in through the generated types, and reads the documented error codes', async () => {
        const { run } = (await import(pathToFileURL(join(dir, 'calls.ts')).href)) as Calls;
        const accounts = freshAccounts();
        const email = accounts.email('client');
        const seen = await run(h.url!, {
          secretKey: h.secretKey,
          clientId: h.clientId,
          email,
          password: accounts.password(),
          newPassword: accounts.password(' new'),
        });
        expect(seen).toEqual({
          created: { object: 'user', email, first_name: 'Ada', email_verified: false },
          fetched: true,
          listed: [email],
          missing: 'user_not_found',
          invalid: 'invalid_request_parameters',
          reset: 'password_reset',
          weak: ['password_reset_error', ['password_too_short']],
          confirmed: true,
          session: 'active',
          sessions: 1,
          flow: 'needs_first_factor',
          noFlow: 'flow_not_found',
          deleted: 204,
        });
      });
    });
  }
});
