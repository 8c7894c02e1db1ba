import { z } from 'zod';
import type { Config } from '../../config/schema.ts';
import type { Tokens } from '../../platform/tokens.ts';
import { compiled } from '../../store/compiled.ts';
import type { FactorChallengesTable } from '../factor.table.ts';

/**
 * The WebAuthn library, loaded on the first ceremony: its CBOR, COSE and certificate code (≈ 12 MiB once
 * imported) is dead weight for the many deployments where nobody enrolls a passkey.
 */
export function simpleWebAuthn(): Promise<typeof import('@simplewebauthn/server')> {
  return import('@simplewebauthn/server');
}

/** A browser has five minutes to answer a WebAuthn ceremony (simplewebauthn's default timeout is one). */
export const WEBAUTHN_CHALLENGE_TTL_MS = 5 * 60_000;

/** The relying party is Rekey's own origin (`baseUrl`): never a request header. */
export function relyingParty(config: Pick<Config, 'baseUrl' | 'appName'>) {
  const url = new URL(config.baseUrl);
  return { rpID: url.hostname, origin: url.origin, rpName: config.appName };
}

const b64url = z
  .string()
  .regex(/^[A-Za-z0-9_-]*={0,2}$/)
  .max(16_384);
const MAX_JSON = 32 * 1024;

/** What `navigator.credentials.get()` gives back, as @simplewebauthn/browser serialises it. */
export const assertionSchema = z.object({
  id: b64url.min(1).max(1024),
  rawId: b64url.min(1).max(1024),
  type: z.literal('public-key'),
  response: z.object({ clientDataJSON: b64url, authenticatorData: b64url, signature: b64url, userHandle: b64url.optional() }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()),
});

/** What `navigator.credentials.create()` gives back. */
export const attestationSchema = z.object({
  id: b64url.min(1).max(1024),
  rawId: b64url.min(1).max(1024),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url,
    attestationObject: b64url,
    authenticatorData: b64url.optional(),
    transports: z.array(z.string().max(32)).max(10).optional(),
    publicKeyAlgorithm: z.number().optional(),
    publicKey: b64url.optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()),
});

/** A form field or API body holds the credential as JSON text, or already parsed. */
export function parseCredential<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> | undefined {
  let value = input;
  if (typeof input === 'string') {
    if (input.length > MAX_JSON) return undefined;
    try {
      value = JSON.parse(input);
    } catch {
      return undefined;
    }
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** The challenge as the browser signs it (base64url) is bound to the account and the ceremony in its hash. */
export const challengeHash = (tokens: Tokens, userId: string, kind: FactorChallengesTable['kind'], challenge: string) =>
  tokens.hash(`${userId}:${kind}:${challenge}`, 'factor_challenge');

export const insertChallenge = compiled<FactorChallengesTable>((db, p) => db.insertInto('factor_challenges').values(p));
/** One open ceremony of a kind per account: a new one voids the last (another tab's page stops working). */
export const voidOpenChallenges = compiled<{ user_id: string; kind: FactorChallengesTable['kind']; now: number }>((db, p) =>
  db.updateTable('factor_challenges').set({ consumed_at: p.now }).where('user_id', '=', p.user_id).where('kind', '=', p.kind).where('consumed_at', 'is', null),
);
/** The guard of a verified ceremony: the challenge is spent once, while it is still open. */
export const spendChallenge = compiled<{ secret_hash: string; now: number }, { id: string }>((db, p) =>
  db
    .updateTable('factor_challenges')
    .set({ consumed_at: p.now })
    .where('secret_hash', '=', p.secret_hash)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', p.now)
    .returning('id'),
);
