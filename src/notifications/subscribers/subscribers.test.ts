import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RekeyError } from '../../errors/index.ts';
import { manualClock, type ManualClock } from '../../platform/clock.ts';
import { createIds } from '../../platform/ids.ts';
import { writeTogether } from '../../store/compiled.ts';
import { STORES, type TestStore } from '../../store/testing.ts';
import { createSubscribers, type WorkflowSummary } from './index.ts';

const WORKFLOWS: WorkflowSummary[] = [
  { id: 'password-reset', name: 'Password reset', critical: true, channels: ['email'] },
  { id: 'new-sign-in', name: 'New sign-in', critical: false, channels: ['email', 'in_app'] },
  { id: 'digest', name: 'Digest', critical: false, channels: ['email', 'sms'] },
];

const codeOf = async (promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> => {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (error instanceof RekeyError) return error.code;
    throw error;
  }
  return undefined;
};

for (const factory of STORES) {
  describe(`${factory.name}: subscribers`, () => {
    let store: TestStore;
    let clock: ManualClock;
    let part: ReturnType<typeof createSubscribers>;
    const service = () => part.service;

    beforeEach(async () => {
      store = await factory.open();
      clock = manualClock(Date.UTC(2026, 0, 1));
      part = createSubscribers({ store, clock, ids: createIds(), listWorkflows: () => WORKFLOWS });
    });
    afterEach(() => store.close());

    it('upsertWrite creates, then merges only the fields given', async () => {
      await writeTogether(store.db, [service().upsertWrite({ subscriberId: 'ada', firstName: 'Ada', email: 'ada@example.com', data: { plan: 'pro' } })]);
      const created = await service().get('ada');
      expect(created).toMatchObject({ subscriberId: 'ada', firstName: 'Ada', lastName: null, email: 'ada@example.com', data: { plan: 'pro' }, userId: null });
      expect(created!.id).toMatch(/^sub_/);

      clock.advance(60_000);
      await writeTogether(store.db, [service().upsertWrite({ subscriberId: 'ada', lastName: 'Lovelace', phone: '+14155550123', firstName: null })]);
      const merged = await service().get('ada');
      expect(merged).toMatchObject({
        id: created!.id,
        firstName: 'Ada',
        lastName: 'Lovelace',
        email: 'ada@example.com',
        phone: '+14155550123',
        data: { plan: 'pro' },
      });
      expect(merged!.createdAt).toBe(created!.createdAt);
      expect(merged!.updatedAt).toBe(created!.createdAt + 60_000);
    });

    it('upsertWrite leaves a subscriber it would not change as it is, updatedAt included', async () => {
      await writeTogether(store.db, [service().upsertWrite({ subscriberId: 'ada', firstName: 'Ada', email: 'ada@example.com' })]);
      const created = await service().get('ada');
      clock.advance(60_000);
      await writeTogether(store.db, [service().upsertWrite({ subscriberId: 'ada', firstName: 'Ada', email: null })]);
      expect(await service().get('ada')).toEqual(created);
      clock.advance(60_000);
      await writeTogether(store.db, [service().upsertWrite({ subscriberId: 'ada', firstName: 'Ada', email: 'ada@example.org' })]);
      expect(await service().get('ada')).toMatchObject({ firstName: 'Ada', email: 'ada@example.org', updatedAt: created!.createdAt + 120_000 });
    });

    it('upsertWrites merges inputs for one subscriber so they go in one statement', async () => {
      const writes = service().upsertWrites([
        { subscriberId: 'bob', firstName: 'Bob' },
        { subscriberId: 'eve', email: 'eve@example.com' },
        { subscriberId: 'bob', email: 'bob@example.com' },
      ]);
      expect(writes).toHaveLength(2);
      await writeTogether(store.db, writes);
      expect(await service().get('bob')).toMatchObject({ firstName: 'Bob', email: 'bob@example.com' });
      expect(await service().get('eve')).toMatchObject({ email: 'eve@example.com' });
    });

    it('refuses a bad subscriber id or a phone number that is not E.164, each with its own code', async () => {
      expect(await codeOf(() => service().upsertWrite({ subscriberId: 'has space' }))).toBe('invalid_subscriber_id');
      expect(await codeOf(() => service().upsertWrite({ subscriberId: '' }))).toBe('invalid_subscriber_id');
      expect(await codeOf(() => service().upsertWrite({ subscriberId: '..' }))).toBe('invalid_subscriber_id');
      expect(await codeOf(() => service().upsertWrite({ subscriberId: 'x'.repeat(129) }))).toBe('invalid_subscriber_id');
      for (const phone of ['4155550123', '+0123456', '+1 415 555 0123', '+1234567890123456', '+1415555012a']) {
        expect(await codeOf(() => service().upsertWrite({ subscriberId: 'ok', phone }))).toBe('invalid_phone');
      }
      expect(await codeOf(() => service().upsertWrite({ subscriberId: 'ok', email: 'not-an-email' }))).toBe('invalid_request_parameters');
      expect(await codeOf(service().patch('ok', { phone: '555' }))).toBe('invalid_phone');
      expect(await codeOf(service().getOrThrow('a/b'))).toBe('invalid_subscriber_id');
      expect(await codeOf(service().getOrThrow('nobody'))).toBe('subscriber_not_found');
      expect(await codeOf(service().patch('nobody', { firstName: 'N' }))).toBe('subscriber_not_found');
      // Ids of every common form pass: user ids, UUIDs, numbers, email addresses.
      for (const subscriberId of ['user_01HZX3', '9b2c6f0e-5f1a-4a4e-9d1b-0c3a2b1e4f5d', '42', 'ada+test@example.com']) {
        expect(await codeOf(() => service().upsertWrite({ subscriberId }))).toBeUndefined();
      }
    });

    it('create fails only when asked to and the subscriber exists; patch sets and clears; delete removes preferences too', async () => {
      const first = await service().create({ subscriberId: 'carol', firstName: 'Carol', locale: 'fr' });
      expect(await codeOf(service().create({ subscriberId: 'carol' }, { failIfExists: true }))).toBe('subscriber_already_exists');
      const again = await service().create({ subscriberId: 'carol', lastName: 'C' });
      expect(again).toMatchObject({ id: first.id, firstName: 'Carol', lastName: 'C', locale: 'fr' });

      const patched = await service().patch('carol', { firstName: null, timezone: 'Europe/Paris', data: { a: 1 } });
      expect(patched).toMatchObject({ firstName: null, lastName: 'C', timezone: 'Europe/Paris', data: { a: 1 } });

      await service().preferences.update('carol', { channels: { email: false } });
      expect(await service().delete('carol')).toBe(true);
      expect(await service().delete('carol')).toBe(false);
      expect(await service().get('carol')).toBeUndefined();
      const left = await store.db.selectFrom('subscriber_preferences').selectAll().execute();
      expect(left).toEqual([]);
    });

    it('a Rekey user is the subscriber of the same id, and deleting the user deletes it', async () => {
      // The users table is written directly: this test is about the link, not about accounts.
      const now = clock.now();
      const userId = 'user_01JABCDEFGHJKMNPQRSTVWXYZ0';
      await store.db
        .insertInto('users')
        .values({
          id: userId,
          email: 'user@example.com',
          email_verified: 1,
          first_name: 'Uma',
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
      await writeTogether(store.db, [service().upsertWrite({ subscriberId: userId, email: 'user@example.com', firstName: 'Uma' })]);
      await service().preferences.update(userId, { workflowId: 'new-sign-in', channels: { email: false } });
      expect((await service().get(userId))!.userId).toBe(userId);

      await store.db.deleteFrom('users').where('id', '=', userId).execute();
      expect(await service().get(userId)).toBeUndefined();
      expect(await store.db.selectFrom('subscriber_preferences').selectAll().execute()).toEqual([]);
    });

    it('channelAllowed: on by default, the global choice, then the workflow choice over it', async () => {
      expect(await service().channelAllowed('nobody', 'digest', 'email')).toBe(true);
      await service().create({ subscriberId: 'dan' });
      expect(await service().channelAllowed('dan', 'digest', 'email')).toBe(true);

      await service().preferences.update('dan', { channels: { sms: false } });
      expect(await service().channelAllowed('dan', 'digest', 'sms')).toBe(false);
      expect(await service().channelAllowed('dan', 'digest', 'email')).toBe(true);

      await service().preferences.update('dan', { workflowId: 'digest', channels: { sms: true, email: false } });
      expect(await service().channelAllowed('dan', 'digest', 'sms')).toBe(true);
      expect(await service().channelAllowed('dan', 'digest', 'email')).toBe(false);
      // Another workflow still follows the global row.
      expect(await service().channelAllowed('dan', 'new-sign-in', 'sms')).toBe(false);
      expect(await service().channelAllowed('dan', 'new-sign-in', 'email')).toBe(true);

      // A later change of one channel keeps the others.
      await service().preferences.update('dan', { workflowId: 'digest', channels: { email: true } });
      expect(await service().channelAllowed('dan', 'digest', 'sms')).toBe(true);
      expect(await service().channelAllowed('dan', 'digest', 'email')).toBe(true);
    });

    it('lists preferences per workflow by criticality and refuses unknown or critical workflows', async () => {
      await service().create({ subscriberId: 'erin' });
      await service().preferences.update('erin', { workflowId: 'new-sign-in', channels: { email: false } });
      const listed = await service().preferences.list('erin');
      expect(listed.global).toEqual({ enabled: true, channels: { email: true, sms: true, in_app: true, chat: true } });
      expect(listed.workflows.map((w) => w.workflow.id)).toEqual(['new-sign-in', 'digest']);
      expect(listed.workflows[0]).toMatchObject({ enabled: true, channels: { email: false, in_app: true }, chosen: ['email'] });

      const critical = await service().preferences.list('erin', 'critical');
      expect(critical.workflows).toMatchObject([{ workflow: { id: 'password-reset' }, enabled: true, channels: { email: true } }]);
      expect((await service().preferences.list('erin', 'all')).workflows).toHaveLength(3);

      expect(await codeOf(service().preferences.update('erin', { workflowId: 'nope', channels: { email: false } }))).toBe('workflow_not_found');
      expect(await codeOf(service().preferences.update('erin', { workflowId: 'password-reset', channels: { email: false } }))).toBe('workflow_critical');
      expect(await codeOf(service().preferences.update('nobody', { channels: { email: false } }))).toBe('subscriber_not_found');
      expect(await codeOf(service().preferences.list('nobody'))).toBe('subscriber_not_found');
    });

    it('searches by email, name, phone and id (contains, any case) and pages with cursors', async () => {
      for (let i = 1; i <= 5; i++) {
        await service().create({
          subscriberId: `s${i}`,
          firstName: `First${i}`,
          lastName: i % 2 ? 'Odd' : 'Even',
          email: `s${i}@Example.com`,
          phone: `+4420000000${i}`,
        });
        clock.advance(1);
      }
      await service().create({ subscriberId: 'pct', firstName: '100%_sure' });
      const all = await service().search({ limit: 10, orderDirection: 'DESC' });
      expect(all.totalCount).toBe(6);
      expect(all.data[0]!.subscriberId).toBe('pct');

      expect((await service().search({ limit: 10, orderDirection: 'ASC', email: 'S3@EXAMPLE' })).data.map((s) => s.subscriberId)).toEqual(['s3']);
      expect((await service().search({ limit: 10, orderDirection: 'ASC', name: 'first2 even' })).data.map((s) => s.subscriberId)).toEqual(['s2']);
      expect((await service().search({ limit: 10, orderDirection: 'ASC', name: 'odd' })).totalCount).toBe(3);
      expect((await service().search({ limit: 10, orderDirection: 'ASC', phone: '0000005' })).data.map((s) => s.subscriberId)).toEqual(['s5']);
      // LIKE wildcards in the filter match themselves only.
      expect((await service().search({ limit: 10, orderDirection: 'ASC', name: '%_' })).data.map((s) => s.subscriberId)).toEqual(['pct']);

      const page1 = await service().search({ limit: 2, orderDirection: 'ASC' });
      expect(page1.data.map((s) => s.subscriberId)).toEqual(['s1', 's2']);
      expect(page1.previous).toBeNull();
      const page2 = await service().search({ limit: 2, orderDirection: 'ASC', after: page1.next! });
      expect(page2.data.map((s) => s.subscriberId)).toEqual(['s3', 's4']);
      const back = await service().search({ limit: 2, orderDirection: 'ASC', before: page2.previous! });
      expect(back.data.map((s) => s.subscriberId)).toEqual(['s1', 's2']);
      const withCursor = await service().search({ limit: 2, orderDirection: 'ASC', after: page1.next!, includeCursor: true });
      expect(withCursor.data.map((s) => s.subscriberId)).toEqual(['s2', 's3']);
    });
  });
}
