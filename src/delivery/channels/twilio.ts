import type { z } from 'zod';
import type { twilioProvider } from '../../config/providers.ts';
import type { SmsChannel } from '../channel.ts';
import { callProvider, idFrom } from './http.ts';

export type TwilioOptions = Omit<z.input<typeof twilioProvider>, 'type'>;

/**
 * Twilio's Messages API, or any API that speaks it: a form-encoded `POST {baseUrl}/2010-04-01/Accounts/{sid}/Messages.json`
 * with basic auth (the account sid, or an API key sid, and its secret), `To`, `Body` and `From` or
 * `MessagingServiceSid`. The answer's `sid` is the provider message id. A 4xx (a malformed number, a wrong
 * key) is permanent; a 429, a 5xx or no answer is retried.
 */
export function createTwilioChannel(opts: TwilioOptions): SmsChannel {
  const id = opts.id ?? 'twilio';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const base = (opts.baseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '');
  const account = `${base}/2010-04-01/Accounts/${encodeURIComponent(opts.accountSid)}`;
  const authorization = `Basic ${Buffer.from(`${opts.apiKeySid ?? opts.accountSid}:${opts.authToken}`).toString('base64')}`;
  return {
    id,
    async send(sms) {
      const form = new URLSearchParams({ To: sms.to, Body: sms.text });
      const from = sms.from ?? opts.from;
      if (from) form.set('From', from);
      if (opts.messagingServiceSid) form.set('MessagingServiceSid', opts.messagingServiceSid);
      const { json } = await callProvider(id, `${account}/Messages.json`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization },
        body: form.toString(),
        timeoutMs,
      });
      const providerMessageId = idFrom(json, ['sid']);
      return { provider: id, ...(providerMessageId ? { providerMessageId } : {}) };
    },
    // Fetching the account proves both the address and the credentials, and sends nothing.
    async check() {
      await callProvider(id, `${account}.json`, { method: 'GET', headers: { accept: 'application/json', authorization }, timeoutMs });
    },
    describe: () => `Twilio-compatible API ${base} (account …${opts.accountSid.slice(-4)})`,
  };
}
