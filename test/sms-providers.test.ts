import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProvider, twilioAnswer, type TestProvider } from '../src/delivery/testing.ts';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from './support/harness.ts';

const AUTH_TOKEN = 'twilio-auth-token-never-logged';

/**
 * An SMS from the engine to Twilio-compatible servers over real HTTP: a second-factor code, triggered through its
 * workflow and carried by the dispatcher, goes to the fallback when the primary is down.
 */
for (const factory of STORES) {
  describe(`${factory.name}: SMS through Twilio-compatible providers`, () => {
    let primary: TestProvider;
    let fallback: TestProvider;
    let h: Harness;
    const twilio = (id: string, baseUrl: string) => ({
      type: 'twilio' as const,
      id,
      accountSid: 'AC0123',
      authToken: AUTH_TOKEN,
      from: '+15550001111',
      baseUrl,
    });

    beforeAll(async () => {
      primary = await startTestProvider(() => ({ status: 503, body: { code: 20500, message: 'Internal Server Error' } }));
      fallback = await startTestProvider(twilioAnswer);
      h = await createHarness(factory, { config: { providers: { sms: { primary: twilio('sms-a', primary.url), fallback: twilio('sms-b', fallback.url) } } } });
    });
    afterAll(async () => {
      await h?.close();
      await primary?.close();
      await fallback?.close();
    });

    it('a second-factor code reaches the fallback Twilio server as the text the user reads, and works; nothing in the mailbox, no credential or text in the logs', async () => {
      const api = managementApi(h);
      const user = await api.createUser(`texted.${factory.name}@example.com`, `${GOOD_PASSWORD} sms`);
      const phone = `+1415888${factory.name === 'sqlite' ? 1 : 2}001`;
      expect((await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'sms', phone_number: phone })).statusCode).toBe(201);

      await h.rekey.factors.challenge(user.id, 'sms', { locale: 'en' });
      await h.deliver();
      await h.deliver();

      expect(primary.requests).toHaveLength(1);
      expect(fallback.requests).toHaveLength(1);
      const [request] = fallback.requests;
      expect(request!.method).toBe('POST');
      expect(request!.path).toBe('/2010-04-01/Accounts/AC0123/Messages.json');
      expect(request!.headers.authorization).toBe(`Basic ${Buffer.from(`AC0123:${AUTH_TOKEN}`).toString('base64')}`);
      const form = new URLSearchParams(request!.body);
      expect({ to: form.get('To'), from: form.get('From') }).toEqual({ to: phone, from: '+15550001111' });
      const body = form.get('Body')!;
      expect(body).toContain('verification code');
      const code = body.match(/\b(\d{6})\b/)?.[1];
      expect(code).toBeDefined();
      expect(await h.rekey.factors.verifyResponse(user.id, 'sms', code!)).toBe(true);

      expect(await h.rekey.dispatcher.stats()).toMatchObject({ pending: 0, dead: 0 });
      expect(await h.mailbox(phone)).toEqual([]);
      const logs = h.logs.join('');
      expect(logs).toContain('delivery.failover');
      expect(logs).not.toContain(AUTH_TOKEN);
      expect(logs).not.toContain(body);
    });
  });
}
