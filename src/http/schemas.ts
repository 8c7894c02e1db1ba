import { z } from 'zod';

/** Shared wire pieces. Each route declares its own body next to its handler. */
export const emailField = z.email().max(320);
/** Passwords are checked by the policy (length in code points, blocklist); this only bounds the input. */
export const passwordField = z.string().min(1).max(4096);
export const idParam = (prefix: string) =>
  z.strictObject({ id: z.string().regex(new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`), `must be a ${prefix}_ id`) });
export const metadataField = z.record(z.string().max(40), z.string().max(500)).refine((m) => Object.keys(m).length <= 50, 'at most 50 keys');

export const managementError = z
  .object({ code: z.string(), message: z.string(), errors: z.array(z.object({ code: z.string(), message: z.string() })).optional() })
  .meta({ id: 'ManagementError' });
