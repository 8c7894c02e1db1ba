import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUser } from '../factors/testing.ts';
import { compiled, writeTogether } from '../store/compiled.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { sessionTestDeps } from './testing.ts';
import { createSessionService, type SessionService } from './session.service.ts';

const SECRET = 'session-test-secret-that-is-long-enough-0123';

const setHash = compiled<{ id: string; hash: string; now: number }>((db, p) =>
  db.updateTable('users').set({ password_hash: p.hash, password_changed_at: p.now, updated_at: p.now }).where('id', '=', p.id),
);

/** Resolves once `condition` holds, asking again after each turn of the event loop (no timers). */
async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setImmediate(resolve));
}

for (const factory of STORES) {
  describe(`${factory.name}: sessions and the password they were checked against`, () => {
    let store: TestStore;
    let deps: ReturnType<typeof sessionTestDeps>;
    let sessions: SessionService;

    beforeAll(async () => {
      store = await factory.open();
      deps = sessionTestDeps(store, SECRET);
      sessions = createSessionService(deps);
    });
    afterAll(() => store.close());

    const userWithPassword = async (hash: string) => {
      const user = await insertUser(deps, `${deps.ids.next('user')}@example.com`);
      await setHash.execute(store.db, { id: user.id, hash, now: deps.clock.now() });
      return user;
    };
    const input = (user: { id: string; email: string }, checkedPasswordHash: string) => ({
      user: { ...user, first_name: null, last_name: null, locale: null },
      applicationId: 'app_1',
      checkedPasswordHash,
    });

    it('SEC-47 a session is issued only for the hash the account still has, and only while it is enabled', async () => {
      const user = await userWithPassword('$argon2id$old');
      expect(await sessions.issue(input(user, '$argon2id$other'))).toBeUndefined();
      expect(await sessions.issue(input(user, '$argon2id$old'))).toBeDefined();
      await store.db.updateTable('users').set({ disabled_at: deps.clock.now() }).where('id', '=', user.id).execute();
      expect(await sessions.issue(input(user, '$argon2id$old'))).toBeUndefined();
      const rows = await store.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
      expect(rows).toHaveLength(1);
    });

    it.runIf(factory.name === 'postgres')(
      'SEC-47 a sign-in that commits after a password change began, but before it reached the user row, keeps no session',
      async () => {
        const user = await userWithPassword('$argon2id$old');
        const now = deps.clock.now();
        // Someone holds the user row, so the change below starts (its snapshot taken) and then waits for the row.
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let holding!: () => void;
        const held = new Promise<void>((resolve) => (holding = resolve));
        let holderPid = 0;
        const holder = store.db.transaction().execute(async (trx) => {
          await trx.selectFrom('users').select('id').where('id', '=', user.id).forNoKeyUpdate().execute();
          holderPid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]!.pid;
          holding();
          await released;
        });
        await held;
        /** Backends waiting, directly or in turn, for the holder: other databases' tests do not count. */
        const waiting = async (count: number) => {
          const { rows } = await sql<{ n: number }>`
            with recursive blocked(pid) as (
              select pid from pg_stat_activity where ${holderPid}::int = any(pg_blocking_pids(pid))
              union select a.pid from pg_stat_activity a join blocked b on b.pid = any(pg_blocking_pids(a.pid))
            ) select count(*)::int as n from blocked`.execute(store.db);
          return rows[0]!.n >= count;
        };

        // The password change as a reset writes it: the new hash and the revocation in one statement.
        const change = writeTogether(store.db, [setHash.bind({ id: user.id, hash: '$argon2id$new', now }), sessions.revokeAllForUser(user.id, now)]);
        await until(() => waiting(1));
        // The sign-in checked the old password; its insert commits now, after the change's snapshot.
        let settled = false;
        const signIn = sessions.issue(input(user, '$argon2id$old')).finally(() => (settled = true));
        await until(async () => (await store.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).length > 0);
        // Its second look at the row queues behind the change (or it has none, and the sign-in is done).
        await until(async () => settled || (await waiting(2)));
        release();
        await Promise.all([holder, change]);

        expect(await signIn).toBeUndefined();
        const live = await store.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).where('ended_at', 'is', null).execute();
        expect(live).toEqual([]);
      },
    );
  });
}
