import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { PlatformDeps } from '../../deps.ts';
import { RekeyError } from '../../errors/index.ts';
import { compiled, writeTogetherIf } from '../../store/compiled.ts';
import type { Factor, FactorChallenge, WebAuthnFactorType } from '../factor.ts';
import {
  assertionSchema,
  challengeHash,
  insertChallenge,
  parseCredential,
  relyingParty,
  simpleWebAuthn,
  spendChallenge,
  voidOpenChallenges,
  WEBAUTHN_CHALLENGE_TTL_MS,
} from './webauthn.shared.ts';

export type WebAuthnDeps = Pick<PlatformDeps, 'clock' | 'ids' | 'tokens' | 'store' | 'config' | 'logger'>;

const credentialsOf = compiled<{ user_id: string; type: WebAuthnFactorType }, { webauthn_credential_id: string | null; webauthn_transports: string | null }>(
  (db, p) =>
    db
      .selectFrom('auth_factors')
      .select(['webauthn_credential_id', 'webauthn_transports'])
      .where('user_id', '=', p.user_id)
      .where('type', '=', p.type)
      .orderBy('id'),
);
const credentialById = compiled<
  { user_id: string; type: WebAuthnFactorType; credential_id: string },
  { id: string; webauthn_public_key: string | null; webauthn_counter: number | string | null; webauthn_transports: string | null }
>((db, p) =>
  db
    .selectFrom('auth_factors')
    .select(['id', 'webauthn_public_key', 'webauthn_counter', 'webauthn_transports'])
    .where('user_id', '=', p.user_id)
    .where('type', '=', p.type)
    .where('webauthn_credential_id', '=', p.credential_id),
);
const recordCounter = compiled<{ id: string; counter: number; now: number }>((db, p) =>
  db.updateTable('auth_factors').set({ webauthn_counter: p.counter, updated_at: p.now }).where('id', '=', p.id),
);

export const transportsOf = (stored: string | null): string[] | undefined => {
  if (!stored) return undefined;
  try {
    const value: unknown = JSON.parse(stored);
    return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A security key (`webauthn_roaming`) or the device's own authenticator (`webauthn_platform`), through
 * @simplewebauthn/server. A challenge lists the account's credentials of the type and rests as an HMAC; an
 * assertion is accepted when its signature verifies against the stored public key for Rekey's origin and RP ID,
 * and its challenge is spent by one conditional UPDATE that also records the signature counter.
 */
export function createWebAuthnFactor<T extends WebAuthnFactorType>(type: T, deps: WebAuthnDeps): Factor<T> {
  const { clock, ids, tokens, store, logger } = deps;
  const rp = relyingParty(deps.config);

  return {
    type,

    async challenge(user, _context, now) {
      const credentials = await credentialsOf.rows(store.db, { user_id: user.id, type });
      if (credentials.length === 0) throw new RekeyError('factor_not_enrolled', { type });
      const challenge = tokens.newLinkToken();
      const options = await (
        await simpleWebAuthn()
      ).generateAuthenticationOptions({
        rpID: rp.rpID,
        challenge: Buffer.from(challenge, 'base64url'),
        timeout: WEBAUTHN_CHALLENGE_TTL_MS,
        userVerification: 'preferred',
        allowCredentials: credentials.map((c) => ({ id: c.webauthn_credential_id!, transports: transportsOf(c.webauthn_transports) })),
      });
      const writes = [
        voidOpenChallenges.bind({ user_id: user.id, kind: 'webauthn', now }),
        insertChallenge.bind({
          id: ids.next('factor_challenge'),
          user_id: user.id,
          kind: 'webauthn',
          secret_hash: challengeHash(tokens, user.id, 'webauthn', options.challenge),
          expires_at: now + WEBAUTHN_CHALLENGE_TTL_MS,
          consumed_at: null,
          created_at: now,
        }),
      ];
      return { challenge: { type, options } as FactorChallenge<T>, writes };
    },

    parse: (input) => parseCredential(assertionSchema, input) as AuthenticationResponseJSON | undefined,

    async verify(userId, response) {
      const assertion = response as AuthenticationResponseJSON;
      const row = await credentialById.first(store.db, { user_id: userId, type, credential_id: assertion.id });
      if (!row?.webauthn_public_key) return false;
      let signed: string | undefined;
      let verified;
      try {
        verified = await (
          await simpleWebAuthn()
        ).verifyAuthenticationResponse({
          response: assertion,
          // The signature covers the challenge; which challenge it was is checked (and spent) below, in one statement.
          expectedChallenge: (challenge) => {
            signed = challenge;
            return true;
          },
          expectedOrigin: rp.origin,
          expectedRPID: rp.rpID,
          credential: {
            id: assertion.id,
            publicKey: Buffer.from(row.webauthn_public_key, 'base64url'),
            counter: Number(row.webauthn_counter ?? 0),
            transports: transportsOf(row.webauthn_transports) as never,
          },
          requireUserVerification: false,
        });
      } catch (error) {
        // A malformed or forged assertion: a wrong answer, not a server fault.
        logger.info({ factorId: row.id, reason: (error as Error).message }, 'webauthn assertion refused');
        return false;
      }
      if (!verified.verified || signed === undefined) return false;
      const now = clock.now();
      const spent = await writeTogetherIf(store.db, spendChallenge.bind({ secret_hash: challengeHash(tokens, userId, 'webauthn', signed), now }), [
        recordCounter.bind({ id: row.id, counter: verified.authenticationInfo.newCounter, now }),
      ]);
      return spent !== undefined;
    },
  };
}
