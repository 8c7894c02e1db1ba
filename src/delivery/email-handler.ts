import type { MailTemplates } from '../notifications/mail-templates.ts';
import type { Tokens } from '../platform/tokens.ts';
import type { Channel } from './channel.ts';
import { PermanentDeliveryError, type OutboxHandler } from './dispatcher.ts';
import type { EmailJob } from './outbox.ts';

/** Branding a mail shows: the application's own, or the default's. */
export interface MailBranding {
  name: string;
  logo_url: string | null;
  brand_color: string | null;
}

export interface EmailHandlerDeps {
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
 * The handler of outbox kind `email`: opens the sealed values, renders and sends.
 * The plain link or code lives only in this call's memory; the row keeps it sealed until the
 * dispatcher wipes it.
 */
export function createEmailHandler(deps: EmailHandlerDeps): OutboxHandler {
  const fallback: MailBranding = deps.defaultApp ?? { name: 'Rekey', logo_url: null, brand_color: null };

  return async (payload, row) => {
    const job = asEmailJob(payload);
    const secrets: Record<string, string> = {};
    for (const [key, sealed] of Object.entries(job.sealed ?? {})) {
      const plain = typeof sealed === 'string' ? deps.tokens.unseal(sealed) : undefined;
      // Sealed under another server secret (rotated) or tampered with: no retry will ever open it.
      if (plain === undefined) throw new PermanentDeliveryError(`sealed value "${key}" cannot be unsealed`);
      secrets[key] = plain;
    }

    const resolved = job.applicationId && deps.resolveApp ? await deps.resolveApp(job.applicationId) : undefined;
    const given = isRecord(job.data.app) ? job.data.app : {};
    const user = isRecord(job.data.user) ? job.data.user : {};
    const vars: Record<string, unknown> = {
      ...job.data,
      app: resolved ?? { ...fallback, ...given },
      user: { email: job.to, ...user },
      ...secrets,
    };

    let rendered: Awaited<ReturnType<MailTemplates['render']>>;
    try {
      // The job's locale (the hosted page's language, else the user's) picks the mail's language.
      rendered = await deps.templates.render(job.template, vars, job.locale);
    } catch (error) {
      // Rendering is deterministic: an unknown template or a bad variable fails the same way every time.
      throw new PermanentDeliveryError(`cannot render mail template "${job.template}": ${(error as Error).message}`);
    }
    const mail = { to: job.to, from: deps.mailFrom, ...rendered, outboxId: row.id };
    if (deps.channel.write) return [deps.channel.write(mail)];
    await deps.channel.send(mail);
  };
}

function asEmailJob(payload: unknown): EmailJob {
  const job = payload as Partial<EmailJob> | null;
  if (!isRecord(job) || typeof job.template !== 'string' || typeof job.to !== 'string' || !job.to) {
    throw new PermanentDeliveryError('email job needs a template and a recipient');
  }
  if (job.sealed !== undefined && !isRecord(job.sealed)) throw new PermanentDeliveryError('email job has a malformed sealed map');
  return { ...job, data: isRecord(job.data) ? job.data : {} } as EmailJob;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
