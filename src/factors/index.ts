/** The factors module's door: second factors behind the `Factor` port (TOTP today) and the pending-authentication step of a login. */
import { defineModule } from '../platform/module.ts';
import { createFactorsModule } from './factors.module.ts';
import { factorsMigrations } from './migrations.ts';

export { createFactorsModule, type FactorsModule } from './factors.module.ts';
export const factorsModule = defineModule('factors', factorsMigrations, createFactorsModule);

export {
  MFA_MAX_ATTEMPTS,
  PENDING_AUTHENTICATION_TTL_MS,
  type AuthFactor,
  type Enrolled,
  type EnrolledTotp,
  type FactorChangeHook,
  type FactorService,
  type MfaLoginContext,
} from './factor.service.ts';
export { SECOND_FACTOR_TYPES, type Factor, type FactorKinds, type FactorRegistry, type FactorType } from './factor.ts';
export type { AuthFactorsTable, PendingAuthenticationsTable } from './factor.table.ts';
export { authFactorObject, toWireFactor } from './management.routes.ts';
export { factorsMigrations };
