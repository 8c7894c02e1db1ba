import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ChatProviderConfig, EmailProviderConfig, ProviderChannel, SmsProviderConfig } from '../config/providers.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../platform/clock.ts';
import type { Ids } from '../platform/ids.ts';
import type { Database } from '../store/database.ts';
import type { Channel, ChatChannel, Port, SmsChannel } from './channel.ts';
import { createChatWebhookChannel } from './channels/chat-webhook.ts';
import { createDevMailboxChannel, createDevMailboxChatChannel, createDevMailboxSmsChannel } from './channels/dev-mailbox.ts';
import { withFallback } from './channels/fallback.ts';
import { createHttpEmailChannel } from './channels/http-email.ts';
import { createHttpSmsChannel } from './channels/http-sms.ts';
import { createTwilioChannel } from './channels/twilio.ts';
import { createSmtpChannel } from './channels/smtp.ts';
import { PermanentDeliveryError } from './dispatcher.ts';

/** The built channels the engine's steps send through. */
export interface Channels {
  email: Channel;
  sms: SmsChannel;
  chat: ChatChannel;
}

export interface ChannelDeps {
  /** The store the development mailbox writes to; without it (the doctor) it is only described. */
  db?: Kysely<Database>;
  clock: Clock;
  ids: Ids;
  logger?: Logger;
}

type ProviderSpec<C extends ProviderChannel> = C extends 'email' ? EmailProviderConfig : C extends 'sms' ? SmsProviderConfig : ChatProviderConfig;

/** One configured provider, where it sits in the configuration, and how to build it. */
export interface PlannedProvider<C extends ProviderChannel = ProviderChannel> {
  channel: C;
  role: 'primary' | 'fallback' | 'development';
  /** `providers.sms.primary`, `smtpUrl`, or `development mailbox`. */
  source: string;
  spec?: ProviderSpec<C>;
}

/**
 * What each channel sends through, read from the configuration: `providers.<channel>`, else (email) `smtpUrl`,
 * else, outside production, the development mailbox. In production a channel with no provider has none: its
 * messages are dead-lettered with a reason (SEC-43, nothing leaves for a provider nobody configured), and
 * loadConfig has already refused to start without an email provider.
 */
export function planProviders(config: Config): { [C in ProviderChannel]: PlannedProvider<C>[] } {
  type Pair<C extends ProviderChannel> = { primary: ProviderSpec<C>; fallback?: ProviderSpec<C> | undefined };
  const plan = <C extends ProviderChannel>(channel: C, configured: Pair<C> | undefined, primarySource = `providers.${channel}.primary`) => {
    if (!configured) return config.env === 'production' ? [] : [{ channel, role: 'development' as const, source: 'development mailbox' }];
    const providers: PlannedProvider<C>[] = [{ channel, role: 'primary', source: primarySource, spec: configured.primary }];
    if (configured.fallback) providers.push({ channel, role: 'fallback', source: `providers.${channel}.fallback`, spec: configured.fallback });
    return providers;
  };
  const { providers } = config;
  return {
    email: providers?.email
      ? plan('email', providers.email)
      : plan('email', config.smtpUrl ? { primary: { type: 'smtp', url: config.smtpUrl, maxConnections: 5 } } : undefined, 'smtpUrl'),
    sms: plan('sms', providers?.sms),
    chat: plan('chat', providers?.chat),
  };
}

/** Builds one planned provider. Unless configured, its id is its type's, with `-fallback` for a fallback (a primary and its fallback may share a type). */
export function buildProvider<C extends ProviderChannel>(
  planned: PlannedProvider<C>,
  deps: ChannelDeps,
  opts: { pool?: boolean; connectTimeoutMs?: number } = {},
): Port<never> {
  const { spec } = planned;
  const suffix = planned.role === 'fallback' ? '-fallback' : '';
  if (!spec) return developmentPort(planned.channel, deps);
  switch (spec.type) {
    case 'smtp':
      return createSmtpChannel(spec.url, {
        id: spec.id ?? `smtp${suffix}`,
        maxConnections: spec.maxConnections,
        pool: opts.pool ?? true,
        ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      }) as Port<never>;
    case 'http':
      return (
        planned.channel === 'email'
          ? createHttpEmailChannel({ ...spec, id: spec.id ?? `http-email${suffix}` })
          : createHttpSmsChannel({ ...(spec as Extract<SmsProviderConfig, { type: 'http' }>), id: spec.id ?? `http-sms${suffix}` })
      ) as Port<never>;
    case 'twilio':
      return createTwilioChannel({ ...spec, id: spec.id ?? `twilio${suffix}` }) as Port<never>;
    case 'webhook':
      return createChatWebhookChannel({ ...spec, id: spec.id ?? `chat-webhook${suffix}` }, deps) as Port<never>;
  }
}

function developmentPort(channel: ProviderChannel, deps: ChannelDeps): Port<never> {
  if (!deps.db) return { id: 'dev-mailbox', send: async () => undefined, check: async () => {}, describe: () => 'the development mailbox (kept, not sent)' };
  const mailbox = { db: deps.db, clock: deps.clock, ids: deps.ids };
  const port =
    channel === 'email' ? createDevMailboxChannel(mailbox) : channel === 'sms' ? createDevMailboxSmsChannel(mailbox) : createDevMailboxChatChannel(mailbox);
  return port as Port<never>;
}

/** A channel nobody configured (production): every message is refused for good, with the setting to fix. */
function unconfigured<M>(channel: ProviderChannel): Port<M> {
  return {
    id: 'none',
    async send() {
      throw new PermanentDeliveryError(`no ${channel} provider is configured (providers.${channel})`);
    },
    describe: () => 'none configured',
  };
}

/** The email, SMS and chat channels of this configuration, each its primary with its fallback. */
export function createChannels(config: Config, deps: ChannelDeps & { db: Kysely<Database> }): Channels {
  const plan = planProviders(config);
  const build = <M>(channel: ProviderChannel): Port<M> => {
    const [primary, fallback] = plan[channel].map((planned) => buildProvider(planned, deps) as Port<M>);
    return primary ? withFallback(primary, fallback, deps.logger) : unconfigured<M>(channel);
  };
  return { email: build('email'), sms: build('sms'), chat: build('chat') };
}

/** Where each channel's messages go, for the startup banner and the doctor: never a credential. */
export const describeChannels = (channels: Channels): Record<keyof Channels, string> => ({
  email: channels.email.describe?.() ?? channels.email.id,
  sms: channels.sms.describe?.() ?? channels.sms.id,
  chat: channels.chat.describe?.() ?? channels.chat.id,
});
