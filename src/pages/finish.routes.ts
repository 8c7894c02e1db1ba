import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { allowedRedirects, safeRedirect } from '../apps/index.ts';
import { isLang } from './messages/index.ts';
import { findApplication, loadFlow, PageError, pageModel, pathFor, readForm, requestContext, sendPage, type PagesDeps } from './context.ts';
import type { FlashError } from './cookies.ts';
import { answerFailure, fieldError, unusableLink } from './errors.ts';
import { redirectWithErrors, takeErrors } from './flash.ts';
import { queryString } from './form.ts';
import { pageHref } from './layout.ts';
import { messagePage } from './message.views.ts';
import { PAGE_ROUTE } from './start.routes.ts';
import { donePage, newPasswordPage, verifyPage } from './finish.views.ts';

/** What a link token looks like (32 random bytes, base64url), with room to spare; anything else is not one. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,512}$/;

/** The link landing, the new password and the end (`/reset/verify`, `/new`, `/done`); the second factor is in second-factor.routes.ts. */
export function finishRoutes(app: FastifyInstance, deps: PagesDeps): void {
  const { jar, flows } = deps;

  /** The flow must be at `path` and hold a grant; otherwise go where it is, or say it has ended. */
  async function flowAt(request: FastifyRequest, reply: FastifyReply, path: string) {
    const loaded = await loadFlow(deps, request);
    const actual = pathFor(loaded.flow, deps.clock.now());
    if (actual !== path) return { redirect: reply.redirect(actual, 303) } as const;
    if (!loaded.cookie.grant) throw new PageError('grant_invalid', 403, 'gone');
    return { ...loaded, grant: loaded.cookie.grant } as const;
  }

  app.get('/reset/verify', PAGE_ROUTE, async (request, reply) => {
    if (Object.hasOwn((request.query ?? {}) as object, 'token')) {
      // The landing (SEC-15, SEC-25): nothing changes on the server. The token moves into a short-lived HttpOnly
      // cookie and the browser is sent to a clean URL, so neither history, a Referer nor a log line keeps it.
      const token = queryString(request.query, 'token', 512);
      jar.writeLink(reply, { token: token !== undefined && TOKEN_SHAPE.test(token) ? token : null });
      const lang = queryString(request.query, 'lang', 8);
      const clientId = queryString(request.query, 'client_id', 200);
      const params = new URLSearchParams({ ...(clientId ? { client_id: clientId } : {}), ...(isLang(lang) ? { lang } : {}) });
      return reply.redirect(params.size ? `/reset/verify?${params}` : '/reset/verify', 303);
    }
    const page = await pageModel(deps, request, reply, { clientId: queryString(request.query, 'client_id', 200), withCsrf: true });
    // SameSite=Strict keeps the cookie from this GET when the link was opened from another site (a webmail):
    // then the page cannot check the link early, and the POST, which is same-site, carries it.
    const link = jar.readLink(request);
    if (link && (link.token === null || !(await flows.isLinkUsable(link.token, requestContext(deps, request))))) {
      jar.clearLink(reply);
      // SEC-04: one message for invalid, expired and used links, and nothing about the account.
      return sendPage(
        reply,
        400,
        messagePage(page, { title: page.tr.t('link_invalid_title'), error: fieldError(page.tr, undefined, 'link_invalid'), path: '/reset/verify' }),
      );
    }
    const shown = takeErrors(jar, request, reply, '/reset/verify', page.tr);
    return sendPage(reply, shown.status, verifyPage(page, shown.errors));
  });

  app.post('/reset/verify', PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const link = jar.readLink(request);
    const page = await pageModel(deps, request, reply, { clientId: form.get('client_id') || undefined, form, withCsrf: true });
    if (!link?.token) unusableLink(jar, reply);
    try {
      const { flow, grant } = await flows.attemptLink(link.token, requestContext(deps, request));
      jar.clearLink(reply);
      // The address typed earlier in this browser, if any, stays for the password manager's username field.
      const typed = jar.readFlow(request)?.email;
      jar.writeFlow(reply, { flowId: flow.id, grant, ...(page.langParam ? { lang: page.langParam } : {}), ...(typed ? { email: typed } : {}) });
      jar.rotateCsrf(request, reply);
      return reply.redirect(pathFor(flow, deps.clock.now()), 303);
    } catch (caught) {
      return answerFailure('verify', caught, { reply, jar, again: pageHref(page, '/reset/verify') });
    }
  });

  app.get('/reset/new', PAGE_ROUTE, async (request, reply) => {
    const at = await flowAt(request, reply, '/reset/new');
    if ('redirect' in at) return at.redirect;
    const page = await pageModel(deps, request, reply, { application: at.application, withCsrf: true });
    const shown = takeErrors(jar, request, reply, '/reset/new', page.tr);
    const username = (at.flow.user_id ? await deps.accountEmail?.(at.flow.user_id) : undefined) ?? at.cookie.email;
    const view = { minLength: deps.config.passwordMinLength, errors: shown.errors, values: shown.values, ...(username ? { username } : {}) };
    return sendPage(reply, shown.status, newPasswordPage(page, view));
  });

  app.post('/reset/new', PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const at = await flowAt(request, reply, '/reset/new');
    if ('redirect' in at) return at.redirect;
    const page = await pageModel(deps, request, reply, { application: at.application, form, withCsrf: true });
    const again = pageHref(page, '/reset/new');

    // Passwords are taken exactly as typed: no trimming, no normalising here (the service applies NFKC, SEC-32).
    const password = form.get('password') ?? '';
    const confirm = form.get('confirm') ?? '';
    const errors: FlashError[] = [];
    if (password === '') errors.push({ field: 'password', code: 'password_required' });
    if (confirm === '') errors.push({ field: 'confirm', code: 'confirm_required' });
    else if (password !== '' && confirm !== password) errors.push({ field: 'confirm', code: 'password_mismatch' });
    // The password the user got right is typed in again for them when only the confirmation was wrong; it rests
    // only sealed, in the short-lived form cookie of this browser, and goes with the GET that shows it.
    if (errors.length) return redirectWithErrors(jar, reply, again, 422, errors, password ? { password } : {});

    try {
      const { redirectTo } = await flows.setPassword(at.flow.id, at.grant, password, { ...requestContext(deps, request), signOutOfOtherSessions: true });
      // The flow is over: its cookie goes, and nothing takes its place (no session, no token: SEC-35).
      jar.clearFlow(reply);
      // The service returns an allow-listed target; checking again here keeps an unlisted one from ever being used (SEC-23).
      const target = safeRedirect(redirectTo, allowedRedirects(at.application));
      // Never a 303 off-site from here: Chromium applies the CSP's `form-action 'self'` to the redirects that answer a
      // form POST and would block it. Widening form-action to the application's origin on this page would let any
      // markup injected into it post the new password there, so the password form keeps posting to Rekey only: the
      // POST goes to the same-origin done page, which moves the browser on with a GET navigation (not subject to
      // form-action). The target travels in a sealed, short-lived cookie: no URL of Rekey takes a target to send anyone to.
      if (target) jar.writeDone(reply, { redirectTo: target });
      return reply.redirect(pageHref(page, '/reset/done'), 303);
    } catch (caught) {
      return answerFailure('new_password', caught, { reply, jar, again });
    }
  });

  app.get('/reset/done', PAGE_ROUTE, async (request, reply) => {
    jar.clearFlow(reply);
    const done = jar.readDone(request);
    if (done) jar.clearDone(reply);
    const application = await findApplication(deps.apps, queryString(request.query, 'client_id', 200));
    const page = await pageModel(deps, request, reply, { application });
    // Sealed by Rekey after the check, but checked again against this page's application: a cookie written for one
    // application never sends the browser to a place only another one lists (SEC-23).
    const redirectTo = safeRedirect(done?.redirectTo, allowedRedirects(application)) ?? undefined;
    return sendPage(reply, 200, donePage(page, { redirectTo }));
  });
}
