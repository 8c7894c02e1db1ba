import type { ApplicationService } from '../apps/index.ts';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import type { FactorType } from '../factors/index.ts';
import type { UserService } from '../users/index.ts';
import {
  AUTH0_FACTOR_TYPES,
  type Auth0FactorType,
  type CacheRecord,
  type ChallengeGroup,
  type Decision,
  type PipelineAction,
  type PostChallengeEvent,
} from './action.ts';
import { auth0NameOf, buildEvent, rekeyFactorOf, toAuth0Factors, type ActionRequestInfo } from './event.ts';
import type { Progress, ProgressStore } from './progress.store.ts';
import type { ActionCall } from './sandbox/pool.ts';

/** The flow the pipeline runs for; the flow service owns its status. */
export interface FlowRef {
  id: string;
  user_id: string;
  application_id: string;
}

export interface RunContext {
  ipAddress: string;
  userAgent?: string | null;
  request?: ActionRequestInfo;
}

/** What a flow waiting on the pipeline shows its browser (or the application's front end) to do next. */
export interface PendingStep {
  /** Meet one of these factors (Rekey's names), the first being the one offered first unless `any`. */
  challenge?: { factors: FactorType[]; any: boolean };
  /** Go to this URL; the page there sends the browser back to `/reset/continue?state=…`. */
  redirect?: { url: string };
}

export interface Pipeline {
  /** After the first factor: runs the actions from the first, and says what the flow waits for next. */
  begin(flow: FlowRef, context: RunContext): Promise<Decision>;
  /** The pending challenge was met with `type` (already verified by the caller): runs the actions after it. */
  challengeMet(flow: FlowRef, type: FactorType, context: RunContext): Promise<Decision>;
  /** Back from a redirect: spends `state` and resumes the same action's `onContinuePostChallenge`. */
  resume(flow: FlowRef, state: string, context: RunContext): Promise<Decision>;
  pending(flowId: string): Promise<PendingStep | undefined>;
  /** The URL `api.transaction.setResultUrl` gave, if any. */
  resultUrl(flowId: string): Promise<string | null>;
}

export interface PipelineDeps extends PlatformDeps {
  actions: readonly PipelineAction[];
  progress: ProgressStore;
  users: Pick<UserService, 'getOrThrow'>;
  apps: Pick<ApplicationService, 'get' | 'getDefault'>;
  factors: { enrolledTypes(userId: string): Promise<FactorType[]> };
}

/** One call into the pipeline (a begin, a challenge met, a continue): the actions it runs share what it read. */
interface Run {
  flow: FlowRef;
  p: Progress;
  context: RunContext;
  /** Real time: the whole trigger's limit. */
  deadline: number;
  shared?: Promise<Shared>;
}

interface Shared {
  /** Everything but `secrets`, which each action gets alone. */
  event: Omit<PostChallengeEvent, 'secrets'>;
  enrolled: FactorType[];
  /** `api.cache` of each action still to run, by name. */
  caches: Map<string, Record<string, CacheRecord>>;
}

/** Frozen all the way down: a shared value no reader can change. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Auth0's limit for one execution of the trigger, all its actions together. */
export const TRIGGER_LIMIT_MS = 20_000;
/** A redirect's state lives five minutes: within the ten of the grant the flow holds while it waits. */
export const STATE_TTL_MS = 5 * 60_000;

const isFactorType = (value: unknown): value is Auth0FactorType => typeof value === 'string' && (AUTH0_FACTOR_TYPES as readonly string[]).includes(value);
const isWebUrl = (value: string) => {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

export function createPipeline(deps: PipelineDeps): Pipeline {
  const { actions, progress: store, clock, tokens, logger } = deps;
  const issuer = new URL(deps.config.baseUrl).host;
  const stateHash = (flowId: string, state: string) => tokens.hash(`action-state:${flowId}:${state}`, 'reset_grant');

  const deny = (flow: FlowRef, action: string, reason: string): Decision => {
    // The reason may come from operator code and name the rule that matched: the server log only, never the user.
    logger.warn({ flowId: flow.id, action, reason }, 'reset denied by a post-challenge action');
    return { kind: 'deny' };
  };

  /**
   * What every action of one run reads, read once when its first action starts (a run that starts none reads
   * nothing): the account, the application, the enrolled factors and the `api.cache` of each action still to come,
   * together. The event is frozen: an action in this process reads it and cannot
   * change what the next one sees; a sandboxed action gets its own copy through its process's channel.
   */
  function shared(run: Run, fromIndex: number): Promise<Shared> {
    run.shared ??= (async () => {
      const { flow, p, context } = run;
      const cached = actions
        .slice(fromIndex)
        .filter((a) => a.usesCache)
        .map((a) => a.name);
      const [user, application, enrolled, caches] = await Promise.all([
        deps.users.getOrThrow(flow.user_id),
        deps.apps.get(flow.application_id).then(async (a) => a ?? (await deps.apps.getDefault())),
        deps.factors.enrolledTypes(flow.user_id).catch(() => undefined),
        cached.length ? store.cachesOf(cached, clock.now()) : new Map<string, Record<string, CacheRecord>>(),
      ]);
      const event = buildEvent({
        flowId: flow.id,
        user,
        application,
        enrolled,
        methods: p.methods,
        ipAddress: context.ipAddress,
        userAgent: context.userAgent,
        request: context.request,
        tenantId: issuer,
      });
      return { event: deepFreeze(event), enrolled: enrolled ?? [], caches };
    })();
    return run.shared;
  }

  /** One action's run; its failure (throw, time, memory, a dead process) is a denial. */
  async function runAction(
    run: Run,
    index: number,
    kind: 'execute' | 'continue',
    state?: string,
  ): Promise<{ calls: ActionCall[]; enrolled: FactorType[] } | { failure: string }> {
    const action = actions[index]!;
    const { event, enrolled, caches } = await shared(run, index);
    // Its own secrets and its own cache namespace: no action sees another's.
    const own: PostChallengeEvent = { ...event, secrets: { ...action.secrets } };
    const cache = action.usesCache ? { ...caches.get(action.name) } : {};
    const started = performance.now();
    try {
      // Real time, not the injected clock: the limit is about how long a process may hold the request.
      const calls = await action.run(kind, own, { state, cache, now: clock.now(), issuer, timeoutMs: Math.max(1, run.deadline - Date.now()) });
      logger.debug({ flowId: run.flow.id, action: action.name, kind, ms: performance.now() - started }, 'post-challenge action ran');
      if (action.usesCache) await store.applyCache(action.name, calls, clock.now());
      return { calls, enrolled };
    } catch (error) {
      return { failure: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Applies one run's calls to the progress; a denial (or a call Rekey cannot honour) ends it. */
  function apply(flow: FlowRef, p: Progress, index: number, calls: ActionCall[], enrolled: FactorType[]): Decision | undefined {
    const name = actions[index]!.name;
    // The account's address is a factor an action may ask for by name (it is never enrolled, and the built-in rule
    // never asks for it: the first factor has just proven the mailbox).
    const available = new Set<Auth0FactorType>([...toAuth0Factors(enrolled).map((f) => f.type), 'email']);
    const denial = calls.find((c) => c.op === 'deny');
    if (denial) return deny(flow, name, denial.reason || 'api.access.deny');
    for (const call of calls) {
      if (call.op === 'challenge') {
        const asked = call.factors.map((f) => (typeof f === 'object' && f !== null ? (f as { type?: unknown }).type : undefined)).filter(isFactorType);
        // Auth0: factors the user has not enrolled (or Rekey does not offer) are ignored; none left fails the reset.
        const factors = [...new Set(asked.map((t) => (t === 'phone' ? 'sms' : t)).filter((t) => available.has(t) || available.has(t === 'sms' ? 'phone' : t)))];
        const named = factors.map((t) => auth0NameOf(rekeyFactorOf(t)!));
        if (named.length === 0) return deny(flow, name, `none of the factors asked for (${asked.join(', ') || 'none'}) is enrolled`);
        p.challenges.push({ factors: [...new Set(named)], any: call.any });
      } else if (call.op === 'redirect') {
        if (!isWebUrl(call.url)) return deny(flow, name, 'api.redirect.sendUserTo was given a URL that is not http(s)');
        p.redirect_action = index;
        p.redirect_url_sealed = tokens.seal(call.url);
        p.state_hash = null;
      } else if (call.op === 'result_url') {
        if (!isWebUrl(call.url)) return deny(flow, name, 'api.transaction.setResultUrl was given a URL that is not http(s)');
        p.result_url = call.url;
      }
    }
    return undefined;
  }

  const satisfied = (p: Progress) => new Set(p.methods.filter((m) => m.name === 'mfa' && m.type).map((m) => m.type as Auth0FactorType));

  /** Runs actions until one needs the user (a challenge, a redirect), one denies, or none is left. */
  async function advance(run: Run): Promise<Decision> {
    const { flow, p } = run;
    for (;;) {
      // "If any of the factors requested has already been challenged successfully in the current transaction", the
      // challenge is met: one code is never asked for twice.
      while (p.challenges.length > 0) {
        const group = p.challenges[0]!;
        if (!group.factors.some((f) => satisfied(p).has(f))) return { kind: 'challenge', challenge: group };
        p.challenges.shift();
      }
      if (p.redirect_action !== null) {
        if (p.state_hash === null) {
          const state = tokens.newLinkToken();
          const target = new URL(tokens.unseal(p.redirect_url_sealed ?? '') ?? '');
          target.searchParams.set('state', state);
          p.redirect_url_sealed = tokens.seal(target.href);
          p.state_hash = stateHash(flow.id, state);
          p.state_expires_at = clock.now() + STATE_TTL_MS;
          return { kind: 'redirect', url: target.href };
        }
        return { kind: 'redirect', url: tokens.unseal(p.redirect_url_sealed ?? '') ?? '' };
      }
      if (p.next_action >= actions.length) return { kind: 'allow', resultUrl: p.result_url };
      const index = p.next_action++;
      const ran = await runAction(run, index, 'execute');
      if ('failure' in ran) return deny(flow, actions[index]!.name, ran.failure);
      const ended = apply(flow, p, index, ran.calls, ran.enrolled);
      if (ended) return ended;
    }
  }

  async function saved(p: Progress, decision: Decision): Promise<Decision> {
    const next = { ...p, version: p.version + 1, updated_at: clock.now() };
    // Another request moved this flow's pipeline first (the same code twice, a state replayed at once).
    if (!(await store.save(next))) throw new RekeyError('flow_state_invalid');
    return decision;
  }

  const newRun = (flow: FlowRef, p: Progress, context: RunContext): Run => ({ flow, p, context, deadline: Date.now() + TRIGGER_LIMIT_MS });

  const load = async (flowId: string) => {
    const p = await store.find(flowId);
    if (!p) throw new RekeyError('flow_state_invalid');
    return p;
  };

  return {
    async begin(flow, context) {
      const now = clock.now();
      const p: Progress = {
        flow_id: flow.id,
        version: 0,
        next_action: 0,
        methods: [{ name: 'email', timestamp: new Date(now).toISOString() }],
        challenges: [],
        redirect_action: null,
        redirect_url_sealed: null,
        state_hash: null,
        state_expires_at: null,
        result_url: null,
        created_at: now,
        updated_at: now,
      };
      const decision = await advance(newRun(flow, p, context));
      // A flow the pipeline lets through (with no result URL) or denies has nothing to resume: no row is written for
      // it. Two runs of one flow still cannot both count: the flow's own move from needs_first_factor happens once.
      if ((decision.kind === 'allow' && p.result_url === null) || decision.kind === 'deny') return decision;
      return saved(p, decision);
    },

    async challengeMet(flow, type, context) {
      const p = await load(flow.id);
      const group: ChallengeGroup | undefined = p.challenges[0];
      const name = auth0NameOf(type);
      if (!group || !group.factors.includes(name)) throw new RekeyError('flow_state_invalid');
      p.methods.push({ name: 'mfa', type: name, timestamp: new Date(clock.now()).toISOString() });
      p.challenges.shift();
      return saved(p, await advance(newRun(flow, p, context)));
    },

    async resume(flow, state, context) {
      const p = await store.find(flow.id);
      const valid =
        p !== undefined &&
        p.redirect_action !== null &&
        p.state_hash !== null &&
        p.challenges.length === 0 &&
        (p.state_expires_at ?? 0) > clock.now() &&
        tokens.equal(p.state_hash, stateHash(flow.id, state));
      if (!valid) throw new RekeyError('action_state_invalid');
      const index = p.redirect_action!;
      // Spent by the save below, which succeeds once per version: a state replayed, even at once, is refused.
      p.redirect_action = null;
      p.redirect_url_sealed = null;
      p.state_hash = null;
      p.state_expires_at = null;
      const run = newRun(flow, p, context);
      let decision: Decision | undefined;
      if (actions[index]!.hasContinue) {
        const ran = await runAction(run, index, 'continue', state);
        decision = 'failure' in ran ? deny(flow, actions[index]!.name, ran.failure) : apply(flow, p, index, ran.calls, ran.enrolled);
      }
      return saved(p, decision ?? (await advance(run)));
    },

    async pending(flowId) {
      const p = await store.find(flowId);
      if (!p) return undefined;
      const group = p.challenges.find((g) => !g.factors.some((f) => satisfied(p).has(f)));
      if (group) return { challenge: { factors: group.factors.map((f) => rekeyFactorOf(f)).filter((t): t is FactorType => t !== undefined), any: group.any } };
      if (p.redirect_action !== null && p.state_hash !== null) return { redirect: { url: tokens.unseal(p.redirect_url_sealed ?? '') ?? '' } };
      return undefined;
    },

    async resultUrl(flowId) {
      return (await store.find(flowId))?.result_url ?? null;
    },
  };
}
