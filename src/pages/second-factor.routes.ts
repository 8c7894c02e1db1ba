import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRekeyError } from '../errors/index.ts';
import { isFactorType, type FactorChallenge, type FactorType } from '../factors/index.ts';
import { loadFlow, PageError, pageModel, pathFor, readForm, requestContext, sendPage, type PagesDeps } from './context.ts';
import type { FlowCookie } from './cookies.ts';
import { answerFailure } from './errors.ts';
import { challengeFailure, checkChallengeForm } from './factor-challenge.ts';
import { fieldError, redirectWithErrors, setRetryAfter, takeErrors } from './flash.ts';
import { queryString } from './form.ts';
import { pageHref, type FieldError, type PageModel } from './layout.ts';
import { SECOND_FACTOR_PATH, secondFactorPage } from './second-factor.views.ts';
import { PAGE_ROUTE } from './start.routes.ts';

/** Failures of starting a challenge that the page shows above its form; any other ends the page (the flow is gone). */
const SHOWN_ON_START: ReadonlySet<string> = new Set(['rate_limited', 'factor_unavailable', 'factor_not_enrolled', 'totp_attempts_exceeded']);

const isSentCode = (type: FactorType): type is 'sms' | 'email' => type === 'sms' || type === 'email';

/**
 * `/reset/second-factor`: every challenge the post-challenge actions (or the built-in rule) can demand — TOTP, an
 * SMS or email code, WebAuthn, a recovery code. The GET shows the pending challenge's form for one accepted type
 * (`?method=` picks among several; with `challengeWithAny` and no choice yet, `/reset/choose` asks), starting it
 * first: a code is sent once per flow and type until "send a new code" (`/resend`), WebAuthn gets fresh options on
 * every view. The POST answers it through the reset service, whose wrong answers spend the account's shared budget
 * (SEC-38); its errors come back to the GET (Post/Redirect/Get).
 */
export function secondFactorRoutes(app: FastifyInstance, deps: PagesDeps): void {
  const { jar, flows } = deps;

  /** The flow must wait for a second factor and hold a grant; otherwise go where it is, or say it has ended. */
  async function flowAt(request: FastifyRequest, reply: FastifyReply) {
    const loaded = await loadFlow(deps, request);
    const actual = pathFor(loaded.flow, deps.clock.now());
    if (actual !== SECOND_FACTOR_PATH) return { redirect: reply.redirect(actual, 303) } as const;
    if (!loaded.cookie.grant) throw new PageError('grant_invalid', 403, 'gone');
    const step = await flows.pendingStep(loaded.flow);
    // Waiting on an action's redirect, not on a factor.
    if (step?.redirect) return { redirect: reply.redirect('/reset/redirect', 303) } as const;
    const factors = step?.challenge?.factors ?? [];
    if (factors.length === 0) throw new PageError('flow_state_invalid', 409, 'gone');
    return { ...loaded, grant: loaded.cookie.grant, factors, any: step?.challenge?.any ?? false } as const;
  }

  /** A posted `type`: one of the factors the pending challenge accepts; a type that is none at all is a 400. */
  function postedType(value: string | undefined, accepted: readonly FactorType[]): FactorType | undefined {
    if (!isFactorType(value)) throw new PageError('factor_type_invalid', 400);
    return accepted.includes(value) ? value : undefined;
  }

  /** Starts the challenge if it needs starting: sends a code not yet sent in this flow, asks WebAuthn's options. */
  async function start(
    request: FastifyRequest,
    reply: FastifyReply,
    at: { flow: { id: string }; grant: string; cookie: FlowCookie },
    type: FactorType,
    locale: string,
  ) {
    if (type === 'totp' || type === 'recovery_code') return undefined;
    const sent = at.cookie.sent;
    if (isSentCode(type) && sent?.type === type && sent.until > deps.clock.now()) {
      return { type, sentTo: sent.to, expiresAt: sent.until } as FactorChallenge;
    }
    const challenge = await flows.startChallenge(at.flow.id, at.grant, type, { ...requestContext(deps, request), locale });
    if ('sentTo' in challenge && isSentCode(type)) jar.writeFlow(reply, { ...at.cookie, sent: { type, to: challenge.sentTo, until: challenge.expiresAt } });
    return challenge;
  }

  /** Back to the form of a factor the challenge does accept (the first), which says so and links the others. */
  const notRequested = (page: PageModel, accepted: readonly FactorType[], reply: FastifyReply) =>
    redirectWithErrors(jar, reply, pageHref(page, SECOND_FACTOR_PATH, { method: accepted[0] }), 409, [{ code: 'factor_not_requested' }]);

  app.get(SECOND_FACTOR_PATH, PAGE_ROUTE, async (request, reply) => {
    const at = await flowAt(request, reply);
    if ('redirect' in at) return at.redirect;
    const method = at.factors.find((f) => f === queryString(request.query, 'method', 40));
    // `challengeWithAny`: the user picks first. Otherwise the first factor is offered, the others as links.
    if (!method && at.any && at.factors.length > 1) return reply.redirect('/reset/choose', 303);
    const type = method ?? at.factors[0]!;
    const page = await pageModel(deps, request, reply, { application: at.application, withCsrf: true });
    const shown = takeErrors(jar, request, reply, SECOND_FACTOR_PATH, page.tr);
    const errors: FieldError[] = [...shown.errors];
    let status = shown.status;
    let challenge: FactorChallenge | undefined;
    try {
      challenge = await start(request, reply, at, type, page.tr.lang);
    } catch (caught) {
      if (!isRekeyError(caught) || !SHOWN_ON_START.has(caught.code)) throw caught;
      const failure = challengeFailure(type, caught);
      setRetryAfter(reply, failure.error.vars?.retry_after);
      errors.push(fieldError(page.tr, failure.error.field, failure.error.code, failure.error.vars));
      if (status === 200) status = failure.status;
    }
    const others = at.factors.filter((f) => f !== type);
    return sendPage(reply, status, secondFactorPage(page, { type, errors, others, ...(challenge ? { challenge } : {}) }));
  });

  app.post(SECOND_FACTOR_PATH, PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const at = await flowAt(request, reply);
    if ('redirect' in at) return at.redirect;
    const page = await pageModel(deps, request, reply, { application: at.application, form, withCsrf: true });
    const type = postedType(form.get('type'), at.factors);
    // A form from before the flow moved on (another tab met this challenge): the page shows what is asked now.
    if (!type) return notRequested(page, at.factors, reply);
    const again = pageHref(page, SECOND_FACTOR_PATH, { method: type });
    let passed: Awaited<ReturnType<typeof flows.attemptSecondFactor>> | undefined;
    try {
      const failed = await checkChallengeForm(
        async (response) => {
          passed = await flows.attemptSecondFactor(at.flow.id, at.grant, response, requestContext(deps, request), type);
          return true;
        },
        type,
        form,
      );
      if (failed) return redirectWithErrors(jar, reply, again, failed.status, failed.errors);
    } catch (caught) {
      // Not about the answer (the flow has ended or moved on, a rate limit): the step's own table answers it.
      return answerFailure('second_factor', caught, { reply, jar, again });
    }
    const { sent: _sent, ...cookie } = at.cookie;
    jar.writeFlow(reply, { ...cookie, flowId: passed!.flow.id, grant: passed!.grant, ...(page.langParam ? { lang: page.langParam } : {}) });
    return reply.redirect(pathFor(passed!.flow, deps.clock.now()), 303);
  });

  // "Send a new code": forgets the code sent in this flow, and the GET sends another (within the factor's send limit).
  app.post(`${SECOND_FACTOR_PATH}/resend`, PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const at = await flowAt(request, reply);
    if ('redirect' in at) return at.redirect;
    const page = await pageModel(deps, request, reply, { application: at.application, form });
    const type = postedType(form.get('type'), at.factors);
    if (!type || !isSentCode(type)) return notRequested(page, at.factors, reply);
    const { sent: _sent, ...cookie } = at.cookie;
    jar.writeFlow(reply, cookie);
    return reply.redirect(pageHref(page, SECOND_FACTOR_PATH, { method: type }), 303);
  });
}
