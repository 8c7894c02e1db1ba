import { z } from 'zod';

/**
 * The message providers, per channel: a primary and an optional fallback that is tried, in the same delivery
 * attempt, when the primary fails. Any string value may be given as `{ "env": "NAME" }` to read it from that
 * environment variable instead, so a config file can name credentials without holding them.
 */

/** A credential: never logged, never printed by `rekey doctor`. */
const secret = () => z.string().min(1);
const httpUrl = () => z.url({ protocol: /^https?$/ });
/** Per-request timeout of an HTTP provider. */
const timeoutMs = () => z.number().int().min(100).max(120_000).default(10_000);
/** Names the provider in logs and in each message's activity. @default its `type` */
const providerId = () =>
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/i, 'letters, digits, `.`, `_` and `-` (at most 40)')
    .optional();
/** The header that carries an HTTP provider's secret: `Authorization` sends `Bearer <secret>`, any other the secret as is. */
const secretHeader = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name')
    .default('authorization');

export const smtpProvider = z.strictObject({
  type: z.literal('smtp'),
  id: providerId(),
  /** `smtp://user:pass@host:port` or `smtps://…`. */
  url: z.url({ protocol: /^smtps?$/ }),
  /** Connections kept open to the server. */
  maxConnections: z.number().int().min(1).max(100).default(5),
});

export const httpEmailProvider = z.strictObject({
  type: z.literal('http'),
  id: providerId(),
  /** Receives `POST {from, to, subject, text, html}` as JSON. */
  url: httpUrl(),
  secret: secret(),
  header: secretHeader(),
  timeoutMs: timeoutMs(),
});

export const twilioProvider = z
  .strictObject({
    type: z.literal('twilio'),
    id: providerId(),
    /** `AC…`: the account the messages are sent from (part of the API path). */
    accountSid: z.string().min(1),
    /** The account's auth token, or the secret of `apiKeySid`. */
    authToken: secret(),
    /** Sign in with an API key (`SK…`) instead of the account sid. */
    apiKeySid: z.string().min(1).optional(),
    /** Sender number (E.164) or alphanumeric sender id; a message's own `from` wins. */
    from: z.string().min(1).optional(),
    /** Send through a messaging service (`MG…`) instead of a `from` number. */
    messagingServiceSid: z.string().min(1).optional(),
    /** A Twilio-compatible API elsewhere (a regional edge, a test server). */
    baseUrl: httpUrl().default('https://api.twilio.com'),
    timeoutMs: timeoutMs(),
  })
  .refine((p) => p.from || p.messagingServiceSid, { message: 'needs `from` or `messagingServiceSid`', path: ['from'] });

export const httpSmsProvider = z.strictObject({
  type: z.literal('http'),
  id: providerId(),
  /** Receives `POST {from, to, text}` as JSON. */
  url: httpUrl(),
  secret: secret(),
  header: secretHeader(),
  from: z.string().min(1).optional(),
  timeoutMs: timeoutMs(),
});

export const chatWebhookProvider = z.strictObject({
  type: z.literal('webhook'),
  id: providerId(),
  /** Receives the signed JSON POST. */
  url: httpUrl(),
  /** Standard Webhooks signing secret, `whsec_` and base64 (24 to 64 random bytes). */
  secret: z.string().regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'a Standard Webhooks secret: `whsec_` then base64 of 24 to 64 bytes'),
  timeoutMs: timeoutMs(),
});

const pair = <T extends z.ZodType>(provider: T) => z.strictObject({ primary: provider, fallback: provider.optional() });

export const emailProvider = z.discriminatedUnion('type', [smtpProvider, httpEmailProvider]);
export const smsProvider = z.discriminatedUnion('type', [twilioProvider, httpSmsProvider]);

export const providersSchema = z.strictObject({
  email: pair(emailProvider).optional(),
  sms: pair(smsProvider).optional(),
  chat: pair(chatWebhookProvider).optional(),
});

export type ProvidersConfig = z.output<typeof providersSchema>;
export type EmailProviderConfig = z.output<typeof emailProvider>;
export type SmsProviderConfig = z.output<typeof smsProvider>;
export type ChatProviderConfig = z.output<typeof chatWebhookProvider>;
export type ProviderChannel = keyof ProvidersConfig;

export class EnvReferenceError extends Error {
  override name = 'EnvReferenceError';
  constructor(
    readonly path: string,
    readonly variable: string,
  ) {
    super(`${path}: the environment variable ${variable} is not set`);
  }
}

/** `{ "env": "NAME" }` anywhere under `providers`, replaced by that variable's value (an error names both if unset). */
export function resolveEnvReferences(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (Array.isArray(value)) return value.map((item, i) => resolveEnvReferences(item, env, `${path}.${i}`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && entries[0]![0] === 'env' && typeof entries[0]![1] === 'string') {
    const name = entries[0]![1];
    const resolved = env[name];
    if (resolved === undefined || resolved === '') throw new EnvReferenceError(path, name);
    return resolved;
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveEnvReferences(item, env, `${path}.${key}`)]));
}

/** True for a loopback host, where plain http carries no credential across a network. */
export const isLoopbackUrl = (url: string): boolean => {
  const host = new URL(url).hostname;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(host) || host.endsWith('.localhost');
};

/** Every provider URL of the config, with where it sits (`providers.sms.fallback.url`). */
export function providerUrls(providers: ProvidersConfig | undefined): Array<{ path: string; url: string }> {
  const urls: Array<{ path: string; url: string }> = [];
  for (const [channel, pairConfig] of Object.entries(providers ?? {})) {
    for (const [role, provider] of Object.entries(pairConfig ?? {})) {
      if (!provider) continue;
      const url = 'url' in provider ? provider.url : 'baseUrl' in provider ? provider.baseUrl : undefined;
      if (url) urls.push({ path: `providers.${channel}.${role}.${'url' in provider ? 'url' : 'baseUrl'}`, url });
    }
  }
  return urls;
}
