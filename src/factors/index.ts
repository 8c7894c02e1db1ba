/** The factors module's door: second factors (TOTP) and the pending-authentication step of a login. */
export {
  createFactorService,
  MFA_MAX_ATTEMPTS,
  PENDING_AUTHENTICATION_TTL_MS,
  type AuthFactor,
  type EnrolledTotp,
  type FactorService,
  type MfaLoginContext,
} from './factor.service.ts';
export { authFactorObject, factorManagementRoutes, toWireFactor, type FactorRouteOptions } from './management.routes.ts';
export { factorsMigrations } from './migrations.ts';
