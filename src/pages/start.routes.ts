import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { allowedRedirects, safeRedirect, type Application } from '../apps/index.ts';
import type { Config } from '../config/schema.ts';
import { FLOW_STRATEGIES, MAX_CODE_ATTEMPTS, type FlowStrategy } from '../resets/index.ts';
import { findApplication, loadFlow, PageError, pageModel, pathFor, readForm, requestContext, sendPage, type PagesDeps } from './context.ts';
import type { FlashError, FlowCookie } from './cookies.ts';
import { answerFailure } from './errors.ts';
import { redirectWithErrors, takeErrors } from './flash.ts';
import { checkDigits, checkEmail, MAX_EMAIL_LENGTH, queryString } from './form.ts';
import { pageHref } from './layout.ts';
import { askPage, codePage, sentPage, type ResendView } from './start.views.ts';

export const PAGE_ROUTE = { config: { surface: 'browser' as const }, schema: { hide: true } };

/** What the page promises is what the mail says and the token does: both read these settings. */
const minutes = (config: Config, strategy: FlowStrategy): number => (strategy === 'email_code' ? config.resetCodeTtlMinutes : config.resetTokenTtlMinutes);
const isStrategy = (value: unknown): value is FlowStrategy => (FLOW_STRATEGIES as readonly unknown[]).includes(value);

/** A return address is carried only if the application allows it (SEC-23); the service checks it again. */
const allowedReturn = (application: Application, candidate: string | undefined) => safeRedirect(candidate, allowedRedirects(application)) ?? undefined;

/** The first steps: ask (`/reset`), "check your email" (`/reset/sent`), the emailed code (`/reset/code`) and "send again". */
export function startRoutes(app: FastifyInstance, deps: PagesDeps): void {
  const { jar } = deps;
  // How long "send again" waits after a mail was asked for (`resendCooldownSeconds`). Pacing only: every resend is a
  // new request that the service's own limits (per IP, per address, mails per account) count like the first.
  const resendView = (cookie: FlowCookie | undefined): ResendView => {
    const since = cookie?.sentAt === undefined ? Infinity : deps.clock.now() - cookie.sentAt;
    return { waitSeconds: Math.max(0, Math.ceil((deps.config.resendCooldownSeconds * 1000 - since) / 1000)) };
  };

  /** Opens a flow for the typed address and moves the browser to the page that waits for its mail. */
  async function startFlow(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { email: string; method: FlowStrategy; application: Application; redirectUrl: string | null; lang?: FlowCookie['lang']; locale: string },
  ) {
    // Same work and the same answer whatever the address (SEC-01): the page never learns whether it exists.
    const flow = await deps.flows.start({
      identifier: input.email,
      strategy: input.method,
      redirectUrl: input.redirectUrl,
      application: input.application,
      locale: input.locale,
      ...requestContext(deps, request),
    });
    jar.writeFlow(reply, { flowId: flow.id, email: input.email, sentAt: deps.clock.now(), ...(input.lang ? { lang: input.lang } : {}) });
    return flow;
  }

  app.get('/reset', PAGE_ROUTE, async (request, reply) => {
    const application = await findApplication(deps.apps, queryString(request.query, 'client_id', 200));
    const page = await pageModel(deps, request, reply, { application, withCsrf: true });
    const shown = takeErrors(jar, request, reply, '/reset', page.tr);
    const chosen = shown.values.method ?? queryString(request.query, 'method');
    const method = chosen === 'email_code' ? 'email_code' : 'email_link';
    const redirectUrl = allowedReturn(application, queryString(request.query, 'redirect_url'));
    return sendPage(reply, shown.status, askPage(page, { method, redirectUrl, email: shown.values.email, errors: shown.errors }));
  });

  app.post('/reset', PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const application = await findApplication(deps.apps, form.get('client_id') || undefined);
    const page = await pageModel(deps, request, reply, { application, form, withCsrf: true });
    const method = form.get('method') ?? 'email_link';
    const redirectUrl = allowedReturn(application, form.get('redirect_url'));
    const email = checkEmail(form.get('email'));
    // A rejected email is shown back only if it is short enough to be one.
    const typed = (form.get('email') ?? '').length <= MAX_EMAIL_LENGTH ? form.get('email') : undefined;
    const again = pageHref(page, '/reset', { redirect_url: redirectUrl });
    const values = { ...(typed ? { email: typed } : {}), ...(isStrategy(method) ? { method } : {}) };

    const errors: FlashError[] = [];
    if (!email.ok) errors.push({ field: 'email', code: email.code, vars: { max: MAX_EMAIL_LENGTH } });
    if (!isStrategy(method)) errors.push({ field: 'method-link', code: 'method_invalid' });
    if (!email.ok || !isStrategy(method)) return redirectWithErrors(jar, reply, again, 422, errors, values);

    try {
      await startFlow(request, reply, {
        email: email.email,
        method,
        application,
        redirectUrl: redirectUrl ?? null,
        lang: page.langParam,
        locale: page.tr.lang,
      });
      jar.rotateCsrf(request, reply);
      return reply.redirect(method === 'email_code' ? '/reset/code' : '/reset/sent', 303);
    } catch (caught) {
      return answerFailure('ask', caught, { reply, jar, again, values });
    }
  });

  app.get('/reset/sent', PAGE_ROUTE, async (request, reply) => {
    // The page is the same for every address; the flow only lends it the application's branding.
    const cookie = jar.readFlow(request);
    const flow = cookie ? await deps.flows.get(cookie.flowId) : undefined;
    const application = flow ? await deps.apps.get(flow.application_id) : undefined;
    const page = await pageModel(deps, request, reply, {
      ...(application ? { application } : { clientId: queryString(request.query, 'client_id', 200) }),
      withCsrf: true,
    });
    const shown = takeErrors(jar, request, reply, '/reset/sent', page.tr);
    const view = { email: cookie?.email, minutes: minutes(deps.config, 'email_link'), resend: resendView(cookie), errors: shown.errors };
    return sendPage(reply, shown.status, sentPage(page, view));
  });

  app.get('/reset/code', PAGE_ROUTE, async (request, reply) => {
    const { cookie, flow, application } = await loadFlow(deps, request);
    const path = pathFor(flow, deps.clock.now());
    if (path !== '/reset/code') return reply.redirect(path, 303);
    const page = await pageModel(deps, request, reply, { application, withCsrf: true });
    const shown = takeErrors(jar, request, reply, '/reset/code', page.tr);
    const view = {
      email: cookie.email,
      minutes: minutes(deps.config, 'email_code'),
      triesLeft: Math.max(0, MAX_CODE_ATTEMPTS - flow.code_attempts),
      resend: resendView(cookie),
      errors: shown.errors,
      value: shown.values.code,
    };
    return sendPage(reply, shown.status, codePage(page, view));
  });

  app.post('/reset/code', PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const { cookie, flow, application } = await loadFlow(deps, request);
    const path = pathFor(flow, deps.clock.now());
    if (path !== '/reset/code') return reply.redirect(path, 303);
    const page = await pageModel(deps, request, reply, { application, form, withCsrf: true });
    const again = pageHref(page, '/reset/code');
    const code = checkDigits(form.get('code'), [6, 7, 8], 'code_required', 'code_format');
    if (!code.ok) return redirectWithErrors(jar, reply, again, 422, [{ field: 'code', code: code.code }], { code: (form.get('code') ?? '').slice(0, 24) });

    try {
      const result = await deps.flows.attemptCode(flow.id, code.code, requestContext(deps, request));
      jar.writeFlow(reply, { ...cookie, flowId: result.flow.id, grant: result.grant, ...(page.langParam ? { lang: page.langParam } : {}) });
      return reply.redirect(pathFor(result.flow, deps.clock.now()), 303);
    } catch (caught) {
      return answerFailure('code', caught, { reply, jar, again });
    }
  });

  /** "Send again" and "use a code instead": a new request for the address this browser typed, within the same limits. */
  app.post('/reset/resend', PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const cookie = jar.readFlow(request);
    const previous = cookie ? await deps.flows.get(cookie.flowId) : undefined;
    if (!cookie?.email || !previous) throw new PageError('resend_unavailable', 400, 'gone');
    const method = form.get('method');
    if (!isStrategy(method)) throw new PageError('field_invalid', 400);
    const application = (await deps.apps.get(previous.application_id)) ?? (await deps.apps.getDefault());
    const page = await pageModel(deps, request, reply, { application, form, withCsrf: true });
    const back = pageHref(page, form.get('back') === 'code' ? '/reset/code' : '/reset/sent');

    const wait = resendView(cookie).waitSeconds;
    if (method === previous.strategy && wait > 0) return redirectWithErrors(jar, reply, back, 429, [{ code: 'resend_too_soon', vars: { retry_after: wait } }]);
    try {
      const input = { email: cookie.email, method, application, redirectUrl: previous.redirect_url, lang: cookie.lang, locale: page.tr.lang };
      await startFlow(request, reply, input);
      return reply.redirect(method === 'email_code' ? '/reset/code' : '/reset/sent', 303);
    } catch (caught) {
      return answerFailure('ask', caught, { reply, jar, again: back });
    }
  });
}
