import type { ActionCall } from './sandbox/pool.ts';

/**
 * Auth0's post-challenge trigger as Rekey runs it: the `event` an action receives and the decision its calls to
 * `api` come to. Field names are Auth0's (snake_case where Auth0 has it), so modules written for Auth0 run unchanged.
 */

/** The factor types an action may name (Auth0's), `sms` and `phone` being the same factor. */
export const AUTH0_FACTOR_TYPES = ['otp', 'email', 'sms', 'phone', 'webauthn-roaming', 'webauthn-platform', 'recovery-code', 'push-notification'] as const;
export type Auth0FactorType = (typeof AUTH0_FACTOR_TYPES)[number];

export interface FactorSelector {
  type: Auth0FactorType;
  options?: Record<string, unknown>;
}

export interface ActionRequest {
  ip: string;
  method: string;
  hostname?: string;
  user_agent?: string;
  language?: string;
  query: Record<string, string>;
  body: Record<string, string>;
  geoip: { countryCode?: string };
}

export interface ActionUser {
  user_id: string;
  email: string;
  email_verified: boolean;
  given_name?: string;
  family_name?: string;
  name?: string;
  picture?: string;
  username?: string;
  created_at: string;
  updated_at: string;
  last_password_reset?: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  identities: Array<{ connection: string; provider: string; user_id: string; isSocial: boolean }>;
  /** `[]`: none enrolled; `undefined`: could not be read. */
  enrolledFactors?: FactorSelector[];
}

export interface AuthenticationMethod {
  name: string;
  timestamp: string;
  type?: string;
}

export interface PostChallengeEvent {
  user: ActionUser;
  request: ActionRequest;
  client: { client_id: string; name: string; metadata: Record<string, string> };
  connection: { id: string; name: string; strategy: string };
  transaction: { id: string; locale: string; ui_locales: string[] };
  authentication: { methods: AuthenticationMethod[] };
  authorization: { roles: string[] };
  tenant: { id: string };
  stats: { logins_count: number };
  secrets: Record<string, string>;
}

/** A challenge the user must meet: any one of `factors`, the first being the one offered first. */
export interface ChallengeGroup {
  factors: Auth0FactorType[];
  /** `challengeWithAny`: the user chooses first, no factor is preferred. */
  any: boolean;
}

/** Where the pipeline stands after a run: the flow service turns it into a flow status. */
export type Decision =
  { kind: 'allow'; resultUrl: string | null } | { kind: 'challenge'; challenge: ChallengeGroup } | { kind: 'redirect'; url: string } | { kind: 'deny' };

/** An action as the pipeline sees it: Rekey's own rule, or operator code in a sandbox. */
export interface PipelineAction {
  readonly name: string;
  readonly hasContinue: boolean;
  /** `event.secrets` for this action alone. */
  readonly secrets: Record<string, string>;
  /** Whether its `api.cache` is read before a run (Rekey's own rule has none). */
  readonly usesCache: boolean;
  run(kind: 'execute' | 'continue', event: PostChallengeEvent, extra: RunExtra): Promise<ActionCall[]>;
}

export interface RunExtra {
  /** The redirect's state, on a continue (what `api.redirect.validateToken` compares the token's `state` with). */
  state?: string;
  cache: Record<string, CacheRecord>;
  now: number;
  /** `iss` of the tokens `api.redirect.encodeToken` makes: Rekey's public host. */
  issuer: string;
  timeoutMs: number;
}

export interface CacheRecord {
  value: string;
  expires_at: number;
}

/** Auth0's documented cache limits, per action. */
export const CACHE_LIMITS = { entries: 20, keyLength: 64, valueLength: 2048, defaultTtlMs: 24 * 3600_000, maxTtlMs: 24 * 3600_000 } as const;
