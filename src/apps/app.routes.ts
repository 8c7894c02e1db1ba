import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import { listEnvelope, listQuery } from '../http/pagination.ts';
import { idParam } from '../http/schemas.ts';
import type { ApplicationService } from './app.service.ts';
import { applicationObject, toWireApplication } from './app.wire.ts';
import { MAX_NAME_LENGTH, MAX_REDIRECTS, type ApplicationSettings } from './settings.ts';

// Shapes only; the service checks what each value means (https, allow-list, one mailbox) and names the field.
const url = z.string().max(2048);
const settingsBody = z.strictObject({
  name: z.string().min(1).max(MAX_NAME_LENGTH),
  reset_url: url.nullable().describe("The application's own reset page (links get ?token=…); null: Rekey's hosted page."),
  allowed_redirects: z.array(url).max(MAX_REDIRECTS).describe('Redirect allow-list: exact origin plus path prefix (https; http only on loopback).'),
  sign_in_url: url.nullable().describe('Where the done page sends the user back to sign in; must be on allowed_redirects.'),
  support_email: z.string().max(320).nullable(),
  mail_from: z.string().max(500).nullable().describe('From of this application\'s mail, one mailbox: "Acme <no-reply@acme.example>". null: REKEY_MAIL_FROM.'),
  logo_url: z.string().max(60_000).nullable().describe("A data:image/… URL, a path on Rekey's origin, or an https URL (mail only)."),
  brand_color: z.string().max(7).nullable().describe('#rgb or #rrggbb.'),
});
const createBody = settingsBody.partial().required({ name: true });
const updateBody = settingsBody.partial();

const settingsOf = (body: z.infer<typeof updateBody>): ApplicationSettings => ({
  name: body.name,
  resetUrl: body.reset_url,
  allowedRedirects: body.allowed_redirects,
  signInUrl: body.sign_in_url,
  supportEmail: body.support_email,
  mailFrom: body.mail_from,
  logoUrl: body.logo_url,
  brandColor: body.brand_color,
});

/**
 * `/user_management/applications` (secret key): applications and their settings. Any secret key may manage every
 * application, as it may every user: a secret key is an operator credential.
 */
export const applicationRoutes: FastifyPluginAsync<{ apps: ApplicationService }> = async (app, { apps }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const config = { surface: 'management' as const };
  const tags = ['applications'];
  const found = async (id: string) => {
    const application = await apps.get(id);
    if (!application) throw new RekeyError('application_not_found', { entity_id: id });
    return application;
  };

  r.get(
    '/user_management/applications',
    {
      config,
      schema: {
        tags,
        summary: 'List applications',
        operationId: 'listApplications',
        querystring: listQuery,
        response: { 200: listEnvelope(applicationObject) },
        errors: [],
      },
    },
    async (request) => {
      const page = await apps.page(request.query);
      return { object: 'list' as const, data: page.data.map(toWireApplication), list_metadata: { before: page.before, after: page.after } };
    },
  );

  r.post(
    '/user_management/applications',
    {
      config,
      schema: {
        tags,
        summary: 'Create an application',
        operationId: 'createApplication',
        body: createBody,
        response: { 201: applicationObject },
        errors: ['application_setting_invalid'],
      },
    },
    async (request, reply) => {
      const application = await apps.create({ ...settingsOf(request.body), name: request.body.name });
      return reply.code(201).send(toWireApplication(application));
    },
  );

  r.get(
    '/user_management/applications/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Get an application',
        operationId: 'getApplication',
        params: idParam('app'),
        response: { 200: applicationObject },
        errors: ['application_not_found'],
      },
    },
    async (request) => toWireApplication(await found(request.params.id)),
  );

  r.patch(
    '/user_management/applications/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Update an application',
        description: 'Changes the settings given; null clears one (name and allowed_redirects cannot be null).',
        operationId: 'updateApplication',
        params: idParam('app'),
        body: updateBody,
        response: { 200: applicationObject },
        errors: ['application_not_found', 'application_setting_invalid'],
      },
    },
    async (request) => {
      const application = await apps.configure(request.params.id, settingsOf(request.body));
      if (!application) throw new RekeyError('application_not_found', { entity_id: request.params.id });
      return toWireApplication(application);
    },
  );

  r.delete(
    '/user_management/applications/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Delete an application',
        description:
          'Deletes the application and its revoked keys. The default application cannot be deleted (409 application_is_default); ' +
          'nor can one with a key that is not revoked (409 application_has_active_keys: revoke its keys first).',
        operationId: 'deleteApplication',
        params: idParam('app'),
        response: { 204: z.undefined().describe('Deleted.') },
        errors: ['application_not_found', 'application_is_default', 'application_has_active_keys'],
      },
    },
    async (request, reply) => {
      if (!(await apps.remove(request.params.id))) throw new RekeyError('application_not_found', { entity_id: request.params.id });
      return reply.code(204).send();
    },
  );
};
