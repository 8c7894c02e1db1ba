import { BadRequestException, GenericServerException, NotFoundException, UnauthorizedException, WorkOS } from '@workos-inc/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../support/harness.ts';

/** `@workos-inc/node@8.13.0`, unchanged, pointed at a running Rekey over loopback HTTP. */
for (const factory of STORES) {
  describe(`${factory.name}: WorkOS SDK compatibility`, () => {
    let h: Harness & { url?: string };
    let workos: WorkOS;

    beforeAll(async () => {
      h = await createHarness(factory, { listen: true });
      const port = Number(new URL(h.url!).port);
      workos = new WorkOS(h.secretKey, { apiHostname: '127.0.0.1', https: false, port, clientId: h.clientId });
    });
    afterAll(() => h.close());

    it('creates a user, authenticates, lists sessions, resets the password and sees the sessions revoked', async () => {
      const email = 'sdk.user@example.com';
      const oldPassword = `${GOOD_PASSWORD} old`;
      const newPassword = `${GOOD_PASSWORD} new`;
      const user = await workos.userManagement.createUser({ email, password: oldPassword, firstName: 'Ada', lastName: 'Lovelace' });
      expect(user).toMatchObject({ object: 'user', email, firstName: 'Ada', lastName: 'Lovelace', emailVerified: false });
      expect(user.id).toMatch(/^user_/);
      expect((await workos.userManagement.getUser(user.id)).email).toBe(email);

      const auth = await workos.userManagement.authenticateWithPassword({ email, password: oldPassword, ipAddress: '203.0.113.9', userAgent: 'SdkTest/1' });
      expect(auth.user.id).toBe(user.id);
      expect(auth.accessToken.split('.')).toHaveLength(3);
      expect(auth.refreshToken.length).toBeGreaterThan(20);

      const sessions = await workos.userManagement.listSessions(user.id);
      expect(sessions.data).toHaveLength(1);
      expect(sessions.data[0]).toMatchObject({ userId: user.id, ipAddress: '203.0.113.9', userAgent: 'SdkTest/1', authMethod: 'password', status: 'active' });

      const reset = await workos.userManagement.createPasswordReset({ email });
      expect(reset).toMatchObject({ object: 'password_reset', userId: user.id, email });
      expect(reset.passwordResetUrl).toBe(`${h.config.baseUrl}/reset/verify?token=${reset.passwordResetToken}`);
      const fetched = await workos.userManagement.getPasswordReset(reset.id);
      expect(fetched.passwordResetToken).toBe(reset.passwordResetToken);
      expect(Date.parse(fetched.expiresAt) - Date.parse(fetched.createdAt)).toBe(30 * 60_000);

      const { user: updated } = await workos.userManagement.resetPassword({ token: reset.passwordResetToken, newPassword });
      expect(updated.emailVerified).toBe(true);

      const after = await workos.userManagement.listSessions(user.id);
      expect(after.data.map((s) => s.status)).toEqual(['revoked']);
      await expect(workos.userManagement.authenticateWithPassword({ email, password: oldPassword })).rejects.toBeInstanceOf(GenericServerException);
      const again = await workos.userManagement.authenticateWithPassword({ email, password: newPassword });
      expect(again.user.id).toBe(user.id);

      const live = await workos.userManagement.listSessions(user.id);
      const active = live.data.find((s) => s.status === 'active')!;
      await workos.userManagement.revokeSession({ sessionId: active.id });
      expect((await workos.userManagement.listSessions(user.id)).data.every((s) => s.status === 'revoked')).toBe(true);
    });

    it("raises the SDK's own exceptions: reused token, weak password, unknown email, bad key", async () => {
      const email = 'sdk.errors@example.com';
      await workos.userManagement.createUser({ email, password: `${GOOD_PASSWORD} one` });
      const reset = await workos.userManagement.createPasswordReset({ email });

      const weak = await workos.userManagement.resetPassword({ token: reset.passwordResetToken, newPassword: 'password1234567' }).catch((e: unknown) => e);
      expect(weak).toBeInstanceOf(BadRequestException);
      expect((weak as BadRequestException).code).toBe('password_reset_error');
      expect((weak as BadRequestException).errors?.[0]).toMatchObject({ code: expect.stringMatching(/^password_(common|breached)$/) });

      await workos.userManagement.resetPassword({ token: reset.passwordResetToken, newPassword: `${GOOD_PASSWORD} two` });
      const reused = await workos.userManagement
        .resetPassword({ token: reset.passwordResetToken, newPassword: `${GOOD_PASSWORD} three` })
        .catch((e: unknown) => e);
      expect(reused).toBeInstanceOf(BadRequestException);
      expect((reused as BadRequestException).errors?.[0]).toMatchObject({ code: 'password_reset_token_invalid' });

      const unknown = await workos.userManagement.createPasswordReset({ email: 'nobody@example.com' }).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(NotFoundException);

      const missing = await workos.userManagement.getPasswordReset('password_reset_01ARZ3NDEKTSV4RRFFQ69G5FAV').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(NotFoundException);

      const port = Number(new URL(h.url!).port);
      const stranger = new WorkOS('sk_test_not_a_real_key', { apiHostname: '127.0.0.1', https: false, port, clientId: h.clientId });
      await expect(stranger.userManagement.createPasswordReset({ email })).rejects.toBeInstanceOf(UnauthorizedException);
    });

    it('SEC-36 resetPassword for an account with a second factor throws the mfa_challenge body with a pending token', async () => {
      const email = 'sdk.mfa@example.com';
      const user = await workos.userManagement.createUser({ email, password: `${GOOD_PASSWORD} mfa` });
      await h.rekey.factors.enrollTotp(user);
      const reset = await workos.userManagement.createPasswordReset({ email });
      const thrown = await workos.userManagement
        .resetPassword({ token: reset.passwordResetToken, newPassword: `${GOOD_PASSWORD} next` })
        .catch((error: unknown) => error);
      expect(thrown).toBeInstanceOf(GenericServerException);
      const error = thrown as GenericServerException;
      expect(error.status).toBe(403);
      expect(error.rawData).toMatchObject({ code: 'mfa_challenge', user: { id: user.id } });
      expect(String((error.rawData as { pending_authentication_token?: string }).pending_authentication_token)).toMatch(/^flow_/);
    });

    it('lists a user’s TOTP factors with the SDK when the user also has factors WorkOS does not know', async () => {
      const user = await workos.userManagement.createUser({ email: 'sdk.factors@example.com', password: `${GOOD_PASSWORD} factors` });
      const { authenticationFactor } = await workos.userManagement.enrollAuthFactor({ userId: user.id, type: 'totp', totpIssuer: 'Acme' });
      await h.rekey.factors.regenerateRecoveryCodes(user);
      const listed = await workos.userManagement.listAuthFactors({ userId: user.id });
      expect(listed.data).toEqual([expect.objectContaining({ id: authenticationFactor.id, type: 'totp', totp: { issuer: 'Acme', user: user.email } })]);
    });

    it('lists users with cursor pagination and deletes one', async () => {
      for (let i = 0; i < 3; i++) await workos.userManagement.createUser({ email: `page${i}@example.com` });
      const first = await workos.userManagement.listUsers({ limit: 2 });
      expect(first.data).toHaveLength(2);
      expect(first.listMetadata.after).toBe(first.data[1]!.id);
      const second = await workos.userManagement.listUsers({ limit: 2, after: first.listMetadata.after! });
      expect(second.data).toHaveLength(2);
      expect(second.listMetadata.before).toBe(second.data[0]!.id);
      const back = await workos.userManagement.listUsers({ limit: 2, before: second.listMetadata.before! });
      expect(back.data.map((u) => u.id)).toEqual(first.data.map((u) => u.id));
      const all = await (await workos.userManagement.listUsers()).autoPagination();
      expect(new Set(all.map((u) => u.id)).size).toBe(all.length);
      expect(all.length).toBeGreaterThanOrEqual(5);
      expect(all.map((u) => u.id)).toEqual([...first.data, ...second.data, ...all.slice(4)].map((u) => u.id));
      const doomed = all.find((u) => u.email === 'page0@example.com')!;
      await workos.userManagement.deleteUser(doomed.id);
      await expect(workos.userManagement.getUser(doomed.id)).rejects.toBeInstanceOf(NotFoundException);
    });
  });
}
