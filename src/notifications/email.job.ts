import { z } from 'zod';
import { PermanentDeliveryError, type Channel } from '../delivery/index.ts';
import { defineJob, type Job } from '../platform/module.ts';
import type { Tokens } from '../platform/tokens.ts';
import type { MailTemplates } from './mail-templates.ts';

/** The outbox kind of a mail. */
export const EMAIL = 'email';

/** Branding a mail shows: the application's own, or the default's. */
export interface MailBranding {
  name: string;
  logo_url: string | null;
  brand_color: string | null;
}

const branding = z.object({ name: z.string(), logo_url: z.string().nullable(), brand_color: z.string().nullable() }).partial();
/** `user.email` defaults to the recipient. */
const recipient = z.object({ email: z.string().optional(), first_name: z.string().nullish() });
const envelope = {
  to: z.string().min(1),
  applicationId: z.string().nullish(),
  /** The hosted page's language, else the user's; picks the mail's language (see `mailLang`). */
  locale: z.string().nullish(),
};
const commonData = { app: branding.optional(), user: recipient.optional() };

/**
 * One schema per template in `templates/`, each with the variables it renders. Values that are not secret
 * sit in `data`; a link with a token or a code sits in `sealed`, sealed with `tokens.seal`, and is wiped from
 * the row once sent.
 */
export const emailJobSchema = z.discriminatedUnion('template', [
  z.object({
    template: z.literal('password-reset'),
    ...envelope,
    data: z.object({ ...commonData, expires_in_minutes: z.number().positive() }),
    sealed: z.union([z.object({ link: z.string() }), z.object({ code: z.string() })]),
  }),
  z.object({
    template: z.literal('password-changed'),
    ...envelope,
    data: z.object({
      ...commonData,
      changed_at: z.string(),
      ip_address: z.string().nullable(),
      user_agent: z.string().nullable(),
      help_url: z.string(),
    }),
  }),
  z.object({
    template: z.literal('reset-unknown-account'),
    ...envelope,
    data: z.object({ ...commonData, help_url: z.string() }),
  }),
]);

/** A mail job: the template names its variables, so a caller cannot queue an unknown template or miss one. */
export type EmailJob = z.infer<typeof emailJobSchema>;
export type MailTemplateName = EmailJob['template'];

export interface EmailJobDeps {
  templates: MailTemplates;
  channel: Channel;
  tokens: Pick<Tokens, 'unseal'>;
  /** The From header of every mail (config `mailFrom`). */
  mailFrom: string;
  /** Looks up the branding of the job's application; `undefined` falls back to `defaultApp`. */
  resolveApp?: (applicationId: string) => Promise<MailBranding | undefined>;
  /** @default { name: 'Rekey', logo_url: null, brand_color: null } */
  defaultApp?: MailBranding;
}

/**
 * The `email` job: opens the sealed values, renders and sends.
 * The plain link or code lives only in this call's memory; the row keeps it sealed until the
 * dispatcher wipes it.
 */
export function createEmailJob(deps: EmailJobDeps): Job<EmailJob> {
  const fallback: MailBranding = deps.defaultApp ?? { name: 'Rekey', logo_url: null, brand_color: null };

  return defineJob(emailJobSchema, async (job, row) => {
    const secrets: Record<string, string> = {};
    for (const [key, sealed] of Object.entries('sealed' in job ? job.sealed : {})) {
      const plain = deps.tokens.unseal(sealed);
      // Sealed under another server secret (rotated) or tampered with: no retry will ever open it.
      if (plain === undefined) throw new PermanentDeliveryError(`sealed value "${key}" cannot be unsealed`);
      secrets[key] = plain;
    }

    const resolved = job.applicationId && deps.resolveApp ? await deps.resolveApp(job.applicationId) : undefined;
    const vars: Record<string, unknown> = {
      ...job.data,
      app: resolved ?? { ...fallback, ...job.data.app },
      user: { email: job.to, ...job.data.user },
      ...secrets,
    };

    let rendered: Awaited<ReturnType<MailTemplates['render']>>;
    try {
      // The job's locale (the hosted page's language, else the user's) picks the mail's language.
      rendered = await deps.templates.render(job.template, vars, job.locale);
    } catch (error) {
      // Rendering is deterministic: a missing template file or a bad variable fails the same way every time.
      throw new PermanentDeliveryError(`cannot render mail template "${job.template}": ${(error as Error).message}`);
    }
    const mail = { to: job.to, from: deps.mailFrom, ...rendered, outboxId: row.id };
    if (deps.channel.write) return [deps.channel.write(mail)];
    await deps.channel.send(mail);
  });
}
