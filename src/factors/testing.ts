import { sql } from 'kysely';
import { loadConfig } from '../config/load.ts';
import type { PlatformDeps } from '../deps.ts';
import { manualClock, type ManualClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { createLogger } from '../platform/logger.ts';
import { createRateLimits, type RateLimits } from '../platform/ratelimit.ts';
import { createTokens } from '../platform/tokens.ts';
import type { TestStore } from '../store/testing.ts';
import { factorsMigrations } from './migrations.ts';

/** Platform deps over a test store, with the factor tables in place and a clock 10 s into a TOTP step. */
export async function factorTestDeps(store: TestStore): Promise<PlatformDeps & { clock: ManualClock; rateLimits: RateLimits }> {
  // Once store/migrate.ts lists this module's migration the store already has the tables.
  const migrated = await sql`select 1 from auth_factors`.execute(store.db).then(
    () => true,
    () => false,
  );
  if (!migrated) await factorsMigrations['0007_auth_factors']!.up(store.db);
  return {
    config: loadConfig({ env: {}, overrides: { env: 'test', secret: 'factor-test-secret-that-is-long-enough-0123', dataDir: '/nonexistent-rekey-test' } }),
    store,
    clock: manualClock(Date.UTC(2026, 0, 1, 0, 0, 10)),
    ids: createIds(),
    tokens: createTokens('factor-test-secret-that-is-long-enough-0123'),
    logger: createLogger('silent'),
    // In this process only, and fresh for every caller: no test inherits another's wrong codes.
    rateLimits: createRateLimits(),
  };
}

export async function insertUser(deps: PlatformDeps, email: string): Promise<{ id: string; email: string }> {
  const now = deps.clock.now();
  const id = deps.ids.next('user');
  await deps.store.db
    .insertInto('users')
    .values({
      id,
      email,
      email_verified: 1,
      first_name: null,
      last_name: null,
      profile_picture_url: null,
      external_id: null,
      metadata: '{}',
      locale: null,
      password_hash: null,
      password_changed_at: null,
      last_sign_in_at: null,
      disabled_at: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return { id, email };
}
