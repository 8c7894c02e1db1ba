/**
 * The factors module's door: every second factor behind the `Factor` port (TOTP, SMS and mailed codes, WebAuthn
 * roaming and platform, recovery codes), enrollment links, Auth0's names for them, and the pending-authentication
 * step of a login. `FactorService` documents the calls a reset flow or an action makes.
 */
import { defineModule } from '../platform/module.ts';
import { createFactorsModule } from './factors.module.ts';
import { factorsMigrations } from './migrations.ts';

export { createFactorsModule, type FactorsModule } from './factors.module.ts';
export const factorsModule = defineModule('factors', factorsMigrations, createFactorsModule);

export {
  MFA_MAX_ATTEMPTS,
  PENDING_AUTHENTICATION_TTL_MS,
  type Auth0EnrolledFactor,
  type AuthFactor,
  type DirectlyEnrolled,
  type Enrolled,
  type EnrolledTotp,
  type FactorChangeHook,
  type FactorService,
  type MfaLoginContext,
} from './factor.service.ts';
export {
  AUTH0_FACTOR_TYPES,
  CODE_FACTOR_TYPES,
  ENROLLABLE_FACTOR_TYPES,
  fromAuth0FactorType,
  isFactorType,
  isWebAuthnType,
  SECOND_FACTOR_TYPES,
  WEBAUTHN_FACTOR_TYPES,
  type Auth0FactorType,
  type ChallengeContext,
  type CodeFactorType,
  type EnrollableFactorType,
  type Factor,
  type FactorChallenge,
  type FactorKinds,
  type FactorRegistry,
  type FactorResponse,
  type FactorType,
  type SentCodeChallenge,
  type WebAuthnFactorType,
} from './factor.ts';
export type { AuthFactorsTable, FactorChallengesTable, FactorEnrollmentLinksTable, PendingAuthenticationsTable, RecoveryCodesTable } from './factor.table.ts';
export { ENROLLMENT_LINK_TTL_MS, ENROLLMENT_PATH } from './enrollment-links.ts';
export { authFactorObject, toWireFactor } from './management.routes.ts';
export { normalizeRecoveryCode, RECOVERY_CODE_COUNT } from './recovery-codes/recovery-codes.factor.ts';
export { SENT_CODE_TTL_MS, type CodeDelivery, type VerificationCodeMessage } from './sent-code.ts';
export type { WebAuthnKind } from './webauthn/registration.ts';
export { factorsMigrations };
