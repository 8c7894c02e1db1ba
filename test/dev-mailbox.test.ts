import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from './support/harness.ts';

for (const factory of STORES) {
  describe(`${factory.name}: development mailbox`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(factory);
    });
    afterAll(() => h.close());

    it('lists captured mail newest first, as JSON and as a page', async () => {
      const api = managementApi(h);
      await api.createUser('first@example.com', `${GOOD_PASSWORD} a`);
      await api.createUser('second@example.com', `${GOOD_PASSWORD} b`);
      await api.resetToken('first@example.com');
      await h.deliver();
      h.clock.advance(1000);
      await api.resetToken('second@example.com');
      await h.deliver();

      const json = await h.app.inject({ method: 'GET', url: '/dev/mailbox/messages' });
      expect(json.statusCode).toBe(200);
      const { data } = json.json() as { data: Array<Record<string, string>> };
      expect(data.map((m) => m.to)).toEqual(['second@example.com', 'first@example.com']);
      for (const mail of data) {
        expect(Object.keys(mail).sort()).toEqual(['channel', 'created_at', 'from', 'html', 'id', 'subject', 'text', 'to']);
        expect(mail.channel).toBe('email');
        expect(mail.text).toContain('/reset/verify?token=');
      }
      const filtered = await h.app.inject({ method: 'GET', url: '/dev/mailbox/messages?to=first@example.com' });
      expect(filtered.json().data).toHaveLength(1);

      const page = await h.app.inject({ method: 'GET', url: '/dev/mailbox' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.body.indexOf('second@example.com')).toBeLessThan(page.body.indexOf('first@example.com'));
    });
  });
}

describe('development mailbox in production', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(STORES[0]!, {
      config: { env: 'production', baseUrl: 'https://rekey.example.com', smtpUrl: 'smtp://127.0.0.1:1' },
    });
  });
  afterAll(() => h.close());

  it('is not served at all', async () => {
    for (const url of ['/dev/mailbox', '/dev/mailbox/messages']) expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(404);
  });
});
