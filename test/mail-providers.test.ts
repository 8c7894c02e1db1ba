import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProvider, type TestProvider } from '../src/delivery/testing.ts';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from './support/harness.ts';

const SECRET = 'mail-api-secret-never-logged';

/** The reset mail through configured providers: an HTTP email API whose primary fails over to a second one. */
for (const factory of STORES) {
  describe(`${factory.name}: mail through HTTP email providers`, () => {
    let primary: TestProvider;
    let fallback: TestProvider;
    let h: Harness;

    beforeAll(async () => {
      primary = await startTestProvider(() => ({ status: 503, body: { message: 'maintenance' } }));
      fallback = await startTestProvider(() => ({ status: 202, body: { id: 'em_1' } }));
      h = await createHarness(factory, {
        config: {
          providers: {
            email: {
              primary: { type: 'http', id: 'mail-a', url: `${primary.url}/send`, secret: SECRET },
              fallback: { type: 'http', id: 'mail-b', url: `${fallback.url}/send`, secret: SECRET, header: 'X-Api-Key' },
            },
          },
        },
      });
    });
    afterAll(async () => {
      await h?.close();
      await primary?.close();
      await fallback?.close();
    });

    it('the reset mail goes to the fallback when the primary is down, link included; no credential in the logs', async () => {
      const api = managementApi(h);
      await api.createUser('http.mail@example.com', `${GOOD_PASSWORD} http`);
      const { password_reset_token: token } = await api.resetToken('http.mail@example.com');
      await h.deliver();

      expect(primary.requests).toHaveLength(1);
      expect(fallback.requests).toHaveLength(1);
      const [request] = fallback.requests;
      expect(request!.headers['x-api-key']).toBe(SECRET);
      const body = JSON.parse(request!.body) as Record<string, string>;
      expect(body.to).toBe('http.mail@example.com');
      expect(body.text).toContain(`token=${token}`);
      expect(body.html).toContain('<');
      expect(await h.rekey.dispatcher.stats()).toMatchObject({ pending: 0, dead: 0 });
      expect(await h.mailbox()).toEqual([]);
      const logs = h.logs.join('');
      expect(logs).toContain('delivery.failover');
      expect(logs).not.toContain(SECRET);
      expect(logs).not.toContain(token);
    });
  });
}
