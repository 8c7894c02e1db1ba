import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, type Store } from './connect.ts';

const postgresUrl = process.env.REKEY_TEST_DATABASE_URL;

describe.runIf(postgresUrl)('PostgreSQL connections of a serving process', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const store of stores.splice(0)) await store.close();
  });

  /** Opens three connections (three statements at once), then lets pg's idle timeout (10 s) pass. */
  async function afterAQuietSpell(holdConnections: boolean): Promise<number> {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = connect(postgresUrl!, { holdConnections });
    stores.push(store);
    const marker = `quiet-spell-${randomBytes(6).toString('hex')}`;
    await Promise.all([1, 2, 3].map(() => sql`select pg_sleep(0.05), ${sql.lit(marker)}`.execute(store.db)));
    await vi.advanceTimersByTimeAsync(11_000);
    // A closed connection leaves pg_stat_activity within a few turns of the event loop.
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      // Held: still three after as many turns as closing ones take to go. Not held: none, soon.
      let open = 3;
      for (let i = 0; i < 200 && open > 0; i++) {
        const { rows } = await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where query like $1 and pid <> pg_backend_pid()', [
          `%${marker}%`,
        ]);
        open = rows[0]!.n;
        if (holdConnections && i === 20) break;
      }
      return open;
    } finally {
      await admin.end();
    }
  }

  it('stay open through a quiet spell, so a burst after it does not pay for opening them (SEC-48)', async () => {
    expect(await afterAQuietSpell(true)).toBe(3);
  });

  it('elsewhere (the CLI, tests) close once idle, as pg does by default', async () => {
    expect(await afterAQuietSpell(false)).toBe(0);
  });
});
