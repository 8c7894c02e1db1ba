import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UAParser } from 'ua-parser-js';
import { z } from 'zod';
import { isWebUrl } from '../content.ts';
import type { StepContent, StepDefinition, Workflow } from '../workflow.ts';

const TEMPLATES = fileURLToPath(new URL('../templates/', import.meta.url));

/** Ids of the workflows Rekey triggers itself. */
export const BUILTIN = {
  passwordReset: 'password-reset',
  passwordResetCode: 'password-reset-code',
  passwordChanged: 'password-changed',
  emailVerification: 'email-verification',
  newSignIn: 'new-sign-in',
  resetUnknownAccount: 'reset-unknown-account',
  verificationCode: 'verification-code',
} as const;

const webUrl = z.string().max(4_096).refine(isWebUrl, 'must be an http(s) URL');
const minutes = z.number().int().positive().max(100_000);
const when = z.string().datetime({ offset: true });
const code = z.string().regex(/^[0-9A-Za-z-]{4,12}$/, 'must be 4 to 12 letters or digits');

/** The browser and the system a user agent names (a device's maker and model when it names no system). */
function deviceParts(userAgent: string | null | undefined): { browser: string | null; os: string | null } {
  if (!userAgent) return { browser: null, os: null };
  const { browser, os, device } = new UAParser(userAgent.slice(0, 1_000)).getResult();
  const system = os.name ?? (device.vendor && device.model ? `${device.vendor} ${device.model}` : undefined);
  return { browser: browser.name ?? null, os: system ?? null };
}

/** "Firefox on Linux": the device of a user agent in words, or null when it names neither browser nor system. */
export function describeDevice(userAgent: string | null | undefined): string | null {
  const { browser, os } = deviceParts(userAgent);
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os;
}

/**
 * A sign-in or a change as the notice describes it: the raw user agent comes in, the device goes out in words
 * (`device`, English) and in parts (`browser`, `os`) for a template in another language to join its own way.
 */
const seenFrom = z
  .object({
    ipAddress: z.string().max(100).nullish(),
    userAgent: z.string().max(2_000).nullish(),
    helpUrl: webUrl,
  })
  .transform((value) => {
    const { browser, os } = deviceParts(value.userAgent);
    return { ...value, browser, os, device: browser && os ? `${browser} on ${os}` : (browser ?? os) };
  });

const schemas = {
  // Novu's password-reset snippet sends `firstName`, `resetUrl` and `expiresInMinutes`: the same payload works here.
  [BUILTIN.passwordReset]: z.looseObject({ resetUrl: webUrl, expiresInMinutes: minutes, firstName: z.string().max(200).nullish() }),
  [BUILTIN.passwordResetCode]: z.looseObject({ code, expiresInMinutes: minutes, firstName: z.string().max(200).nullish() }),
  [BUILTIN.passwordChanged]: z.intersection(z.object({ changedAt: when }), seenFrom).transform((v) => v as Record<string, unknown>),
  [BUILTIN.emailVerification]: z
    .looseObject({ verificationUrl: webUrl.optional(), code: code.optional(), expiresInMinutes: minutes })
    .refine((v) => v.verificationUrl !== undefined || v.code !== undefined, 'needs verificationUrl or code'),
  [BUILTIN.newSignIn]: z.intersection(z.object({ signedInAt: when }), seenFrom).transform((v) => v as Record<string, unknown>),
  [BUILTIN.resetUnknownAccount]: z.looseObject({ helpUrl: webUrl }),
  [BUILTIN.verificationCode]: z.looseObject({ code, channel: z.enum(['email', 'sms']), expiresInMinutes: minutes, purpose: z.string().max(64).optional() }),
} satisfies Record<string, z.ZodType<Record<string, unknown>>>;

/** The content shipped in `templates/<dir>/<step type>.<lang>.<part>.liquid`, by language. */
export function builtinContent(dir: string, stepType: string): Record<string, StepContent> {
  const content: Record<string, StepContent> = {};
  for (const file of readdirSync(`${TEMPLATES}${dir}`)) {
    const match = /^([a-z_]+)\.([a-z]{2}(?:-[A-Za-z]{2})?)\.(subject|body|text)\.liquid$/.exec(file);
    if (!match || match[1] !== stepType) continue;
    const [, , lang, part] = match as unknown as [string, string, string, keyof StepContent];
    (content[lang] ??= {})[part] = readFileSync(`${TEMPLATES}${dir}/${file}`, 'utf8');
  }
  return content;
}

export const layoutSource = (): string => readFileSync(`${TEMPLATES}layout.html.liquid`, 'utf8');

const email = (dir: string, extra: Partial<StepDefinition> = {}): StepDefinition =>
  ({ stepId: 'email', type: 'email', content: builtinContent(dir, 'email'), ...extra }) as StepDefinition;

const builtin = (workflowId: string, name: string, critical: boolean, steps: StepDefinition[], description: string): Workflow => ({
  workflowId,
  name,
  description,
  critical,
  active: true,
  tags: ['rekey'],
  steps,
  origin: 'builtin',
  payloadSchema: schemas[workflowId as keyof typeof schemas] as z.ZodType<Record<string, unknown>>,
});

const onChannel = (channel: string) => ({ '==': [{ var: 'payload.channel' }, channel] });

/** Every message Rekey sends goes through one of these; operators may replace their content, not their steps. */
export function builtinWorkflows(): Workflow[] {
  return [
    builtin(BUILTIN.passwordReset, 'Password reset link', true, [email('password-reset')], 'The link that lets a user choose a new password.'),
    builtin(BUILTIN.passwordResetCode, 'Password reset code', true, [email('password-reset')], 'The code a user types on the reset page.'),
    builtin(BUILTIN.passwordChanged, 'Password changed', true, [email('password-changed')], 'Sent after every password change (SEC-39).'),
    builtin(BUILTIN.emailVerification, 'Email verification', true, [email('email-verification')], 'Confirms that an address belongs to the user.'),
    builtin(BUILTIN.newSignIn, 'New sign-in', false, [email('new-sign-in')], 'A sign-in to the account; the user may turn it off.'),
    builtin(
      BUILTIN.resetUnknownAccount,
      'No account for this address',
      true,
      [email('reset-unknown-account')],
      'Answers a reset asked for an address without an account (notifyUnknownRecipients).',
    ),
    builtin(
      BUILTIN.verificationCode,
      'Verification code',
      true,
      [
        email('verification-code', { condition: onChannel('email') }),
        { stepId: 'sms', type: 'sms', condition: onChannel('sms'), content: builtinContent('verification-code', 'sms') },
      ],
      'A one-time code for a second factor, by email or SMS as the payload says.',
    ),
  ];
}
