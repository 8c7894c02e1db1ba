import { z } from 'zod';
import { RekeyError } from '../../errors/index.ts';

/**
 * A subscriber id: 1–128 characters of letters, digits and `_ - . @ : + = |` (user ids, UUIDs, numbers and
 * email addresses fit), with at least one letter or digit. Nothing that changes meaning in a URL path.
 */
export const SUBSCRIBER_ID = /^(?=.*[A-Za-z0-9])[A-Za-z0-9_.@:+=|-]{1,128}$/;
/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{1,14}$/;

export const subscriberIdField = z.string().regex(SUBSCRIBER_ID, 'must be 1–128 characters: letters, digits and _ - . @ : + = |');
export const phoneField = z.string().regex(E164, 'must be an E.164 number such as +14155550123');

/** The largest `data` object kept with a subscriber, as JSON text. */
export const MAX_DATA_BYTES = 16 * 1024;

const dataField = z
  .record(z.string().max(100), z.unknown())
  .refine((data) => Buffer.byteLength(JSON.stringify(data)) <= MAX_DATA_BYTES, `must be at most ${MAX_DATA_BYTES} bytes as JSON`);

/** The fields a caller may set, each nullable (null clears it on a patch); Novu's names. */
export const subscriberFields = {
  firstName: z.string().max(200).nullable(),
  lastName: z.string().max(200).nullable(),
  email: z.email().max(320).nullable(),
  phone: phoneField.nullable(),
  avatar: z.string().max(2048).nullable(),
  locale: z.string().max(35).nullable(),
  timezone: z.string().max(64).nullable(),
  data: dataField.nullable(),
};

export const subscriberInput = z.object({ subscriberId: subscriberIdField, ...z.object(subscriberFields).partial().shape });
export type SubscriberInput = z.input<typeof subscriberInput>;
export const subscriberPatch = z.object(subscriberFields).partial();
export type SubscriberPatch = z.infer<typeof subscriberPatch>;

/** The error code of each field whose refusal has a code of its own. */
const FIELD_CODES = { subscriberId: 'invalid_subscriber_id', phone: 'invalid_phone' } as const;

/** Parses with `schema`, or throws the first bad field's stable code (`invalid_phone`, `invalid_subscriber_id`, else `invalid_request_parameters`). */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.') || 'body';
  const code = FIELD_CODES[field as keyof typeof FIELD_CODES] ?? 'invalid_request_parameters';
  throw new RekeyError(code, { field }, `${field} ${issue.message}`);
}

const idOnly = z.object({ subscriberId: subscriberIdField });
export const checkSubscriberId = (subscriberId: unknown): string => parseOrThrow(idOnly, { subscriberId }).subscriberId;
