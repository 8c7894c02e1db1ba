import type { FastifyInstance } from 'fastify';
import { allowedRedirects, safeRedirect, type Application } from '../apps/index.ts';
import type { Config } from '../config/schema.ts';
import { FLOW_STRATEGIES, type FlowStrategy } from '../resets/index.ts';
import { findApplication, loadFlow, pageModel, pathFor, readForm, requestContext, sendPage, type PagesDeps } from './context.ts';
import { answerFailure, fieldError } from './errors.ts';
import { checkDigits, checkEmail, MAX_EMAIL_LENGTH, queryString } from './form.ts';
import type { FieldError } from './layout.ts';
import { askPage, codePage, sentPage } from './views.ts';

export const PAGE_ROUTE = { config: { surface: 'browser' as const }, schema: { hide: true } };

/** What the page promises is what the mail says and the token does: both read these settings. */
const minutes = (config: Config, strategy: FlowStrategy): number => (strategy === 'email_code' ? config.resetCodeTtlMinutes : config.resetTokenTtlMinutes);
const isStrategy = (value: unknown): value is FlowStrategy => (FLOW_STRATEGIES as readonly unknown[]).includes(value);

/** A return address is carried only if the application allows it (SEC-23); the service checks it again. */
const allowedReturn = (application: Application, candidate: string | undefined) => safeRedirect(candidate, allowedRedirects(application)) ?? undefined;

/** The first steps: ask (`/reset`), "check your email" (`/reset/sent`) and the emailed code (`/reset/code`). */
export function startRoutes(app: FastifyInstance, deps: PagesDeps): void {
  app.get('/reset', PAGE_ROUTE, async (request, reply) => {
    const application = await findApplication(deps.apps, queryString(request.query, 'client_id', 200));
    const page = await pageModel(deps, request, reply, { application, withCsrf: true });
    const method = queryString(request.query, 'method') === 'email_code' ? 'email_code' : 'email_link';
    const redirectUrl = allowedReturn(application, queryString(request.query, 'redirect_url'));
    return sendPage(reply, 200, askPage(page, { method, redirectUrl }));
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

    const errors: FieldError[] = [];
    if (!email.ok) errors.push(fieldError(page.tr, 'email', email.code, { max: MAX_EMAIL_LENGTH }));
    if (!isStrategy(method)) errors.push(fieldError(page.tr, 'method-link', 'method_invalid'));
    const view = { email: typed, method: isStrategy(method) ? method : 'email_link', redirectUrl } as const;
    if (!email.ok || !isStrategy(method)) return sendPage(reply, 422, askPage(page, { ...view, errors }));

    try {
      // Same work and the same answer whatever the address (SEC-01): the page never learns whether it exists.
      const flow = await deps.flows.start({
        identifier: email.email,
        strategy: method,
        redirectUrl: redirectUrl ?? null,
        application,
        locale: page.tr.lang,
        ...requestContext(deps, request),
      });
      deps.jar.writeFlow(reply, { flowId: flow.id, ...(page.langParam ? { lang: page.langParam } : {}) });
      deps.jar.rotateCsrf(request, reply);
      return reply.redirect(method === 'email_code' ? '/reset/code' : '/reset/sent', 303);
    } catch (caught) {
      return answerFailure('ask', caught, { reply, jar: deps.jar, tr: page.tr }, (errors) => askPage(page, { ...view, errors }));
    }
  });

  app.get('/reset/sent', PAGE_ROUTE, async (request, reply) => {
    // The page is the same for every address; the flow only lends it the application's branding.
    const cookie = deps.jar.readFlow(request);
    const flow = cookie ? await deps.flows.get(cookie.flowId) : undefined;
    const application = flow ? await deps.apps.get(flow.application_id) : undefined;
    const page = await pageModel(deps, request, reply, application ? { application } : { clientId: queryString(request.query, 'client_id', 200) });
    return sendPage(reply, 200, sentPage(page, minutes(deps.config, 'email_link')));
  });

  app.get('/reset/code', PAGE_ROUTE, async (request, reply) => {
    const { flow, application } = await loadFlow(deps, request);
    const path = pathFor(flow, deps.clock.now());
    if (path !== '/reset/code') return reply.redirect(path, 303);
    const page = await pageModel(deps, request, reply, { application, withCsrf: true });
    return sendPage(reply, 200, codePage(page, minutes(deps.config, 'email_code')));
  });

  app.post('/reset/code', PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const { flow, application } = await loadFlow(deps, request);
    const path = pathFor(flow, deps.clock.now());
    if (path !== '/reset/code') return reply.redirect(path, 303);
    const page = await pageModel(deps, request, reply, { application, form, withCsrf: true });
    const code = checkDigits(form.get('code'), [6, 7, 8], 'code_required', 'code_format');
    if (!code.ok) return sendPage(reply, 422, codePage(page, minutes(deps.config, 'email_code'), [fieldError(page.tr, 'code', code.code)]));

    try {
      const result = await deps.flows.attemptCode(flow.id, code.code, requestContext(deps, request));
      deps.jar.writeFlow(reply, { flowId: result.flow.id, grant: result.grant, ...(page.langParam ? { lang: page.langParam } : {}) });
      return reply.redirect(pathFor(result.flow, deps.clock.now()), 303);
    } catch (caught) {
      return answerFailure('code', caught, { reply, jar: deps.jar, tr: page.tr }, (errors) => codePage(page, minutes(deps.config, 'email_code'), errors));
    }
  });
}
