import { z } from 'zod';

/** Shared wire pieces. Each route declares its own body next to its handler. */
export const emailField = z.email().max(320);
/** Passwords are checked by the policy (length in code points, blocklist); this only bounds the input. */
export const passwordField = z.string().min(1).max(4096);
export const idParam = (prefix: string) =>
  z.strictObject({ id: z.string().regex(new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`), `must be a ${prefix}_ id`) });
export const metadataField = z.record(z.string().max(40), z.string().max(500)).refine((m) => Object.keys(m).length <= 50, 'at most 50 keys');

export const MANAGEMENT_ERROR_ID = 'ManagementError';
export const BROWSER_ERROR_ID = 'BrowserError';
export const NOVU_ERROR_ID = 'NovuError';

/** The management API's error body (WorkOS's shape). Loose: an error adds its own facts (`entity_id`, `pending_authentication_token`…). */
export const managementError = z
  .looseObject({
    code: z.string().describe('A stable code (docs/api.md); never renamed once shipped.'),
    message: z.string(),
    errors: z.array(z.looseObject({ code: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: MANAGEMENT_ERROR_ID, description: 'An error of the management API. Extra fields depend on the code.' });

/** The browser API's error body (Novel's shape). */
export const browserError = z
  .object({
    error: z.object({
      code: z.string().describe('A stable code (docs/api.md); never renamed once shipped.'),
      message: z.string(),
      context: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ id: BROWSER_ERROR_ID, description: 'An error of the browser API.' });

/** The Novu-compatible API's error body: Novu's `ErrorDto` (422: `ValidationErrorDto`) with Rekey's stable `code`. */
export const novuError = z
  .looseObject({
    statusCode: z.number(),
    timestamp: z.string(),
    path: z.string(),
    message: z.string(),
    code: z.string().describe('A stable code (docs/api.md); never renamed once shipped.'),
    errors: z.record(z.string(), z.object({ messages: z.array(z.string()) })).optional(),
  })
  .meta({ id: NOVU_ERROR_ID, description: 'An error of the Novu-compatible API (`/v1/events…`, `/v1/notifications…`, `/v2/…`).' });
