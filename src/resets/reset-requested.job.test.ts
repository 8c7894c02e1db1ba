import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../test/support/api.ts';
import { browserApi } from '../../test/support/browser-api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../../test/support/harness.ts';
import { writeTogether } from '../store/compiled.ts';
import { STORES } from '../store/testing.ts';
import { createKyselyFlowStore } from './flow.store.ts';
import { createResetLimits } from './limits.ts';
import { createResetRequestedJob, RESET_REQUESTED } from './reset-requested.job.ts';
import { createKyselyResetStore } from './reset.store.ts';
import { createResetStrategies } from './strategies/registry.ts';

/**
 * Delivery is at-least-once: a job may run again after a lost lease or a crash before its done mark.
 * @see DESIGN.md "A job handler is safe to run twice"
 */
for (const factory of STORES) {
  describe(`${factory.name}: the reset.requested job run twice`, () => {
    let h: Harness;
    let n = 0;

    beforeAll(async () => {
      h = await createHarness(factory, { config: { baseUrl: 'https://rekey.example.test' } });
    });
    afterAll(() => h.close());

    /** Runs the job of the newest request twice, as after a lost lease: the first run's writes never commit. */
    const runTwice = async () => {
      const limits = createResetLimits(h.rekey.rateLimits, h.config);
      const flows = createKyselyFlowStore(h.store.db);
      const strategies = createResetStrategies({
        ...h.rekey.deps,
        flows,
        resets: createKyselyResetStore(h.store.db),
        resetService: h.rekey.resets,
        limits,
        defaultApplicationId: async () => (await h.rekey.apps.getDefault()).id,
        notifications: h.rekey.notifications,
      });
      const job = createResetRequestedJob({
        ...h.rekey.deps,
        apps: h.rekey.apps,
        users: h.rekey.users,
        flows,
        limits,
        strategies,
        notifications: h.rekey.notifications,
      });
      const row = await h.store.db
        .selectFrom('outbox')
        .selectAll()
        .where('kind', '=', RESET_REQUESTED)
        .where('status', '=', 'pending')
        .executeTakeFirstOrThrow();
      const payload = job.schema.parse(JSON.parse(row.payload));
      await job.handler(payload, { id: row.id, attempts: 0 });
      const writes = await job.handler(payload, { id: row.id, attempts: 1 });
      await writeTogether(h.store.db, [...(writes ?? [])]);
      await h.store.db.updateTable('outbox').set({ status: 'sent' }).where('id', '=', row.id).execute();
      return limits;
    };

    it('the code that arrives works, and the mail budget is spent once', async () => {
      const address = `twice${++n}@example.com`;
      const user = await managementApi(h).createUser(address, `${GOOD_PASSWORD} ${n}`);
      const web = browserApi(h);
      const flow = (await web.startFlow(address, 'email_code')).json();
      const limits = await runTwice();
      const code = await web.codeFor(address);
      expect((await h.mailbox(address)).length).toBe(1);
      expect((await web.attemptCode(flow.id, code)).statusCode).toBe(200);
      expect(await limits.resetMails.peek(user.id)).toBe(1);
    });

    it('a link job run twice issues one live link and one mail', async () => {
      const address = `twice${++n}@example.com`;
      const user = await managementApi(h).createUser(address, `${GOOD_PASSWORD} ${n}`);
      const web = browserApi(h);
      expect((await web.forgot(address)).statusCode).toBe(204);
      const limits = await runTwice();
      const token = await web.linkTokenFor(address);
      expect((await h.mailbox(address)).length).toBe(1);
      const issued = await h.store.db.selectFrom('password_resets').select('id').where('user_id', '=', user.id).execute();
      expect(issued).toHaveLength(1);
      expect((await web.attemptLink(token)).statusCode).toBe(200);
      expect(await limits.resetMails.peek(user.id)).toBe(1);
    });
  });
}
