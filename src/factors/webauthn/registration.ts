import type { PublicKeyCredentialCreationOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { RekeyError } from '../../errors/index.ts';
import type { BoundWrite } from '../../store/compiled.ts';
import type { EnrollingUser, WebAuthnFactorType } from '../factor.ts';
import type { AuthFactorsTable } from '../factor.table.ts';
import { factorRow } from '../rows.ts';
import { transportsOf, type WebAuthnDeps } from './webauthn.factor.ts';
import { simpleWebAuthn } from './webauthn.shared.ts';
import {
  attestationSchema,
  challengeHash,
  insertChallenge,
  parseCredential,
  relyingParty,
  spendChallenge,
  voidOpenChallenges,
  WEBAUTHN_CHALLENGE_TTL_MS,
} from './webauthn.shared.ts';
import { compiled } from '../../store/compiled.ts';

/** Which kind of authenticator the user chose to add; the browser's own report wins when it gives one. */
export type WebAuthnKind = 'roaming' | 'platform';

export interface WebAuthnRegistration {
  /** Options for `navigator.credentials.create()`; the challenge rests as an HMAC for five minutes. */
  begin(user: EnrollingUser, kind?: WebAuthnKind): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; writes: BoundWrite[] }>;
  /**
   * Verifies the browser's answer (JSON text or parsed) for Rekey's origin and RP ID. Returns the factor row and
   * the guard that spends the challenge: the caller commits both, with its hooks, only if the guard still can.
   * Throws `webauthn_registration_failed` for an answer that is malformed, forged or for another challenge.
   */
  finish(user: EnrollingUser, response: unknown, kind: WebAuthnKind): Promise<{ row: AuthFactorsTable; guard: BoundWrite }>;
}

const allCredentials = compiled<{ user_id: string }, { webauthn_credential_id: string | null; webauthn_transports: string | null }>((db, p) =>
  db
    .selectFrom('auth_factors')
    .select(['webauthn_credential_id', 'webauthn_transports'])
    .where('user_id', '=', p.user_id)
    .where('webauthn_credential_id', 'is not', null),
);

export function createWebAuthnRegistration(deps: WebAuthnDeps): WebAuthnRegistration {
  const { clock, ids, tokens, store, logger } = deps;
  const rp = relyingParty(deps.config);

  return {
    async begin(user, kind) {
      const now = clock.now();
      const existing = await allCredentials.rows(store.db, { user_id: user.id });
      const options = await (
        await simpleWebAuthn()
      ).generateRegistrationOptions({
        rpName: rp.rpName,
        rpID: rp.rpID,
        userName: user.email,
        // The user handle is Rekey's id, never the address: authenticators may show or sync it.
        userID: new TextEncoder().encode(user.id),
        challenge: Buffer.from(tokens.newLinkToken(), 'base64url'),
        timeout: WEBAUTHN_CHALLENGE_TTL_MS,
        attestationType: 'none',
        // The same authenticator twice is one factor; the browser refuses to register it again.
        excludeCredentials: existing.map((c) => ({ id: c.webauthn_credential_id!, transports: transportsOf(c.webauthn_transports) })),
        authenticatorSelection: {
          residentKey: 'discouraged',
          userVerification: 'preferred',
          ...(kind ? { authenticatorAttachment: kind === 'platform' ? 'platform' : 'cross-platform' } : {}),
        },
      });
      const writes = [
        voidOpenChallenges.bind({ user_id: user.id, kind: 'webauthn_registration', now }),
        insertChallenge.bind({
          id: ids.next('factor_challenge'),
          user_id: user.id,
          kind: 'webauthn_registration',
          secret_hash: challengeHash(tokens, user.id, 'webauthn_registration', options.challenge),
          expires_at: now + WEBAUTHN_CHALLENGE_TTL_MS,
          consumed_at: null,
          created_at: now,
        }),
      ];
      return { options, writes };
    },

    async finish(user, input, kind) {
      const response = parseCredential(attestationSchema, input) as RegistrationResponseJSON | undefined;
      if (!response) throw new RekeyError('webauthn_registration_failed', { reason: 'malformed' });
      let signed: string | undefined;
      let verified;
      try {
        verified = await (
          await simpleWebAuthn()
        ).verifyRegistrationResponse({
          response,
          expectedChallenge: (challenge) => {
            signed = challenge;
            return true;
          },
          expectedOrigin: rp.origin,
          expectedRPID: rp.rpID,
          requireUserVerification: false,
        });
      } catch (error) {
        logger.info({ userId: user.id, reason: (error as Error).message }, 'webauthn registration refused');
        throw new RekeyError('webauthn_registration_failed', { reason: 'unverified' });
      }
      if (!verified.verified || signed === undefined) throw new RekeyError('webauthn_registration_failed', { reason: 'unverified' });
      const { credential } = verified.registrationInfo;
      const attachment = response.authenticatorAttachment;
      const type: WebAuthnFactorType =
        attachment === 'platform' ? 'webauthn_platform' : attachment === 'cross-platform' ? 'webauthn_roaming' : `webauthn_${kind}`;
      const now = clock.now();
      const row = factorRow(
        { id: ids.next('auth_factor'), user_id: user.id, type, now },
        {
          webauthn_credential_id: credential.id,
          webauthn_public_key: Buffer.from(credential.publicKey).toString('base64url'),
          webauthn_counter: credential.counter,
          webauthn_transports: JSON.stringify(credential.transports ?? response.response.transports ?? []),
        },
      );
      return { row, guard: spendChallenge.bind({ secret_hash: challengeHash(tokens, user.id, 'webauthn_registration', signed), now }) };
    },
  };
}
