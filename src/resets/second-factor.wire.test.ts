import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../test/support/api.ts';
import { browserApi, totpAt } from '../../test/support/browser-api.ts';
import { createHarness, freshAccounts, type Harness } from '../../test/support/harness.ts';
import { STORES } from '../store/testing.ts';

/** The second factor on the browser wire: the types come from the factors door, and TOTP reads exactly as before. */
for (const factory of STORES) {
  describe(`${factory.name}: second factors in a reset flow`, () => {
    let h: Harness;
    const { email, password } = freshAccounts();
    beforeAll(async () => {
      h = await createHarness(factory);
    });
    afterAll(() => h.close());

    /** A flow past its emailed code, for an account with a TOTP factor. */
    const pastFirstFactor = async () => {
      const address = email('wire');
      const user = await managementApi(h).createUser(address, password());
      const enrolled = await managementApi(h).call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' });
      const secret: string = enrolled.json().authentication_factor.totp.secret;
      const web = browserApi(h);
      const started = (await web.startFlow(address, 'email_code')).json();
      expect(started.supported_second_factors).toEqual([]);
      const passed = await web.attemptCode(started.id, await web.codeFor(address));
      expect(passed.statusCode).toBe(200);
      return { web, secret, flow: passed.json() };
    };

    it('SEC-36 a flow waiting for its second factor lists the enrolled types and takes the code under strategy "totp"', async () => {
      const { web, secret, flow } = await pastFirstFactor();
      expect(flow).toMatchObject({ status: 'needs_second_factor', supported_second_factors: ['totp'] });
      expect((await web.getFlow(flow.id)).json().supported_second_factors).toEqual(['totp']);
      const second = await web.secondFactor(flow.id, flow.grant, await totpAt(secret, h.clock.now()));
      expect(second.statusCode).toBe(200);
      expect(second.json()).toMatchObject({ status: 'needs_new_password', supported_second_factors: [] });
    });

    it('a second factor type Rekey does not know is bad input, and spends nothing', async () => {
      const { web, secret, flow } = await pastFirstFactor();
      const code = await totpAt(secret, h.clock.now());
      const unknown = await web.post(`/v1/reset_flows/${flow.id}/attempt_second_factor`, { strategy: 'push_notification', code, grant: flow.grant });
      expect(unknown.statusCode).toBe(422);
      expect(unknown.json().error.code).toBe('invalid_request_parameters');
      expect((await web.secondFactor(flow.id, flow.grant, code)).statusCode).toBe(200);
    });
  });
}
