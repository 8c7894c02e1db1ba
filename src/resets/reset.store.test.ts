import { CompiledQuery } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTogetherIf } from '../store/compiled.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { createKyselyResetStore, type PasswordReset } from './reset.store.ts';

const OPEN_TOKENS = 400;
const now = 1_800_000_000_000;

for (const factory of STORES) {
  describe(`${factory.name}: reset store`, () => {
    let store: TestStore;
    const resets = () => createKyselyResetStore(store.db);

    beforeAll(async () => {
      store = await factory.open();
      // Many accounts with a link outstanding, as on a busy day: spending one must not visit the others.
      const users = Array.from({ length: OPEN_TOKENS }, (_, i) => ({
        id: `user_${i}`,
        email: `user${i}@example.com`,
        email_verified: 1,
        metadata: '{}',
        created_at: now,
        updated_at: now,
      }));
      const open: PasswordReset[] = users.map((user, i) => ({
        id: `password_reset_${i}`,
        user_id: user.id,
        email: user.email,
        application_id: null,
        flow_id: null,
        token_hash: `hash-${i}`,
        token_sealed: null,
        created_at: now,
        expires_at: now + 1_800_000,
        consumed_at: null,
        invalidated_at: null,
      }));
      for (let i = 0; i < OPEN_TOKENS; i += 100) {
        await store.db
          .insertInto('users')
          .values(users.slice(i, i + 100))
          .execute();
        await store.db
          .insertInto('password_resets')
          .values(open.slice(i, i + 100))
          .execute();
      }
    });
    afterAll(() => store.close());

    it('spends a token once, by its hash, leaving the other open tokens open', async () => {
      const spent = await writeTogetherIf<PasswordReset>(store.db, resets().consumeToken('hash-7', now + 1), []);
      expect(spent).toMatchObject({ id: 'password_reset_7', consumed_at: now + 1, token_sealed: null });
      expect(await writeTogetherIf(store.db, resets().consumeToken('hash-7', now + 2), [])).toBeUndefined();
      expect((await resets().findByHash('hash-8'))?.consumed_at).toBeNull();
    });

    it('does not spend a voided or expired token', async () => {
      await writeTogetherIf(store.db, resets().invalidateOpenForUser('user_9', now + 1), []);
      expect(await writeTogetherIf(store.db, resets().consumeToken('hash-9', now + 2), [])).toBeUndefined();
      expect(await writeTogetherIf(store.db, resets().consumeToken('hash-10', now + 1_800_000), [])).toBeUndefined();
    });

    // Confirming a reset must cost the same with 10 or 100,000 links outstanding.
    it(`looks a token up by its hash, not by walking the ${OPEN_TOKENS} open tokens`, async () => {
      const { sql, parameters } = resets()
        .consumeToken('hash-20', now + 1)
        .compile(store.db);
      if (store.dialect === 'sqlite') {
        const plan = await store.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${sql}`, [...parameters]));
        expect(plan.rows.map((row) => row.detail).join('\n')).toMatch(/USING INDEX \S+ \(token_hash=\?\)/);
        return;
      }
      // The plan Rekey's prepared statements run with once PostgreSQL switches them to a generic plan.
      const client = new pg.Client({ connectionString: store.url });
      await client.connect();
      try {
        await client.query('SET plan_cache_mode = force_generic_plan');
        await client.query(`PREPARE consume AS ${sql}`);
        await client.query('BEGIN');
        // EXECUTE takes its arguments as literals, not as bind parameters.
        const args = parameters.map((value) => (value === null ? 'NULL' : client.escapeLiteral(String(value)))).join(', ');
        const explained = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE consume(${args})`);
        await client.query('ROLLBACK');
        // What finds the row, under the UPDATE (whose own index writes come on top and grow with every index
        // of the table, which is not what this checks): the token's unique index, then the newer-token check.
        type Node = { Alias?: string; 'Index Name'?: string; 'Shared Hit Blocks': number; 'Shared Read Blocks': number; Plans?: Node[] };
        const find = explained.rows[0]['QUERY PLAN'][0].Plan.Plans[0] as Node;
        const nodes = (node: Node): Node[] => [node, ...(node.Plans ?? []).flatMap(nodes)];
        expect(nodes(find).find((node) => node.Alias === 'password_resets')?.['Index Name']).toBe('password_resets_token_hash_key');
        // A lookup through indexes reads a handful of pages; a walk reads one per open token.
        expect(find['Shared Hit Blocks'] + find['Shared Read Blocks']).toBeLessThan(12);
      } finally {
        await client.end();
      }
    });
  });
}
