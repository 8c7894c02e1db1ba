import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installErrorHandling, RekeyError } from '../errors/index.ts';
import type { ManualClock } from '../platform/clock.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import type { User } from '../users/index.ts';
import { createFactorService, type FactorService } from './factor.service.ts';
import { factorManagementRoutes } from './management.routes.ts';
import { factorTestDeps, insertUser } from './testing.ts';

for (const factory of STORES) {
  describe(`${factory.name}: factor management routes`, () => {
    let store: TestStore;
    let clock: ManualClock;
    let factors: FactorService;
    let app: FastifyInstance;
    let user: { id: string; email: string };

    beforeEach(async () => {
      store = await factory.open();
      const deps = await factorTestDeps(store);
      clock = deps.clock;
      factors = createFactorService({ ...deps, delivery: { verificationCode: () => [] } });
      user = await insertUser(deps, 'mfa@example.com');
      const users = {
        async getOrThrow(id: string) {
          const found = await store.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
          if (!found) throw new RekeyError('user_not_found', { entity_id: id });
          return found as User;
        },
      };
      app = Fastify();
      app.setValidatorCompiler(validatorCompiler);
      app.setSerializerCompiler(serializerCompiler);
      installErrorHandling(app);
      await app.register(factorManagementRoutes, { factors, users });
      await app.ready();
    });
    afterEach(async () => {
      await app.close();
      await store.close();
    });

    it('enrolls a TOTP factor in WorkOS shape, showing the secret only then', async () => {
      const created = await app.inject({
        method: 'POST',
        url: `/user_management/users/${user.id}/auth_factors`,
        payload: { type: 'totp', totp_issuer: 'Acme' },
      });
      expect(created.statusCode).toBe(201);
      const body = created.json();
      const createdAt = new Date(clock.now()).toISOString();
      expect(body).toEqual({
        authentication_factor: {
          object: 'authentication_factor',
          id: expect.stringMatching(/^auth_factor_/),
          type: 'totp',
          user_id: user.id,
          totp: { issuer: 'Acme', user: 'mfa@example.com', secret: expect.any(String), uri: expect.stringMatching(/^otpauth:\/\/totp\//), qr_code: '' },
          created_at: createdAt,
          updated_at: createdAt,
        },
        authentication_challenge: {
          object: 'authentication_challenge',
          id: expect.stringMatching(/^auth_challenge_/),
          authentication_factor_id: body.authentication_factor.id,
          expires_at: null,
          created_at: createdAt,
          updated_at: createdAt,
        },
      });
      const code = await generate({ secret: body.authentication_factor.totp.secret, epoch: Math.floor(clock.now() / 1000) });
      expect(await factors.verifyTotp(user.id, code)).toBe(true);

      const listed = await app.inject({ method: 'GET', url: `/user_management/users/${user.id}/auth_factors` });
      expect(listed.statusCode).toBe(200);
      const { secret: _secret, uri: _uri, qr_code: _qr, ...totp } = body.authentication_factor.totp;
      expect(listed.json()).toEqual({ object: 'list', data: [{ ...body.authentication_factor, totp }], list_metadata: { before: null, after: null } });
      expect(listed.body).not.toContain(body.authentication_factor.totp.secret);
    });

    it('deletes a factor, then answers 404', async () => {
      const { factor } = await factors.enrollTotp(user);
      const url = `/user_management/auth_factors/${factor.id}`;
      expect((await app.inject({ method: 'DELETE', url })).statusCode).toBe(204);
      const again = await app.inject({ method: 'DELETE', url });
      expect(again.statusCode).toBe(404);
      expect(again.json()).toMatchObject({ code: 'entity_not_found', entity_id: factor.id });
    });

    it('answers 404 for an unknown user and 422 for another factor type', async () => {
      const unknown = 'user_01HZZZZZZZZZZZZZZZZZZZZZZZ';
      const listed = await app.inject({ method: 'GET', url: `/user_management/users/${unknown}/auth_factors` });
      expect(listed.statusCode).toBe(404);
      expect(listed.json()).toMatchObject({ code: 'user_not_found' });
      const sms = await app.inject({ method: 'POST', url: `/user_management/users/${user.id}/auth_factors`, payload: { type: 'sms' } });
      expect(sms.statusCode).toBe(422);
      expect(await factors.list(user.id)).toEqual([]);
    });

    it('enrolls an SMS factor with a number in E.164, and refuses any other', async () => {
      const url = `/user_management/users/${user.id}/auth_factors`;
      const res = await app.inject({ method: 'POST', url, payload: { type: 'sms', phone_number: '+14155550123' } });
      expect(res.statusCode).toBe(201);
      expect(res.json().authentication_factor).toMatchObject({ type: 'sms', sms: { phone_number: '+14155550123' } });
      expect(res.json().authentication_factor.totp).toBeUndefined();
      for (const phone_number of ['4155550123', '+0155550123', '+1 415 555 0123', '', 'x'.repeat(40)]) {
        const bad = await app.inject({ method: 'POST', url, payload: { type: 'sms', phone_number } });
        expect(bad.statusCode).toBe(422);
        expect(bad.json().code).toBe('invalid_request_parameters');
      }
      for (const payload of [{ type: 'webauthn_roaming' }, { type: 'recovery_code' }, { type: 'totp', phone_number: '+14155550123' }, { type: 'email' }]) {
        expect((await app.inject({ method: 'POST', url, payload })).statusCode).toBe(422);
      }
      // WorkOS lists TOTP only (its SDK reads a `totp` object in every entry); every type on request.
      expect((await app.inject({ method: 'GET', url })).json().data).toEqual([]);
      const all = await app.inject({ method: 'GET', url: `${url}?all_types=true&limit=10&order=desc` });
      expect(all.json().data.map((f: { type: string }) => f.type)).toEqual(['sms']);
      expect((await app.inject({ method: 'GET', url: `${url}?all_types=yes` })).statusCode).toBe(422);
    });

    it('creates recovery codes, shown once; a second set voids the first', async () => {
      const url = `/user_management/users/${user.id}/recovery_codes`;
      const first = await app.inject({ method: 'POST', url });
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({ object: 'recovery_codes', authentication_factor: { type: 'recovery_code', user_id: user.id } });
      expect(first.json().codes).toHaveLength(10);
      const listed = await app.inject({ method: 'GET', url: `/user_management/users/${user.id}/auth_factors` });
      expect(listed.body).not.toContain(first.json().codes[0]);
      const second = await app.inject({ method: 'POST', url, payload: {} });
      expect(second.statusCode).toBe(201);
      expect(await factors.verifyResponse(user.id, 'recovery_code', first.json().codes[0])).toBe(false);
      expect(await factors.verifyResponse(user.id, 'recovery_code', second.json().codes[0])).toBe(true);
      expect((await app.inject({ method: 'POST', url, payload: { count: 20 } })).statusCode).toBe(422);
      expect((await app.inject({ method: 'POST', url: '/user_management/users/user_01HZZZZZZZZZZZZZZZZZZZZZZZ/recovery_codes' })).statusCode).toBe(404);
    });

    it('makes a one-time enrollment link whose token rests hashed', async () => {
      const res = await app.inject({ method: 'POST', url: `/user_management/users/${user.id}/factor_enrollment_links` });
      expect(res.statusCode).toBe(201);
      const body = res.json();
      expect(body).toMatchObject({ object: 'factor_enrollment_link', url: expect.stringMatching(/\/factors\/enroll\?token=[A-Za-z0-9_-]{43}$/) });
      expect(Date.parse(body.expires_at) - clock.now()).toBe(10 * 60_000);
      const token = new URL(body.url).searchParams.get('token')!;
      const rows = await store.db.selectFrom('factor_enrollment_links').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(await factors.enrollmentLinks.redeem(token)).toBe(user.id);
      expect(await factors.enrollmentLinks.redeem(token)).toBeUndefined();

      const late = new URL(
        (await app.inject({ method: 'POST', url: `/user_management/users/${user.id}/factor_enrollment_links` })).json().url,
      ).searchParams.get('token')!;
      clock.advance(10 * 60_000);
      expect(await factors.enrollmentLinks.redeem(late)).toBeUndefined();
      expect((await app.inject({ method: 'POST', url: '/user_management/users/nope/factor_enrollment_links' })).statusCode).toBe(422);
    });
  });
}
