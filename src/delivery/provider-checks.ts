import type { Config } from '../config/schema.ts';
import { systemClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { scrubError } from './dispatcher.ts';
import { buildProvider, planProviders, type PlannedProvider } from './providers.ts';

/** One provider's check, fit to print: a description and a reason, never a credential. */
export interface ProviderCheck {
  channel: PlannedProvider['channel'];
  role: PlannedProvider['role'];
  /** Where it is configured: `providers.sms.primary`, `smtpUrl`, `development mailbox`. */
  source: string;
  /** `SMTP smtps://smtp.example.com:465`, `Twilio-compatible API https://api.twilio.com (account …1234)`. */
  describe: string;
  ok: boolean;
  /** Why it failed, scrubbed. */
  error?: string;
}

/**
 * Checks every configured provider through its `check()` (SMTP: connect and greet; Twilio: fetch the account,
 * which proves the credentials; an HTTP provider or a webhook: the endpoint answers), each with a deadline and
 * without a pool. Nothing is sent. A channel with no provider in production is reported with no check.
 */
export async function checkProviders(config: Config, opts: { timeoutMs: number }): Promise<ProviderCheck[]> {
  const plan = planProviders(config);
  const planned: PlannedProvider[] = [...plan.email, ...plan.sms, ...plan.chat];
  return Promise.all(
    planned.map(async (provider): Promise<ProviderCheck> => {
      // No store: a development mailbox is only described, and there is nothing to reach.
      const port = buildProvider(provider, { clock: systemClock, ids: createIds() }, { pool: false, connectTimeoutMs: Math.min(5_000, opts.timeoutMs) });
      const base = { channel: provider.channel, role: provider.role, source: provider.source, describe: port.describe?.() ?? port.id };
      try {
        await withDeadline(port.check?.() ?? Promise.resolve(), opts.timeoutMs);
        return { ...base, ok: true };
      } catch (error) {
        return { ...base, ok: false, error: scrubError(error) };
      } finally {
        await port.close?.();
      }
    }),
  );
}

function withDeadline(work: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
