import type { FastifyRequest } from 'fastify';
import type { Application } from '../apps/index.ts';
import type { FactorType } from '../factors/index.ts';
import type { User } from '../users/index.ts';
import type { ActionRequest, Auth0FactorType, AuthenticationMethod, FactorSelector, PostChallengeEvent } from './action.ts';

/**
 * What the HTTP layer hands the pipeline about the request that reached it. The routes build it with
 * `actionRequestOf`; the pipeline adds the client address it already has.
 */
export interface ActionRequestInfo {
  method: string;
  hostname?: string;
  language?: string;
  query: Record<string, string>;
  body: Record<string, string>;
  countryCode?: string;
}

/** The Auth0 names of each Rekey factor type. A new factor type does not compile until it has its line here. */
const AUTH0_NAMES: Record<FactorType, Auth0FactorType[]> = {
  totp: ['otp'],
  // Auth0's own sample challenges `{ type: 'sms' }`; its enrolled-factor name is `phone`.
  sms: ['phone', 'sms'],
  email: ['email'],
  webauthn_roaming: ['webauthn-roaming'],
  webauthn_platform: ['webauthn-platform'],
  recovery_code: ['recovery-code'],
};

/** The Auth0 selectors for what an account has enrolled, in Rekey's order. */
export const toAuth0Factors = (types: readonly FactorType[]): FactorSelector[] => types.map((type) => ({ type: AUTH0_NAMES[type][0]! }));

/** The Rekey factor an Auth0 type names, if Rekey has one. */
export function rekeyFactorOf(type: Auth0FactorType): FactorType | undefined {
  for (const [rekey, names] of Object.entries(AUTH0_NAMES) as Array<[FactorType, Auth0FactorType[]]>) if (names.includes(type)) return rekey;
  return undefined;
}

export const auth0NameOf = (type: FactorType): Auth0FactorType => AUTH0_NAMES[type][0]!;

const MAX_PARAMS = 50;

/** Flat string parameters only, bounded: what `event.request.query`/`body` carry. */
function flatStrings(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return out;
  let count = 0;
  for (const [key, raw] of Object.entries(value)) {
    if (count++ >= MAX_PARAMS) break;
    if (typeof raw === 'string' && key.length <= 100) out[key] = raw.slice(0, 4096);
  }
  return out;
}

/**
 * The request as an action sees it. `countryHeader` names a header that the operator's proxy sets (and overwrites)
 * with the client's country; Rekey has no GeoIP database of its own.
 */
export function actionRequestOf(request: FastifyRequest, options: { countryHeader?: string; body?: unknown } = {}): ActionRequestInfo {
  const header = options.countryHeader ? request.headers[options.countryHeader.toLowerCase()] : undefined;
  const country = typeof header === 'string' && /^[A-Za-z]{2}$/.test(header) ? header.toUpperCase() : undefined;
  const language = request.headers['accept-language']?.split(',')[0]?.split(';')[0]?.trim();
  return {
    method: request.method,
    hostname: request.hostname,
    ...(language ? { language } : {}),
    query: flatStrings(request.query),
    body: flatStrings(options.body ?? {}),
    ...(country ? { countryCode: country } : {}),
  };
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : undefined);

function metadataOf(raw: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface EventInput {
  flowId: string;
  user: User;
  application: Application;
  enrolled: FactorType[] | undefined;
  methods: AuthenticationMethod[];
  ipAddress: string;
  userAgent?: string | null;
  request: ActionRequestInfo | undefined;
  tenantId: string;
}

/**
 * Auth0's `event` for one run, but for `secrets` (each action's own). Rekey's user `metadata` is set by the
 * application's back end, so it is `app_metadata`.
 */
export function buildEvent(input: EventInput): Omit<PostChallengeEvent, 'secrets'> {
  const { user, application, request } = input;
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ');
  const actionRequest: ActionRequest = {
    ip: input.ipAddress,
    method: request?.method ?? 'POST',
    ...(request?.hostname ? { hostname: request.hostname } : {}),
    ...(input.userAgent ? { user_agent: input.userAgent } : {}),
    ...(request?.language ? { language: request.language } : {}),
    query: request?.query ?? {},
    body: request?.body ?? {},
    geoip: request?.countryCode ? { countryCode: request.countryCode } : {},
  };
  return {
    user: {
      user_id: user.id,
      email: user.email,
      email_verified: Boolean(user.email_verified),
      ...(user.first_name ? { given_name: user.first_name } : {}),
      ...(user.last_name ? { family_name: user.last_name } : {}),
      ...(name ? { name } : {}),
      ...(user.profile_picture_url ? { picture: user.profile_picture_url } : {}),
      created_at: iso(user.created_at)!,
      updated_at: iso(user.updated_at)!,
      ...(user.password_changed_at ? { last_password_reset: iso(user.password_changed_at)! } : {}),
      app_metadata: metadataOf(user.metadata),
      user_metadata: {},
      identities: [{ connection: 'rekey', provider: 'auth0', user_id: user.id, isSocial: false }],
      ...(input.enrolled ? { enrolledFactors: toAuth0Factors(input.enrolled) } : {}),
    },
    request: actionRequest,
    client: { client_id: application.client_id, name: application.name, metadata: {} },
    connection: { id: 'rekey', name: 'rekey', strategy: 'auth0' },
    transaction: { id: input.flowId, locale: request?.language ?? 'en', ui_locales: request?.language ? [request.language] : [] },
    // A copy: the pipeline goes on adding to its own list while the event is read.
    authentication: { methods: input.methods.map((m) => ({ ...m })) },
    authorization: { roles: [] },
    tenant: { id: input.tenantId },
    stats: { logins_count: 0 },
  };
}
