import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PASSWORD_POLICY_CODES, RekeyError } from '../errors/index.ts';
import { listEnvelope, listQuery } from '../http/pagination.ts';
import { emailField, idParam, metadataField, passwordField } from '../http/schemas.ts';
import type { UserService } from './user.service.ts';
import { toWireUser, userObject } from './user.wire.ts';

const name = z.string().max(200).nullable();
const passwordHashType = z.enum(['argon2']).describe('Only Argon2 PHC strings can be imported.');

const createBody = z.strictObject({
  email: emailField,
  password: passwordField.optional(),
  password_hash: z.string().max(1024).optional(),
  password_hash_type: passwordHashType.optional(),
  first_name: name.optional(),
  last_name: name.optional(),
  email_verified: z.boolean().optional(),
  external_id: z.string().max(200).nullable().optional(),
  metadata: metadataField.optional(),
});

const updateBody = createBody
  .omit({ password_hash: true, password_hash_type: true })
  .partial()
  .extend({ locale: z.string().max(35).nullable().optional() });

/** WorkOS-shaped `/user_management/users` (secret key). */
export const userManagementRoutes: FastifyPluginAsync<{ users: UserService }> = async (app, { users }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const config = { surface: 'management' as const, errorGroup: 'password_strength_error' };
  const tags = ['users'];

  r.post(
    '/user_management/users',
    {
      config,
      schema: {
        tags,
        summary: 'Create a user',
        operationId: 'createUser',
        body: createBody.meta({
          examples: [
            { email: 'ada@example.com', password: 'correct horse battery staple', first_name: 'Ada', last_name: 'Lovelace', metadata: { plan: 'pro' } },
          ],
        }),
        response: { 201: userObject },
        errors: ['email_already_exists', ...PASSWORD_POLICY_CODES, 'password_and_password_hash_provided', 'invalid_password_hash', 'server_busy'],
      },
    },
    async (request, reply) => {
      const b = request.body;
      const user = await users.create({
        email: b.email,
        password: b.password,
        passwordHash: b.password_hash,
        firstName: b.first_name,
        lastName: b.last_name,
        emailVerified: b.email_verified,
        externalId: b.external_id,
        metadata: b.metadata,
      });
      return reply.code(201).send(toWireUser(user));
    },
  );

  r.get(
    '/user_management/users',
    {
      config,
      schema: {
        tags,
        summary: 'List users',
        operationId: 'listUsers',
        errors: [],
        querystring: listQuery.extend({ email: emailField.optional(), organization_id: z.string().optional() }),
        response: { 200: listEnvelope(userObject) },
      },
    },
    async (request) => {
      const { organization_id: _ignored, ...query } = request.query;
      const page = await users.list(query);
      return { object: 'list' as const, data: page.data.map(toWireUser), list_metadata: { before: page.before, after: page.after } };
    },
  );

  r.get(
    '/user_management/users/:id',
    {
      config,
      schema: { tags, summary: 'Get a user', operationId: 'getUser', params: idParam('user'), response: { 200: userObject }, errors: ['user_not_found'] },
    },
    async (request) => toWireUser(await users.getOrThrow(request.params.id)),
  );

  r.put(
    '/user_management/users/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Update a user',
        description: 'A new `password` is checked against the policy and ends the user’s sessions.',
        operationId: 'updateUser',
        params: idParam('user'),
        body: updateBody.meta({ examples: [{ first_name: 'Ada', last_name: 'Byron', locale: 'fr' }] }),
        response: { 200: userObject },
        errors: ['user_not_found', 'email_already_exists', ...PASSWORD_POLICY_CODES, 'server_busy'],
      },
    },
    async (request) => {
      const b = request.body;
      const user = await users.update(
        request.params.id,
        {
          email: b.email,
          password: b.password,
          firstName: b.first_name,
          lastName: b.last_name,
          emailVerified: b.email_verified,
          externalId: b.external_id,
          metadata: b.metadata,
          locale: b.locale,
        },
        { ipAddress: request.clientIp, userAgent: request.headers['user-agent'] ?? null, applicationId: request.application?.id ?? null },
      );
      return toWireUser(user);
    },
  );

  r.delete(
    '/user_management/users/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Delete a user',
        operationId: 'deleteUser',
        params: idParam('user'),
        response: { 204: z.undefined().describe('Deleted.') },
        errors: ['user_not_found'],
      },
    },
    async (request, reply) => {
      if (!(await users.delete(request.params.id))) throw new RekeyError('user_not_found', { entity_id: request.params.id });
      return reply.code(204).send();
    },
  );
};
