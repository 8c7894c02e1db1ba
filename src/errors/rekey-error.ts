import { ERROR_CODES, type ErrorCode } from './codes.ts';

/** The one error type of Rekey. The HTTP edge (`to-http.ts`) alone decides status and body. */
export class RekeyError extends Error {
  override name = 'RekeyError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    /** Safe, non-secret facts for the caller (never a token, code or password). */
    readonly context: Record<string, unknown> = {},
    message?: string,
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.status = ERROR_CODES[code].status;
  }
}

export const isRekeyError = (value: unknown): value is RekeyError => value instanceof RekeyError;
