/**
 * Fakes for the pages' unit tests: a FlowService with just enough state to walk the pages, an ApplicationService
 * over a fixed list, and a minimal browser (cookie jar, same-origin POST headers, the last page's CSRF token).
 * The end-to-end journeys run against the real services in test/.
 */
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import type { PendingStep } from '../actions/index.ts';
import type { FactorChallenge } from '../factors/index.ts';
import type { Application, ApplicationService } from '../apps/index.ts';
import { configSchema, type Config } from '../config/schema.ts';
import { installErrorHandling, RekeyError } from '../errors/index.ts';
import { manualClock } from '../platform/clock.ts';
import { createTokens } from '../platform/tokens.ts';
import type { FlowService, ResetFlow } from '../resets/index.ts';
import { hostedPages } from './index.ts';

export const LINK_TOKEN = 'a'.repeat(43);

export function application(fields: Partial<Application> = {}): Application {
  return {
    id: 'app_default',
    name: 'Acme',
    client_id: 'client_default',
    reset_url: null,
    allowed_redirects: '["https://app.example.com/after-reset"]',
    logo_url: null,
    brand_color: null,
    sign_in_url: null,
    support_email: null,
    mail_from: null,
    is_default: 1,
    created_at: 0,
    updated_at: 0,
    ...fields,
  };
}

/** A stand-in for the reset service: enough state to walk the pages, and a record of what was asked of it. */
export class FakeFlows implements FlowService {
  readonly calls: string[] = [];
  readonly flows = new Map<string, ResetFlow>();
  secondFactor = false;
  redirectTo: string | null = null;
  linkUsed = false;
  lastSetPassword?: { password: string; signOutOfOtherSessions?: boolean };
  /** An error the named service call throws once, after recording the call: how the pages' failure paths are reached. */
  readonly failNext = new Map<'start' | 'attemptCode' | 'attemptLink' | 'attemptSecondFactor' | 'setPassword', RekeyError>();
  constructor(private readonly now: () => number) {}

  private injected(call: Parameters<FakeFlows['failNext']['get']>[0]): void {
    const error = this.failNext.get(call);
    this.failNext.delete(call);
    if (error) throw error;
  }

  private create(strategy: ResetFlow['strategy'], applicationId: string, redirectUrl: string | null): ResetFlow {
    const id = `flow_${this.flows.size + 1}`;
    const now = this.now();
    const flow: ResetFlow = {
      id,
      application_id: applicationId,
      strategy,
      status: 'needs_first_factor',
      identifier_hash: 'h',
      user_id: null,
      code_hash: null,
      code_expires_at: null,
      code_attempts: 0,
      grant_hash: null,
      grant_expires_at: null,
      redirect_url: redirectUrl,
      created_at: now,
      updated_at: now,
      expires_at: now + 30 * 60_000,
      completed_at: null,
    };
    this.flows.set(id, flow);
    return flow;
  }
  private grantFor(flowId: string, grant: string): ResetFlow {
    const flow = this.flows.get(flowId);
    if (!flow || flow.grant_hash !== grant) throw new RekeyError('grant_invalid');
    return flow;
  }
  private advance(flow: ResetFlow, status: ResetFlow['status']) {
    flow.status = status;
    flow.grant_hash = `grant_${Math.random().toString(36).slice(2)}`;
    return { flow, grant: flow.grant_hash };
  }

  async start(input: Parameters<FlowService['start']>[0]) {
    this.calls.push(`start:${input.strategy}:${input.locale}`);
    this.injected('start');
    return this.create(input.strategy, input.application.id, input.redirectUrl ?? null);
  }
  async requestLink() {
    this.calls.push('requestLink');
  }
  async get(id: string) {
    return this.flows.get(id);
  }
  toPublic(flow: ResetFlow) {
    return { object: 'reset_flow' as const, id: flow.id, strategy: flow.strategy, status: flow.status, supported_second_factors: [], expires_at: '' };
  }
  async attemptCode(flowId: string, code: string) {
    this.calls.push('attemptCode');
    this.injected('attemptCode');
    const flow = this.flows.get(flowId);
    if (!flow) throw new RekeyError('flow_not_found');
    if (code !== '123456') {
      flow.code_attempts += 1;
      throw new RekeyError('code_incorrect', { attempts_remaining: 5 - flow.code_attempts });
    }
    return this.advance(flow, this.secondFactor ? 'needs_second_factor' : 'needs_new_password');
  }
  async attemptLink(token: string) {
    this.calls.push('attemptLink');
    this.injected('attemptLink');
    if (token !== LINK_TOKEN || this.linkUsed) throw new RekeyError('password_reset_token_invalid');
    this.linkUsed = true;
    return this.advance(this.create('email_link', 'app_default', null), this.secondFactor ? 'needs_second_factor' : 'needs_new_password');
  }
  async isLinkUsable(token: string) {
    this.calls.push('isLinkUsable');
    return token === LINK_TOKEN && !this.linkUsed;
  }
  async attemptSecondFactor(flowId: string, grant: string, code: string) {
    this.calls.push('attemptSecondFactor');
    this.injected('attemptSecondFactor');
    const flow = this.grantFor(flowId, grant);
    if (code === '999999') throw new RekeyError('totp_attempts_exceeded', { retryAfterSeconds: 840 });
    if (code !== '654321') throw new RekeyError('totp_incorrect');
    return this.advance(flow, 'needs_new_password');
  }
  async setPassword(flowId: string, grant: string, password: string, options: { signOutOfOtherSessions?: boolean }) {
    this.calls.push('setPassword');
    this.injected('setPassword');
    const flow = this.grantFor(flowId, grant);
    if (flow.status !== 'needs_new_password') throw new RekeyError('mfa_required');
    if ([...password].length < 15) throw new RekeyError('password_too_short', { min: 15 });
    this.lastSetPassword = { password, signOutOfOtherSessions: options.signOutOfOtherSessions };
    flow.status = 'complete';
    flow.grant_hash = null;
    return { flow, redirectTo: this.redirectTo };
  }
  async resetWithToken(): Promise<{ redirectTo: string | null }> {
    throw new RekeyError('password_reset_token_invalid');
  }
  /** A flow waiting for a second factor waits for TOTP, as the built-in rule asks of an account with one. */
  async pendingStep(flow: ResetFlow): Promise<PendingStep | undefined> {
    return flow.status === 'needs_second_factor' ? { challenge: { factors: ['totp'], any: true } } : undefined;
  }
  async startChallenge(): Promise<FactorChallenge> {
    return { type: 'totp' };
  }
  async continueAfterRedirect(): Promise<{ flow: ResetFlow; grant: string }> {
    throw new RekeyError('action_state_invalid');
  }
}

export function fakeApps(apps: Application[]): ApplicationService {
  const notUsed = async () => {
    throw new Error('not used by the pages');
  };
  return {
    ensureDefault: async () => apps[0]!,
    getDefault: async () => apps[0]!,
    list: async () => apps,
    get: async (id) => apps.find((a) => a.id === id),
    findByClientId: async (clientId) => apps.find((a) => a.client_id === clientId),
    create: notUsed,
    configure: notUsed,
    remove: notUsed,
    page: notUsed,
    createKey: notUsed,
    listKeys: notUsed,
    revokeKey: notUsed,
    authenticate: notUsed,
    checkRevocations: async () => {},
    close: async () => {},
  };
}

const BASE = 'http://127.0.0.1:8080';

/** The pages plugin on a bare Fastify instance (with the app's JSON error handling around it), over the fakes. */
export async function buildPages(options: { baseUrl?: string; apps?: Application[]; settings?: Record<string, unknown> } = {}) {
  const baseUrl = options.baseUrl ?? BASE;
  const secret = 's'.repeat(40);
  const config = { ...configSchema.parse({ ...options.settings, baseUrl, secret }), baseUrl, secret, databaseUrl: ':memory:' } as Config;
  const clock = manualClock(Date.UTC(2025, 0, 1));
  const flows = new FakeFlows(clock.now);
  const app = Fastify();
  installErrorHandling(app);
  await app.register(hostedPages, { flows, apps: fakeApps(options.apps ?? [application()]), tokens: createTokens(secret), config, clock });
  return { app, flows, clock, browser: new Browser(app, new URL(baseUrl).origin) };
}

/** Just enough of a browser: a cookie jar, the same-origin headers a form POST carries, and the last page's CSRF token. */
export class Browser {
  readonly cookies = new Map<string, string>();
  csrf = '';
  constructor(
    private readonly app: FastifyInstance,
    private readonly origin: string,
  ) {}

  private remember(response: LightMyRequestResponse) {
    for (const cookie of response.cookies as Array<{ name: string; value: string; maxAge?: number }>) {
      if (cookie.value === '' || cookie.maxAge === 0) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    const token = /name="csrf" value="([^"]+)"/.exec(response.body)?.[1];
    if (token) this.csrf = token;
    return response;
  }
  private cookieHeader() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  async get(url: string, headers: Record<string, string> = {}) {
    return this.remember(await this.app.inject({ method: 'GET', url, headers: { cookie: this.cookieHeader(), ...headers } }));
  }
  /**
   * A form POST as a browser makes it: a 303 that leaves the form's errors in the form cookie (Post/Redirect/Get)
   * is followed to the page that shows them; any other answer is returned as it is.
   */
  async post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    const response = await this.postOnly(url, fields, headers);
    const flashed = (response.cookies as Array<{ name: string; value: string }>).some((c) => /rekey_form$/.test(c.name) && c.value !== '');
    const location = response.headers.location;
    if (response.statusCode !== 303 || !flashed || typeof location !== 'string') return response;
    const shown = await this.get(location);
    this.followed = location;
    return shown;
  }
  /** The page a POST's errors were shown on, when `post` followed one. */
  followed?: string;
  /** A form POST without following anything. */
  async postOnly(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    this.followed = undefined;
    const payload = new URLSearchParams({ csrf: this.csrf, ...fields }).toString();
    return this.remember(
      await this.app.inject({
        method: 'POST',
        url,
        payload,
        headers: {
          cookie: this.cookieHeader(),
          'content-type': 'application/x-www-form-urlencoded',
          origin: this.origin,
          'sec-fetch-site': 'same-origin',
          ...headers,
        },
      }),
    );
  }
}
