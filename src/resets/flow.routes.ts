import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PASSWORD_POLICY_CODES, RekeyError } from '../errors/index.ts';
import { SECOND_FACTOR_TYPES } from '../factors/index.ts';
import { emailField, passwordField } from '../http/schemas.ts';
import type { SessionService } from '../sessions/index.ts';
import type { BrowserScope } from './browser.routes.ts';
import { FLOW_STATUSES, FLOW_STRATEGIES } from './flow.ts';
import type { FlowService, FlowViews } from './flow.service.ts';
const flowObject = z
  .object({
    object: z.literal('reset_flow'),
    id: z.string(),
    strategy: z.enum(FLOW_STRATEGIES),
    status: z.enum(FLOW_STATUSES),
    supported_second_factors: z.array(z.enum(SECOND_FACTOR_TYPES)),
    expires_at: z.string(),
  })
  .meta({
    id: 'ResetFlow',
    examples: [
      {
        object: 'reset_flow',
        id: 'flow_01JDQ9E6F7G8H9J0K1M2N3P4Q5',
        strategy: 'email_code',
        status: 'needs_first_factor',
        supported_second_factors: [],
        expires_at: '2026-11-25T12:15:00.000Z',
      },
    ],
  });

const nextStep = z
  .object({
    challenge: z
      .object({ factors: z.array(z.enum(SECOND_FACTOR_TYPES)), any: z.boolean() })
      .optional()
      .describe('Meet one of these factors with attempt_second_factor; the first is the one to offer first unless `any` (then let the user choose).'),
    redirect: z
      .object({ url: z.string() })
      .optional()
      .describe('Send the browser here; the page there comes back with the `state`, which you pass to `continue` with the grant.'),
  })
  .nullable()
  .meta({ id: 'ResetFlowNextStep' });

const withGrant = flowObject.extend({
  grant: z.string().describe('Proof of the verified factor. It can set the password of this flow and nothing else; ≤ 10 minutes, single use.'),
  next_step: nextStep.describe('While the flow waits on its post-challenge actions (status `needs_second_factor`): what it waits for.'),
});
const params = z.record(z.string().max(100), z.string().max(4096)).refine((r) => Object.keys(r).length <= 50, 'at most 50 parameters');
const flowId = z.strictObject({ id: z.string().regex(/^flow_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a flow_ id') });
const grantField = z.string().min(20).max(100);
const code = z.string().min(1).max(20);

/**
 * The reset-flow API (`/v1/reset_flows…`), registered inside the browser scope of browser.routes.ts, whose
 * origin check and CORS answers apply to it.
 */
export const flowApiRoutes: FastifyPluginAsync<{ flows: FlowService & FlowViews; sessions: SessionService; scope: BrowserScope }> = async (
  app,
  { flows, sessions, scope },
) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { routeConfig, tags, context, publicFlow, granted } = scope;

  r.post(
    '/v1/reset_flows',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Start a reset flow',
        description:
          'Opens a flow and mails its link or code when the address has an account; the answer is the same either way (SEC-01). ' +
          '`redirect_url` counts only when the application allows it.',
        operationId: 'createResetFlow',
        errors: ['cross_origin_forbidden', 'rate_limited'],
        body: z
          .strictObject({ identifier: emailField, strategy: z.enum(FLOW_STRATEGIES), redirect_url: z.string().max(2048).optional() })
          .meta({ examples: [{ identifier: 'ada@example.com', strategy: 'email_code', redirect_url: 'https://app.example.com/signed-out' }] }),
        response: { 201: flowObject },
      },
    },
    async (request, reply) => {
      const flow = await flows.start({
        identifier: request.body.identifier,
        strategy: request.body.strategy,
        redirectUrl: request.body.redirect_url,
        application: request.application!,
        ...context(request),
        locale: null,
      });
      return reply.code(201).send(await publicFlow(flow));
    },
  );

  r.get(
    '/v1/reset_flows/:id',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Get a reset flow',
        operationId: 'getResetFlow',
        params: flowId,
        response: { 200: flowObject },
        errors: ['cross_origin_forbidden', 'flow_not_found'],
      },
    },
    async (request) => {
      const flow = await flows.get(request.params.id);
      if (!flow) throw new RekeyError('flow_not_found');
      return await publicFlow(flow);
    },
  );

  r.post(
    '/v1/reset_flows/:id/attempt_first_factor',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Verify the emailed code',
        operationId: 'attemptFirstFactor',
        params: flowId,
        body: z.strictObject({ strategy: z.literal('email_code'), code }),
        response: { 200: withGrant },
        errors: [
          'cross_origin_forbidden',
          'flow_not_found',
          'flow_expired',
          'flow_state_invalid',
          'code_incorrect',
          'code_attempts_exceeded',
          'flow_denied',
          'rate_limited',
        ],
      },
    },
    async (request) => {
      const { flow, grant } = await flows.attemptCode(request.params.id, request.body.code, context(request));
      return granted(flow, grant);
    },
  );

  r.post(
    '/v1/reset_flows/attempt_link',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Verify the emailed link’s token',
        operationId: 'attemptLink',
        body: z.strictObject({ token: z.string().min(1).max(512) }),
        response: { 200: withGrant },
        errors: ['cross_origin_forbidden', 'password_reset_token_invalid', 'flow_state_invalid', 'flow_denied', 'rate_limited'],
      },
    },
    async (request) => {
      const { flow, grant } = await flows.attemptLink(request.body.token, context(request));
      return granted(flow, grant);
    },
  );

  r.post(
    '/v1/reset_flows/:id/attempt_second_factor',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Verify the second factor',
        operationId: 'attemptSecondFactor',
        params: flowId,
        description:
          'The answer to the pending challenge (`next_step.challenge`): a `code` (TOTP, SMS, email, recovery code), or for WebAuthn the ' +
          '`credential` that `navigator.credentials.get` gave (as @simplewebauthn/browser returns it).',
        body: z
          .strictObject({
            strategy: z.enum(SECOND_FACTOR_TYPES),
            code: code.optional(),
            credential: z.record(z.string(), z.unknown()).optional(),
            grant: grantField,
          })
          .refine((b) => (b.code === undefined) !== (b.credential === undefined), 'send either a code or a credential'),
        response: { 200: withGrant },
        errors: [
          'cross_origin_forbidden',
          'flow_not_found',
          'flow_expired',
          'flow_state_invalid',
          'grant_invalid',
          'totp_incorrect',
          'factor_incorrect',
          'totp_attempts_exceeded',
          'flow_denied',
          'rate_limited',
        ],
      },
    },
    async (request) => {
      const { flow, grant } = await flows.attemptSecondFactor(
        request.params.id,
        request.body.grant,
        request.body.code ?? request.body.credential,
        context(request),
        request.body.strategy,
      );
      return granted(flow, grant);
    },
  );

  r.post(
    '/v1/reset_flows/:id/challenge',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Start the pending challenge',
        description:
          'For a factor of `next_step.challenge`: sends the code of an SMS or email factor (answer `sent_to`, masked), or gives the ' +
          'WebAuthn request options for `navigator.credentials.get`. TOTP and recovery codes need nothing: the answer is just the type.',
        operationId: 'startResetFlowChallenge',
        params: flowId,
        body: z.strictObject({ strategy: z.enum(SECOND_FACTOR_TYPES), grant: grantField }),
        response: {
          200: z.object({
            type: z.enum(SECOND_FACTOR_TYPES),
            sent_to: z.string().optional(),
            expires_at: z.string().optional(),
            options: z.record(z.string(), z.unknown()).optional(),
          }),
        },
        errors: [
          'cross_origin_forbidden',
          'flow_not_found',
          'flow_expired',
          'flow_state_invalid',
          'grant_invalid',
          'factor_not_enrolled',
          'factor_unavailable',
          'rate_limited',
        ],
      },
    },
    async (request) => {
      const challenge = await flows.startChallenge(request.params.id, request.body.grant, request.body.strategy, { ...context(request), locale: null });
      return {
        type: challenge.type,
        ...('sentTo' in challenge ? { sent_to: challenge.sentTo, expires_at: new Date(challenge.expiresAt).toISOString() } : {}),
        ...('options' in challenge ? { options: challenge.options as unknown as Record<string, unknown> } : {}),
      };
    },
  );

  r.post(
    '/v1/reset_flows/:id/continue',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Continue after an action redirect',
        description:
          "After `next_step.redirect`: the `state` the third-party page sent back, with the flow's grant. The same action's " +
          '`onContinuePostChallenge` resumes; `query` and `body` are what that page sent (`api.redirect.validateToken` reads its token there).',
        operationId: 'continueResetFlow',
        params: flowId,
        body: z.strictObject({ grant: grantField, state: z.string().min(20).max(200), query: params.optional(), body: params.optional() }),
        response: { 200: withGrant },
        errors: [
          'cross_origin_forbidden',
          'flow_not_found',
          'flow_expired',
          'flow_state_invalid',
          'grant_invalid',
          'action_state_invalid',
          'flow_denied',
          'rate_limited',
        ],
      },
    },
    async (request) => {
      const base = context(request, request.body.body ?? {});
      const actionContext = { ...base, action: { ...base.action, method: 'POST', query: request.body.query ?? {} } };
      const { flow, grant } = await flows.continueAfterRedirect(request.params.id, request.body.grant, request.body.state, actionContext);
      return granted(flow, grant);
    },
  );

  r.post(
    '/v1/reset_flows/:id/reset_password',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Set the new password',
        description: 'Spends the grant of the last verified factor. Other sessions end unless `sign_out_of_other_sessions` is false (SEC-34).',
        operationId: 'setResetFlowPassword',
        errors: [
          'cross_origin_forbidden',
          'flow_not_found',
          'flow_expired',
          'flow_state_invalid',
          'mfa_required',
          'grant_invalid',
          ...PASSWORD_POLICY_CODES,
          'rate_limited',
          'server_busy',
        ],
        params: flowId,
        body: z.strictObject({ password: passwordField, grant: grantField, sign_out_of_other_sessions: z.boolean().default(true) }),
        response: { 200: flowObject.extend({ redirect_to: z.string().nullable() }) },
      },
    },
    async (request) => {
      const currentSessionId = await currentSession(request, sessions);
      const { flow, redirectTo } = await flows.setPassword(request.params.id, request.body.grant, request.body.password, {
        ...context(request),
        signOutOfOtherSessions: request.body.sign_out_of_other_sessions,
        currentSessionId,
      });
      // SEC-35: no session and no token come back; the next sign-in goes through the normal path.
      return { ...(await publicFlow(flow)), redirect_to: redirectTo };
    },
  );
};

/** The session of a signed-in caller (an access token), the one SEC-34 lets a user keep on opt-in. */
async function currentSession(request: FastifyRequest, sessions: SessionService): Promise<string | null> {
  const header = request.headers.authorization;
  if (!header?.startsWith('Bearer ')) return null;
  try {
    return (await sessions.verifyAccessToken(header.slice(7).trim())).id;
  } catch {
    return null;
  }
}
