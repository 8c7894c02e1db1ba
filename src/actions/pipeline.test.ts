import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApplicationService } from '../apps/testing.ts';
import type { PlatformDeps } from '../deps.ts';
import type { FactorType } from '../factors/index.ts';
import { factorTestDeps, insertUser } from '../factors/testing.ts';
import type { ResetFlowsTable } from '../resets/index.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import type { User } from '../users/index.ts';
import type { CacheRecord, PipelineAction, PostChallengeEvent } from './action.ts';
import { createPipeline, type FlowRef, type Pipeline } from './pipeline.ts';
import { createProgressStore, type ActionTables } from './progress.store.ts';
import type { ActionCall } from './sandbox/pool.ts';

/** An action in this process that records what it was given, and answers with `calls` (or whatever `answer` says). */
function recording(name: string, answer: (event: PostChallengeEvent) => ActionCall[] = () => []) {
  const seen: Array<{ event: PostChallengeEvent; cache: Record<string, CacheRecord> }> = [];
  const action: PipelineAction = {
    name,
    hasContinue: false,
    secrets: { [`${name.toUpperCase()}_SECRET`]: name },
    usesCache: true,
    run: async (_kind, event, extra) => {
      seen.push({ event: structuredClone(event), cache: extra.cache });
      return answer(event);
    },
  };
  return { action, seen };
}

for (const factory of STORES) {
  describe(`${factory.name}: the pipeline reads once per run`, () => {
    let store: TestStore;
    let deps: PlatformDeps;
    let flow: FlowRef;
    let enrolled: FactorType[];
    const reads = { user: 0, application: 0, factors: 0, caches: [] as string[][], progressWrites: 0 };
    const context = { ipAddress: '203.0.113.7' };

    beforeEach(async () => {
      store = await factory.open();
      deps = await factorTestDeps(store);
      const application = await createApplicationService(deps).ensureDefault();
      const user = await insertUser(deps, 'reads@example.com');
      const now = deps.clock.now();
      const row: ResetFlowsTable = {
        id: deps.ids.next('flow'),
        application_id: application.id,
        strategy: 'email_link',
        status: 'needs_first_factor',
        identifier_hash: 'h',
        user_id: user.id,
        code_hash: null,
        code_expires_at: null,
        code_attempts: 0,
        grant_hash: null,
        grant_expires_at: null,
        redirect_url: null,
        created_at: now,
        updated_at: now,
        expires_at: now + 600_000,
        completed_at: null,
      };
      await store.db.insertInto('reset_flows').values(row).execute();
      flow = { id: row.id, user_id: user.id, application_id: application.id };
      enrolled = [];
      Object.assign(reads, { user: 0, application: 0, factors: 0, caches: [], progressWrites: 0 });
    });
    afterEach(() => store.close());

    const pipelineOf = (actions: PipelineAction[]): Pipeline => {
      const apps = createApplicationService(deps);
      const progress = createProgressStore(store);
      return createPipeline({
        ...deps,
        actions,
        progress: {
          ...progress,
          cachesOf: (names, now) => (reads.caches.push([...names]), progress.cachesOf(names, now)),
          save: (next) => (reads.progressWrites++, progress.save(next)),
        },
        users: {
          getOrThrow: async (id) => (reads.user++, (await store.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as User),
        },
        apps: { get: (id) => (reads.application++, apps.get(id)), getDefault: () => apps.getDefault() },
        factors: { enrolledTypes: async () => (reads.factors++, enrolled) },
      });
    };

    it('with four actions asking nothing: one read of the account, application, factors and every cache, and no progress written', async () => {
      const four = ['one', 'two', 'three', 'four'].map((name) => recording(name));
      await store.db
        .withTables<ActionTables>()
        .insertInto('action_cache')
        .values([
          { action: 'two', key: 'k', value: 'two', expires_at: deps.clock.now() + 60_000 },
          { action: 'three', key: 'k', value: 'gone', expires_at: deps.clock.now() - 1 },
        ])
        .execute();
      const decision = await pipelineOf(four.map((f) => f.action)).begin(flow, context);

      expect(decision).toEqual({ kind: 'allow', resultUrl: null });
      expect(reads).toEqual({ user: 1, application: 1, factors: 1, caches: [['one', 'two', 'three', 'four']], progressWrites: 0 });
      // Each its own secrets and cache namespace (a live entry only); the account the same for all.
      expect(four.map((f) => f.seen[0]!.event.secrets)).toEqual([
        { ONE_SECRET: 'one' },
        { TWO_SECRET: 'two' },
        { THREE_SECRET: 'three' },
        { FOUR_SECRET: 'four' },
      ]);
      expect(four.map((f) => f.seen[0]!.cache)).toEqual([{}, { k: { value: 'two', expires_at: deps.clock.now() + 60_000 } }, {}, {}]);
      expect(new Set(four.map((f) => f.seen[0]!.event.user.email))).toEqual(new Set(['reads@example.com']));
    });

    it('an action in this process cannot change the event the next one reads', async () => {
      const tamper = recording('tamper', (event) => {
        const attempts = [
          () => void (event.user.email = 'tampered@example.com'),
          () => void (event.user.app_metadata.role = 'admin'),
          () => void event.authentication.methods.push({ name: 'mfa', type: 'otp', timestamp: '' }),
          () => void (event.secrets.NEXT_SECRET = 'planted'),
        ];
        for (const attempt of attempts) {
          try {
            attempt();
          } catch {
            // Frozen: the change does not happen.
          }
        }
        return [];
      });
      const next = recording('next');
      await pipelineOf([tamper.action, next.action]).begin(flow, context);

      const seen = next.seen[0]!.event;
      expect(seen.user.email).toBe('reads@example.com');
      expect(seen.user.app_metadata).toEqual({});
      expect(seen.authentication.methods.map((m) => m.name)).toEqual(['email']);
      expect(seen.secrets).toEqual({ NEXT_SECRET: 'next' });
    });

    it('a challenge stops the run where it stands; meeting it runs only the actions after, with one read more', async () => {
      enrolled = ['totp'];
      const [one, two, three, four] = [
        recording('one'),
        recording('two', () => [{ op: 'challenge', any: false, factors: [{ type: 'otp' }] }]),
        recording('three'),
        recording('four'),
      ];
      const pipeline = pipelineOf([one, two, three, four].map((f) => f!.action));

      expect(await pipeline.begin(flow, context)).toEqual({ kind: 'challenge', challenge: { factors: ['otp'], any: false } });
      expect(reads).toMatchObject({ user: 1, application: 1, factors: 1, caches: [['one', 'two', 'three', 'four']], progressWrites: 1 });
      expect(await pipeline.pending(flow.id)).toEqual({ challenge: { factors: ['totp'], any: false } });

      expect(await pipeline.challengeMet(flow, 'totp', context)).toEqual({ kind: 'allow', resultUrl: null });
      expect(reads).toMatchObject({
        user: 2,
        application: 2,
        factors: 2,
        caches: [
          ['one', 'two', 'three', 'four'],
          ['three', 'four'],
        ],
        progressWrites: 2,
      });
      expect([one, two, three, four].map((f) => f!.seen.length)).toEqual([1, 1, 1, 1]);
      expect(four!.seen[0]!.event.authentication.methods.map((m) => m.type ?? m.name)).toEqual(['email', 'otp']);
    });
  });
}
