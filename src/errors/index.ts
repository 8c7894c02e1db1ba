export { ERROR_CODES, PASSWORD_POLICY_CODES, type ErrorCode, type PasswordPolicyCode } from './codes.ts';
export { RekeyError, isRekeyError } from './rekey-error.ts';
export { installErrorHandling, surfaceOf, type ErrorSurface } from './to-http.ts';
