import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../test/support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../../test/support/harness.ts';
import type { Pipeline } from '../actions/index.ts';
import type { FactorType } from '../factors/index.ts';
import type { BoundWrite } from '../store/compiled.ts';
import { STORES } from '../store/testing.ts';
import type { ResetFlow } from './flow.ts';
import { createFlowService, type SecondFactors } from './flow.service.ts';
import { createKyselyFlowStore } from './flow.store.ts';
import { createResetLimits } from './limits.ts';
import { createResetRequestedJob, RESET_REQUESTED } from './reset-requested.job.ts';
import { createKyselyResetStore } from './reset.store.ts';
import { createResetStrategies } from './strategies/registry.ts';
import type { IssueContext, ResetStrategies, ResetStrategy } from './strategies/strategy.ts';

/** The flow service and the request job reach a first factor only through the `ResetStrategy` registered for the flow's id. */
for (const factory of STORES) {
  describe(`${factory.name}: the ResetStrategy port`, () => {
    let h: Harness;
    let n = 0;
    beforeAll(async () => {
      h = await createHarness(factory);
    });
    afterAll(() => h.close());

    const CODE_TTL_MS = 1234_000;
    /** Stands in for `email_code`: accepts one secret, issues nothing but a marker, records what it was asked. */
    const fakeCode = (calls: string[]): ResetStrategy<'email_code'> => ({
      id: 'email_code',
      ttlMs: CODE_TTL_MS,
      issue: (context: IssueContext): BoundWrite[] => {
        calls.push(`issue:${context.user.email}:${context.flowId !== null}`);
        return [];
      },
      async attempt(flow, secret) {
        calls.push(`attempt:${secret}`);
        if (secret !== 'open-sesame') throw new Error('refused by the fake');
        return flow;
      },
    });

    const build = (calls: string[], secondFactors: Partial<SecondFactors> = {}, pipeline: Pipeline = h.rekey.actions.pipeline) => {
      const limits = createResetLimits(h.rekey.rateLimits, h.config);
      const flows = createKyselyFlowStore(h.store.db);
      const resets = createKyselyResetStore(h.store.db);
      const defaultApplicationId = async () => (await h.rekey.apps.getDefault()).id;
      const real = createResetStrategies({
        ...h.rekey.deps,
        flows,
        resets,
        resetService: h.rekey.resets,
        limits,
        defaultApplicationId,
        notifications: h.rekey.notifications,
      });
      const strategies: ResetStrategies = { email_link: real.email_link, email_code: fakeCode(calls) };
      const factors: SecondFactors = {
        hasSecondFactor: async () => false,
        enrolledTypes: async () => [],
        verify: async () => false,
        verifyResponse: async () => false,
        challenge: async () => {
          throw new Error('not used');
        },
        ...secondFactors,
      };
      const service = createFlowService({
        ...h.rekey.deps,
        flows,
        resets,
        resetService: h.rekey.resets,
        users: h.rekey.users,
        factors,
        limits,
        strategies,
        defaultApplicationId,
        actions: { pipeline },
        applications: h.rekey.apps,
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
      return { service, job };
    };
    const start = async (service: ReturnType<typeof build>['service'], identifier: string, strategy: ResetFlow['strategy']) =>
      service.start({ identifier, strategy, application: await h.rekey.apps.getDefault(), ipAddress: `198.51.100.${++n}`, locale: null });

    it('a flow lives as long as its strategy says, and a typed secret goes to the strategy of the flow', async () => {
      const calls: string[] = [];
      const { service } = build(calls);
      const flow = await start(service, `port${++n}@example.com`, 'email_code');
      expect(flow.expires_at - flow.created_at).toBe(CODE_TTL_MS);
      await expect(service.attemptCode(flow.id, 'wrong', { ipAddress: '198.51.100.200' })).rejects.toThrow('refused by the fake');
      const passed = await service.attemptCode(flow.id, 'open-sesame', { ipAddress: '198.51.100.200' });
      expect(passed.flow.status).toBe('needs_new_password');
      expect(calls).toEqual(['attempt:wrong', 'attempt:open-sesame']);
    });

    it('a strategy without typed secrets (the link) refuses a code attempt', async () => {
      const calls: string[] = [];
      const { service } = build(calls);
      const flow = await start(service, `port${++n}@example.com`, 'email_link');
      await expect(service.attemptCode(flow.id, '123456', { ipAddress: '198.51.100.201' })).rejects.toMatchObject({ code: 'flow_state_invalid' });
      expect(calls).toEqual([]);
    });

    it('the request job returns the writes of the strategy the flow names', async () => {
      const calls: string[] = [];
      const { service, job } = build(calls);
      const address = `port${++n}@example.com`;
      await managementApi(h).createUser(address, `${GOOD_PASSWORD} ${n}`);
      const flow = await start(service, address, 'email_code');
      const row = await h.store.db
        .selectFrom('outbox')
        .selectAll()
        .where('kind', '=', RESET_REQUESTED)
        .where('status', '=', 'pending')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      const payload = job.schema.parse(JSON.parse(row.payload));
      expect(payload.flowId).toBe(flow.id);
      expect(await job.handler(payload, { id: row.id, attempts: 0 })).toEqual([]);
      expect(calls).toEqual([`issue:${address}:true`]);
    });

    it('a flow waiting for a second factor lists the factors its pending challenge accepts, and asks for none in other states', async () => {
      const asked: string[] = [];
      const pending = async (flowId: string) => {
        asked.push(flowId);
        return { challenge: { factors: ['totp' as FactorType], any: true } };
      };
      const { service } = build([], {}, { ...h.rekey.actions.pipeline, pending });
      const flow = await start(service, `port${++n}@example.com`, 'email_code');
      expect((await service.describe(flow)).supported_second_factors).toEqual([]);
      const waiting = { ...flow, status: 'needs_second_factor' as const };
      expect((await service.describe(waiting)).supported_second_factors).toEqual(['totp']);
      expect(asked).toEqual([flow.id]);
    });
  });
}
