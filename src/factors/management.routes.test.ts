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
      factors = createFactorService(deps);
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
  });
}
