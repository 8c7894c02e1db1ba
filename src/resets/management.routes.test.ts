import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../test/support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../../test/support/harness.ts';
import { STORES } from '../store/testing.ts';

for (const factory of STORES) {
  describe(`${factory.name}: management confirm`, () => {
    let h: Harness;

    beforeAll(async () => {
      // `app.inject` comes from 127.0.0.1: here that hop is a trusted proxy.
      h = await createHarness(factory, { config: { trustedProxies: '127.0.0.1' } });
    });
    afterAll(() => h.close());

    it('records the client address a trusted proxy forwarded, as every other route does', async () => {
      const api = managementApi(h);
      const email = 'proxied@example.com';
      await api.createUser(email, `${GOOD_PASSWORD} 1`);
      const { password_reset_token: token } = await api.resetToken(email);
      const res = await api.call(
        'POST',
        '/user_management/password_reset/confirm',
        { token, new_password: `${GOOD_PASSWORD} 2` },
        { 'x-forwarded-for': '203.0.113.50' },
      );
      expect(res.statusCode).toBe(200);
      await h.deliver();
      const notice = (await h.mailbox(email)).find((m) => m.text.includes('IP:'));
      expect(notice?.text).toContain('203.0.113.50');
    });
  });
}
