import type { ActionRequestInfo, ActionsService, PendingStep } from '../actions/index.ts';
import { allowedRedirects, safeRedirect, type Application, type ApplicationService } from '../apps/index.ts';
import type { PlatformDeps } from '../deps.ts';
import { outboxWrite } from '../delivery/index.ts';
import { writeTogether, writeTogetherIf } from '../store/compiled.ts';
import { RekeyError } from '../errors/index.ts';
import type { FactorChallenge, FactorService, FactorType } from '../factors/index.ts';
import { normalizeEmail, type UserService } from '../users/index.ts';
import { effectiveStatus, GRANT_TTL_MS, openFlow, type FlowStatus, type FlowStrategy, type PublicFlow, type ResetFlow } from './flow.ts';
import type { FlowStore } from './flow.store.ts';
import { enforce, type ResetLimits } from './limits.ts';
import { RESET_REQUESTED, type ResetRequestedJob } from './reset-requested.job.ts';
import { isUsable, type ResetStore } from './reset.store.ts';
import type { ResetService } from './reset.service.ts';
import { createResetStrategies } from './strategies/registry.ts';
import type { Decision } from '../actions/index.ts';
import type { ResetStrategies, StrategyDeps } from './strategies/strategy.ts';

export interface StartFlowInput {
  identifier: string;
  strategy: FlowStrategy;
  /** Kept only if it passes the application's allow-list; otherwise dropped silently (SEC-23). */
  redirectUrl?: string | null;
  application: Application;
  ipAddress: string;
  userAgent?: string | null;
  locale?: string | null;
}

export interface RequestContext {
  ipAddress: string;
  userAgent?: string | null;
  /** What post-challenge actions see of the request (`event.request`); built by the routes with `actionRequestOf`. */
  action?: ActionRequestInfo;
}

/** What the management confirm hands back for an account with a second factor: WorkOS's pending token. */
export interface PendingSecondFactor {
  flow: ResetFlow;
  /** `<flow id>.<grant>`: completes the reset with the factor's code and nothing else (SEC-37). */
  pendingAuthenticationToken: string;
}

/**
 * The browser-facing reset: every method is safe to expose to an anonymous caller.
 * Errors are RekeyErrors with codes from `errors/codes.ts` (flow_*, code_*, grant_invalid, mfa_required…).
 */
export interface FlowService {
  /** Same work and same answer whatever the identifier: one flow row and one outbox job (SEC-01/02). */
  start(input: StartFlowInput): Promise<ResetFlow>;
  /** Novel's `POST /auth/forgot`: one outbox job and nothing else, whatever the identifier. */
  requestLink(input: Omit<StartFlowInput, 'strategy'>): Promise<void>;
  get(id: string): Promise<ResetFlow | undefined>;
  /** The browser's view of a flow; it lists `secondFactors` while the flow waits for one. */
  toPublic(flow: ResetFlow, secondFactors?: readonly FactorType[]): PublicFlow;
  /** What a flow waiting on its post-challenge actions waits for: a challenge, or a redirect and its continue. */
  pendingStep(flow: ResetFlow): Promise<PendingStep | undefined>;
  /**
   * Back from an action's redirect (`/reset/continue?state=…`): spends the state with the flow's grant, resumes the
   * same action's `onContinuePostChallenge` and the actions after it, and returns the flow with a fresh grant.
   */
  continueAfterRedirect(flowId: string, grant: string, state: string, context: RequestContext): Promise<{ flow: ResetFlow; grant: string }>;
  /** A first factor typed into the flow (email_code: at most 5 wrong codes per issued code, counted atomically, SEC-17). */
  attemptCode(flowId: string, code: string, context: RequestContext): Promise<{ flow: ResetFlow; grant: string }>;
  /** email_link: spends the link token (a user-driven POST only, SEC-15) and returns the flow with a grant. */
  attemptLink(token: string, context: RequestContext): Promise<{ flow: ResetFlow; grant: string }>;
  /** Whether a link token could still be used, without spending it (for the landing page). Rate-limited like a guess (SEC-20). */
  isLinkUsable(token: string, context: RequestContext): Promise<boolean>;
  /**
   * A second factor for accounts that have one (SEC-36): `type` names it, or the code is tried against every
   * type whose codes it resembles. Takes the grant of the first factor and returns a fresh one.
   */
  attemptSecondFactor(flowId: string, grant: string, code: unknown, context: RequestContext, type?: FactorType): Promise<{ flow: ResetFlow; grant: string }>;
  /**
   * Starts the pending challenge with `type` (one the challenge accepts): sends the code of an SMS or email factor,
   * or gives WebAuthn's request options. TOTP and recovery codes need nothing sent.
   */
  startChallenge(flowId: string, grant: string, type: FactorType, context: RequestContext & { locale?: string | null }): Promise<FactorChallenge>;
  /** Spends the grant and sets the password; revokes sessions unless the caller opts out for other devices (SEC-34). */
  setPassword(
    flowId: string,
    grant: string,
    password: string,
    options: RequestContext & { signOutOfOtherSessions?: boolean; currentSessionId?: string | null },
  ): Promise<{ flow: ResetFlow; redirectTo: string | null }>;
  /**
   * Novel's one-step `POST /auth/reset {email, password, token}`; the token must belong to that email (SEC-09).
   * An account with a second factor gets `mfa_required` and keeps its token for the flow API (SEC-36).
   */
  resetWithToken(input: RequestContext & { email: string; token: string; password: string }): Promise<{ redirectTo: string | null }>;
}

/** What the management confirm needs of flows for an account with a second factor (SEC-36); not for browsers. */
export interface ManagementFlows {
  /**
   * Spends the emailed token into a flow waiting for the second factor. The caller is a server holding a
   * secret key, so no per-IP limit applies.
   */
  awaitSecondFactor(token: string, context?: RequestContext): Promise<PendingSecondFactor>;
  /** Completes `awaitSecondFactor`'s flow when its actions asked for nothing more: the new password alone. */
  completeAllowed(pendingAuthenticationToken: string, password: string, context: { ipAddress?: string | null; userAgent?: string | null }): Promise<ResetFlow>;
  /** Completes `awaitSecondFactor`'s flow: the factor's code, then the new password (checked before either is spent). */
  completeWithSecondFactor(
    pendingAuthenticationToken: string,
    code: string,
    password: string,
    context: { ipAddress?: string | null; userAgent?: string | null },
  ): Promise<ResetFlow>;
}

/** What the browser API adds to `FlowService`: a view that knows the account's enrolled factor types. */
export interface FlowViews {
  /** `toPublic`, with the second factor types the flow's account has enrolled while it waits for one. */
  describe(flow: ResetFlow): Promise<PublicFlow>;
}

export type SecondFactors = Pick<FactorService, 'hasSecondFactor' | 'enrolledTypes' | 'verify' | 'verifyResponse' | 'challenge'>;

export interface FlowServiceDeps extends PlatformDeps {
  defaultApplicationId(): Promise<string>;
  /** The post-challenge pipeline: what a verified first factor leads to (SEC-36 through the built-in rule). */
  actions: Pick<ActionsService, 'pipeline'>;
  applications: Pick<ApplicationService, 'get'>;
  flows: FlowStore;
  resets: ResetStore;
  resetService: ResetService;
  users: UserService;
  factors: SecondFactors;
  limits: ResetLimits;
  /** The first factors by id; defaults to Rekey's own (link and code). */
  strategies?: ResetStrategies;
  /** What the default strategies trigger their mail through. */
  notifications: StrategyDeps['notifications'];
}

export function createFlowService(deps: FlowServiceDeps): FlowService & ManagementFlows & FlowViews {
  const { store, clock, ids, tokens, flows, resets, resetService, users, factors, limits } = deps;
  const strategies = deps.strategies ?? createResetStrategies(deps);
  const grantHash = (flowId: string, grant: string) => tokens.hash(`${flowId}:${grant}`, 'reset_grant');

  const requestJob = (input: Omit<StartFlowInput, 'strategy'>, strategy: FlowStrategy, flowId: string | null): ResetRequestedJob => ({
    flowId,
    strategy,
    applicationId: input.application.id,
    ipAddress: input.ipAddress,
    userAgent: input.userAgent ?? null,
    locale: input.locale ?? null,
    sealed: { identifier: tokens.seal(normalizeEmail(input.identifier)) },
  });

  const identifierHash = (identifier: string) => tokens.hash(normalizeEmail(identifier), 'identifier');

  /**
   * Both request paths run the same limits, whether or not the address has an account (SEC-03). Returns the
   * identifier's hash, which the request's writes key on too.
   */
  const admitRequest = async (input: Omit<StartFlowInput, 'strategy'>): Promise<string> => {
    await enforce(limits.ipRequests, input.ipAddress, 'ip_requests');
    const hash = identifierHash(input.identifier);
    await enforce(limits.identifierRequests, hash, 'identifier_requests');
    return hash;
  };

  const loadOpenFlow = async (flowId: string, expected: FlowStatus): Promise<ResetFlow> => {
    const flow = await flows.findById(flowId);
    if (!flow) throw new RekeyError('flow_not_found');
    const status = effectiveStatus(flow, clock.now());
    if (status === 'expired') throw new RekeyError('flow_expired');
    if (status !== expected)
      throw new RekeyError(status === 'needs_second_factor' && expected === 'needs_new_password' ? 'mfa_required' : 'flow_state_invalid');
    return flow;
  };

  const checkGrant = (flow: ResetFlow, grant: string) => {
    const valid = flow.grant_hash !== null && (flow.grant_expires_at ?? 0) > clock.now() && tokens.equal(flow.grant_hash, grantHash(flow.id, grant));
    if (!valid) throw new RekeyError('grant_invalid');
  };

  const pipeline = deps.actions.pipeline;
  const anonymous: RequestContext = { ipAddress: '' };

  /** The pipeline's decision as the flow's next state: a grant for what comes next, or the end of the flow. */
  const follow = async (flow: ResetFlow, from: FlowStatus, decision: Decision) => {
    if (decision.kind === 'deny') {
      // The reason is in the server log (the pipeline wrote it); the user gets one generic answer.
      await flows.advance(flow.id, from, 'denied', null, clock.now());
      throw new RekeyError('flow_denied');
    }
    return advanceWithGrant(flow.id, from, statusAfterActions(decision));
  };

  const passFirstFactor = async (flow: ResetFlow, context: RequestContext = anonymous): Promise<{ flow: ResetFlow; grant: string }> => {
    if (flow.user_id === null) return advanceWithGrant(flow.id, 'needs_first_factor', 'needs_new_password');
    return follow(flow, 'needs_first_factor', await pipeline.begin(flowRef(flow), runContext(context)));
  };

  const advanceWithGrant = async (flowId: string, from: FlowStatus, to: FlowStatus) => {
    const grant = tokens.newLinkToken();
    const now = clock.now();
    const advanced = await flows.advance(flowId, from, to, { hash: grantHash(flowId, grant), expiresAt: now + GRANT_TTL_MS }, now);
    if (!advanced) throw new RekeyError('flow_state_invalid');
    return { flow: advanced, grant };
  };

  /** Spends a link token and returns its flow past the first factor, opening one if the link has none open. */
  const spendLink = async (token: string, context?: RequestContext) => passFirstFactor(await strategies.email_link.redeem(token), context);

  /** The flow at its pending challenge, and the factor `type` names among those it accepts. */
  const atChallenge = async (flowId: string, grant: string, type?: FactorType) => {
    const flow = await loadOpenFlow(flowId, 'needs_second_factor');
    checkGrant(flow, grant);
    // Only a factor the pending challenge accepts; a flow waiting on a redirect takes no answer.
    const accepted = (await pipeline.pending(flow.id))?.challenge?.factors ?? [];
    const chosen = type ?? accepted[0];
    if (chosen === undefined || !accepted.includes(chosen)) throw new RekeyError('flow_state_invalid');
    return { flow, chosen };
  };

  const passSecondFactor = async (flowId: string, grant: string, code: unknown, type?: FactorType, context: RequestContext = anonymous) => {
    const { flow, chosen } = await atChallenge(flowId, grant, type);
    // Wrong answers count against the account's authenticator budget, the same one sign-in spends (SEC-38).
    if (!(await factors.verifyResponse(flow.user_id!, chosen, code))) throw new RekeyError(chosen === 'totp' ? 'totp_incorrect' : 'factor_incorrect');
    return follow(flow, 'needs_second_factor', await pipeline.challengeMet(flowRef(flow), chosen, runContext(context)));
  };

  const finish = async (
    flowId: string,
    grant: string,
    password: string,
    options: Omit<RequestContext, 'ipAddress'> & { ipAddress?: string | null; signOutOfOtherSessions?: boolean; currentSessionId?: string | null },
  ) => {
    const flow = await loadOpenFlow(flowId, 'needs_new_password');
    checkGrant(flow, grant);
    const user = await users.getOrThrow(flow.user_id!);
    // SEC-14: checked and hashed before the grant is spent, so a refused password costs nothing.
    const passwordHash = await users.hashPassword(users.acceptablePassword(password, user));
    const keep = options.signOutOfOtherSessions === false ? (options.currentSessionId ?? null) : null;
    // The grant is spent in the statement that makes the change, and only if it still can be (SEC-37).
    const now = clock.now();
    const changes = resetService.passwordChanged(user, passwordHash, {
      applicationId: flow.application_id,
      context: options,
      now,
      keepSessionId: keep,
      cause: { flowId },
    });
    const completed = await writeTogetherIf<ResetFlow>(store.db, flows.spendGrant(flowId, grantHash(flowId, grant), now), changes);
    if (!completed) throw new RekeyError('grant_invalid');
    await resetService.revokeLateSignIns(user.id, now, keep);
    return completed;
  };

  const toPublic = (flow: ResetFlow, secondFactors: readonly FactorType[] = []): PublicFlow => ({
    object: 'reset_flow',
    id: flow.id,
    strategy: flow.strategy,
    status: effectiveStatus(flow, clock.now()),
    supported_second_factors: flow.status === 'needs_second_factor' ? [...secondFactors] : [],
    expires_at: new Date(flow.expires_at).toISOString(),
  });

  const service: FlowService & ManagementFlows & FlowViews = {
    async start(input) {
      const identifier = await admitRequest(input);
      const now = clock.now();
      const flow = openFlow(
        {
          id: ids.opaque('flow'),
          application_id: input.application.id,
          strategy: input.strategy,
          identifier_hash: identifier,
          user_id: null,
          redirect_url: safeRedirect(input.redirectUrl, allowedRedirects(input.application)),
          expires_at: now + strategies[input.strategy].ttlMs,
        },
        now,
      );
      // The miss path is the hit path: no account lookup here; the dispatcher resolves it later. A new
      // request ends the identifier's earlier flows here, for every address alike (SEC-46).
      await writeTogether(store.db, [
        flows.expireOpenForIdentifier(flow.identifier_hash, now),
        flows.insert(flow),
        outboxWrite(deps, { kind: RESET_REQUESTED, payload: requestJob(input, input.strategy, flow.id) }),
      ]);
      return flow;
    },

    async requestLink(input) {
      const identifier = await admitRequest(input);
      const now = clock.now();
      await writeTogether(store.db, [
        flows.expireOpenForIdentifier(identifier, now),
        outboxWrite(deps, { kind: RESET_REQUESTED, payload: requestJob(input, 'email_link', null) }),
      ]);
    },

    get: (id) => flows.findById(id),

    toPublic,

    // Asked only of a flow waiting for its second factor, the one state that lists any.
    describe: async (flow) => {
      const step = flow.status === 'needs_second_factor' ? await pipeline.pending(flow.id) : undefined;
      return toPublic(flow, step?.challenge?.factors ?? []);
    },

    pendingStep: (flow) => (effectiveStatus(flow, clock.now()) === 'needs_second_factor' ? pipeline.pending(flow.id) : Promise.resolve(undefined)),

    async continueAfterRedirect(flowId, grant, state, context) {
      await enforce(limits.ipVerifications, context.ipAddress, 'ip_verifications');
      const flow = await loadOpenFlow(flowId, 'needs_second_factor');
      checkGrant(flow, grant);
      return follow(flow, 'needs_second_factor', await pipeline.resume(flowRef(flow), state, runContext(context)));
    },

    async attemptCode(flowId, code, context) {
      await enforce(limits.ipVerifications, context.ipAddress, 'ip_verifications');
      const flow = await loadOpenFlow(flowId, 'needs_first_factor');
      const strategy = strategies[flow.strategy];
      // A link's flow takes no typed secret: its token is spent through attemptLink.
      if (!strategy.attempt) throw new RekeyError('flow_state_invalid');
      return passFirstFactor(await strategy.attempt(flow, code, context), context);
    },

    async attemptLink(token, context) {
      await enforce(limits.ipVerifications, context.ipAddress, 'ip_verifications');
      return spendLink(token, context);
    },

    async isLinkUsable(token, context) {
      await enforce(limits.ipVerifications, context.ipAddress, 'ip_verifications');
      const reset = await resets.findByHash(tokens.hash(token, 'password_reset'));
      return reset !== undefined && isUsable(reset, clock.now());
    },

    async startChallenge(flowId, grant, type, context) {
      await enforce(limits.ipVerifications, context.ipAddress);
      const { flow, chosen } = await atChallenge(flowId, grant, type);
      return factors.challenge(flow.user_id!, chosen, { locale: context.locale ?? null, applicationId: flow.application_id });
    },

    async attemptSecondFactor(flowId, grant, code, context, type) {
      await enforce(limits.ipVerifications, context.ipAddress, 'ip_verifications');
      return passSecondFactor(flowId, grant, code, type, context);
    },

    async setPassword(flowId, grant, password, options) {
      await enforce(limits.ipVerifications, options.ipAddress, 'ip_verifications');
      const completed = await finish(flowId, grant, password, options);
      // An action's `api.transaction.setResultUrl` wins, if the application's allow-list has it (SEC-23).
      const fromAction = await pipeline.resultUrl(flowId);
      const application = fromAction ? await deps.applications.get(completed.application_id) : undefined;
      const redirectTo = (application && safeRedirect(fromAction, allowedRedirects(application))) ?? completed.redirect_url;
      return { flow: completed, redirectTo };
    },

    async resetWithToken({ email, token, password, ...context }) {
      await enforce(limits.ipVerifications, context.ipAddress, 'ip_verifications');
      await resetService.confirm(token, password, context, { expectedEmail: normalizeEmail(email) });
      const reset = await resets.findByHash(tokens.hash(token, 'password_reset'));
      const flow = reset?.flow_id ? await flows.findById(reset.flow_id) : undefined;
      return { redirectTo: flow?.redirect_url ?? null };
    },

    async awaitSecondFactor(token, context) {
      const { flow, grant } = await spendLink(token, context);
      return { flow, pendingAuthenticationToken: `${flow.id}.${grant}` };
    },

    async completeWithSecondFactor(pendingAuthenticationToken, code, password, context) {
      const [flowId = '', grant = ''] = pendingAuthenticationToken.split('.');
      const flow = await flows.findById(flowId);
      if (!flow || flow.user_id === null) throw new RekeyError('grant_invalid');
      // Checked first: a refused password must not spend the authenticator code or the pending token.
      users.acceptablePassword(password, await users.getOrThrow(flow.user_id));
      const passed = await passSecondFactor(flowId, grant, code, undefined, { ...context, ipAddress: context.ipAddress ?? '' });
      return finish(flowId, passed.grant, password, context);
    },

    async completeAllowed(pendingAuthenticationToken, password, context) {
      const [flowId = '', grant = ''] = pendingAuthenticationToken.split('.');
      return finish(flowId, grant, password, context);
    },
  };
  return service;
}

const flowRef = (flow: ResetFlow) => ({ id: flow.id, user_id: flow.user_id!, application_id: flow.application_id });

const runContext = (context: RequestContext) => ({
  ipAddress: context.ipAddress,
  userAgent: context.userAgent ?? null,
  ...(context.action ? { request: context.action } : {}),
});

/** Allowed on: the new password. A challenge or a redirect: the flow waits for it as it waits for a second factor. */
const statusAfterActions = (decision: Exclude<Decision, { kind: 'deny' }>): FlowStatus =>
  decision.kind === 'allow' ? 'needs_new_password' : 'needs_second_factor';
