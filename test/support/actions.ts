import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { StoreFactory } from '../../src/store/testing.ts';
import { managementApi } from './api.ts';
import { browserApi, totpAt } from './browser-api.ts';
import { createHarness, freshAccounts, type Harness, type HarnessOptions } from './harness.ts';

/** An action module among the test fixtures, by its path under test/fixtures/actions/. */
export const fixture = (path: string) => fileURLToPath(new URL(`../fixtures/actions/${path}`, import.meta.url));

export type ActionsInput = NonNullable<ConfigInput['actions']>;

/** A harness whose config lists these actions; the built-in rule is off unless `builtIn` says otherwise. */
export async function actionsHarness(factory: StoreFactory, actions: Partial<ActionsInput>, options: HarnessOptions = {}) {
  const h = await createHarness(factory, {
    ...options,
    config: { ...options.config, actions: { requireEnrolledSecondFactor: false, ...actions } as ActionsInput },
  });
  return withFlows(h);
}

/** Accounts and the reset flow API, driven as an application's front end does. */
export function withFlows<H extends Harness>(h: H) {
  const api = managementApi(h);
  const web = browserApi(h);
  const { email, password } = freshAccounts('actions.example');
  const account = async (options: { totp?: boolean; metadata?: Record<string, string> } = {}) => {
    const address = email();
    const original = password();
    const user = await api.createUser(address, original, options.metadata ? { metadata: options.metadata } : {});
    const secret: string | undefined = options.totp
      ? (await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' })).json().authentication_factor.totp.secret
      : undefined;
    return { user, address, original, secret };
  };
  /** Starts a code flow and verifies the emailed code: the post-challenge actions run in this call. */
  const firstFactor = async (address: string, headers: Record<string, string> = {}) => {
    const started = await web.startFlow(address, 'email_code', {}, headers);
    const flowId: string = started.json().id;
    const res = await web.attemptCode(flowId, await web.codeFor(address), headers);
    return { flowId, res, body: res.json() };
  };
  /** A fresh TOTP code: the clock moves a step on, so a code is never one already used. */
  const totp = async (secret: string) => {
    h.clock.advance(30_000);
    return totpAt(secret, h.clock.now());
  };
  const continueFlow = (flowId: string, grant: string, state: string, extra: Record<string, unknown> = {}) =>
    web.post(`/v1/reset_flows/${flowId}/continue`, { grant, state, ...extra });
  /** The deny reasons the server logged. */
  const denials = () =>
    h.logs.filter((line) => line.includes('denied by a post-challenge action')).map((line) => JSON.parse(line) as { action: string; reason: string });
  return Object.assign(h, { api, web, account, firstFactor, totp, continueFlow, denials, password });
}

export type ActionsHarness = ReturnType<typeof withFlows<Harness>>;
