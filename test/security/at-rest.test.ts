import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../support/harness.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

for (const factory of STORES) {
  describe(`${factory.name}: nothing usable at rest`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(factory);
    });
    afterAll(() => h.close());

    const reset = (id: string) => h.store.db.selectFrom('password_resets').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const outbox = () => h.store.db.selectFrom('outbox').selectAll().orderBy('id').execute();

    it('SEC-08 the sweep wipes expired tokens’ sealed copies, dead-letters undelivered secrets and deletes old messages', async () => {
      const api = managementApi(h);
      await api.createUser('rest@example.com', GOOD_PASSWORD);
      const delivered = await api.resetToken('rest@example.com');
      await h.deliver();
      const undelivered = await api.resetToken('rest@example.com');
      // The second reset voided the first (SEC-12), so its seal is gone already; the second's rests sealed.
      expect((await reset(undelivered.id)).token_sealed).not.toBeNull();
      const pending = (await outbox()).filter((row) => row.status === 'pending');
      expect(pending).toHaveLength(1);
      expect(JSON.parse(pending[0]!.payload).sealed).toBeDefined();

      h.clock.advance(h.config.resetTokenTtlMinutes * MINUTE);
      const swept = await h.rekey.dispatcher.sweep();
      expect(swept).toMatchObject({ 'password_resets.seals_wiped': 1, 'outbox.sealed_expired': 1 });
      expect((await reset(undelivered.id)).token_sealed).toBeNull();
      expect((await reset(delivered.id)).token_sealed).toBeNull();
      const rows = await outbox();
      expect(rows.every((row) => row.status !== 'pending')).toBe(true);
      for (const row of rows) expect(JSON.parse(row.payload).sealed).toBeUndefined();
      expect(rows.find((row) => row.id === pending[0]!.id)).toMatchObject({ status: 'dead', last_error: 'expired before delivery' });

      h.clock.advance(h.config.outboxRetentionDays * DAY);
      expect(await h.rekey.dispatcher.sweep()).toMatchObject({ 'outbox.settled_deleted': rows.length });
      expect(await outbox()).toEqual([]);
    });
  });
}
