import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRekeyError } from '../errors/index.ts';
import type { FactorType } from '../factors/index.ts';
import { html } from '../platform/html.ts';
import { actionText, factorLabel, type ActionMessageId } from './actions.messages.ts';
import { loadFlow, PageError, pageModel, pathFor, readForm, requestContext, sendPage, type PagesDeps } from './context.ts';
import { ParsedForm, queryString } from './form.ts';
import { redirectWithErrors, takeErrors } from './flash.ts';
import { formHidden, layout, pageHref, type FieldError, type PageModel } from './layout.ts';
import { isLang } from './messages/index.ts';
import { SECOND_FACTOR_PATH } from './second-factor.views.ts';
import { PAGE_ROUTE } from './start.routes.ts';

const STATE_SHAPE = /^[A-Za-z0-9_-]{20,200}$/;

const t = (page: PageModel, id: ActionMessageId) => actionText(page.tr.lang, id);

function choosePage(page: PageModel, factors: FactorType[], errors: FieldError[] = []): string {
  const options = factors.map(
    (type, i) => html`<div class="choice">
<input type="radio" id="method-${type}" name="method" value="${type}"${i === 0 && html` checked`}>
<label for="method-${type}">${factorLabel(page.tr.lang, type)}</label>
</div>`,
  );
  const body = html`<p>${t(page, 'choose_intro')}</p>
<form method="post" action="/reset/choose">
${formHidden(page)}
<fieldset class="choices"><legend>${t(page, 'choose_legend')}</legend>
${options}
</fieldset>
<button type="submit">${t(page, 'choose_submit')}</button>
</form>`;
  return layout(page, { title: t(page, 'choose_title'), path: '/reset/choose', errors, body });
}

/** Leaves for the action's URL with a GET navigation: a 303 answering the verify form's POST would fall under `form-action 'self'`. */
function redirectPage(page: PageModel, url: string): string {
  const body = html`<p>${t(page, 'redirect_intro')}</p>
<p><a class="button" href="${url}">${t(page, 'redirect_link')}</a></p>`;
  return layout(page, { title: t(page, 'redirect_title'), path: '/reset/redirect', body, refreshTo: url });
}

/**
 * Back from another site without the flow cookie (SameSite=Strict keeps it off a cross-site arrival): this page
 * goes on from Rekey's own origin, where the browser sends it. A GET moves on by itself; a POST's fields are
 * carried in a form the user sends on.
 */
function continuePage(page: PageModel, fields: Array<[string, string]>, refreshTo?: string): string {
  const hidden = fields.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  const body = html`<p>${t(page, 'continue_intro')}</p>
<form method="post" action="/reset/continue">
${formHidden(page)}
${hidden}
<button type="submit">${t(page, 'continue_submit')}</button>
</form>`;
  return layout(page, { title: t(page, 'continue_title'), path: '/reset/continue', body, ...(refreshTo ? { refreshTo } : {}) });
}

function deadEnd(page: PageModel, reply: FastifyReply, status: number, id: ActionMessageId): FastifyReply {
  const body = html`<p><a class="button" href="${pageHref(page, '/reset')}">${page.tr.t('start_again')}</a></p>`;
  return sendPage(
    reply,
    status,
    layout(page, {
      title: t(page, 'state_invalid_title'),
      path: '/reset',
      errors: [{ code: id === 'flow_missing' ? 'flow_not_found' : id, message: t(page, id) }],
      body,
    }),
  );
}

/** The pages of the post-challenge actions: choose a factor, leave for an action's URL, and come back. */
export function actionRoutes(app: FastifyInstance, deps: PagesDeps): void {
  const { jar, flows } = deps;

  app.get('/reset/redirect', PAGE_ROUTE, async (request, reply) => {
    const { flow, application } = await loadFlow(deps, request);
    const step = await flows.pendingStep(flow);
    if (!step?.redirect) return reply.redirect(pathFor(flow, deps.clock.now()), 303);
    const page = await pageModel(deps, request, reply, { application });
    return sendPage(reply, 200, redirectPage(page, step.redirect.url));
  });

  app.get('/reset/choose', PAGE_ROUTE, async (request, reply) => {
    const { flow, application } = await loadFlow(deps, request);
    const factors = (await flows.pendingStep(flow))?.challenge?.factors ?? [];
    if (factors.length === 0) return reply.redirect(pathFor(flow, deps.clock.now()), 303);
    const page = await pageModel(deps, request, reply, { application, withCsrf: true });
    const shown = takeErrors(jar, request, reply, '/reset/choose', page.tr);
    return sendPage(reply, shown.status, choosePage(page, factors, shown.errors));
  });

  app.post('/reset/choose', PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const { flow, application } = await loadFlow(deps, request);
    const factors = (await flows.pendingStep(flow))?.challenge?.factors ?? [];
    const method = factors.find((f) => f === form.get('method'));
    if (!method) {
      const page = await pageModel(deps, request, reply, { application, form });
      return redirectWithErrors(jar, reply, pageHref(page, '/reset/choose'), 422, [
        { field: `method-${factors[0] ?? 'totp'}`, code: 'factor_choice_required' },
      ]);
    }
    const lang = form.get('lang');
    return reply.redirect(`${SECOND_FACTOR_PATH}?method=${method}${isLang(lang) ? `&lang=${lang}` : ''}`, 303);
  });

  const resume = async (request: FastifyRequest, reply: FastifyReply, fields: Array<[string, string]>) => {
    const query = Object.fromEntries(
      Object.entries((request.query ?? {}) as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    const state = queryString(request.query, 'state', 200) ?? fields.find(([k]) => k === 'state')?.[1];
    const page = await pageModel(deps, request, reply, { withCsrf: true });
    if (!state || !STATE_SHAPE.test(state)) return deadEnd(page, reply, 400, 'action_state_invalid');
    const cookie = jar.readFlow(request);
    if (!cookie?.grant) {
      if (request.method === 'POST') return sendPage(reply, 200, continuePage(page, fields));
      if (query.resumed === '1') return deadEnd(page, reply, 400, 'flow_missing');
      const again = new URLSearchParams({ ...query, resumed: '1' });
      return sendPage(reply, 200, continuePage(page, [...Object.entries(query)], `/reset/continue?${again}`));
    }
    const { resumed: _resumed, ...sentQuery } = query;
    const body = Object.fromEntries(fields.filter(([k]) => k !== 'csrf' && k !== 'lang'));
    const base = requestContext(deps, request);
    const context = { ...base, action: { ...base.action!, method: request.method, query: sentQuery, body } };
    try {
      const { flow, grant } = await flows.continueAfterRedirect(cookie.flowId, cookie.grant, state, context);
      jar.writeFlow(reply, { ...cookie, flowId: flow.id, grant });
      return reply.redirect(pathFor(flow, deps.clock.now()), 303);
    } catch (caught) {
      if (!isRekeyError(caught)) throw caught;
      if (caught.code === 'action_state_invalid') return deadEnd(page, reply, 400, 'action_state_invalid');
      if (caught.code === 'flow_denied') throw new PageError('flow_denied', 403, 'gone');
      if (caught.code === 'flow_expired') throw new PageError('flow_expired', 410, 'gone');
      if (caught.code === 'rate_limited') throw caught;
      throw new PageError('flow_not_found', 404, 'gone');
    }
  };

  app.get('/reset/continue', PAGE_ROUTE, async (request, reply) => resume(request, reply, []));

  // Another site's page posts here (Auth0 recommends POSTing the token back), so this one form takes posts from any
  // origin without a CSRF token: the single-use state and the flow cookie's grant (which a cross-site post does not
  // carry) are what it checks. A post that does carry the cookie came from Rekey's own continue form, CSRF-checked.
  app.post('/reset/continue', PAGE_ROUTE, async (request, reply) => {
    const form = request.body;
    if (!(form instanceof ParsedForm)) throw new PageError('unsupported_media_type', 415, 'refused');
    if (form.malformed) throw new PageError('form_encoding', 400);
    if (form.repeated) throw new PageError('field_invalid', 400);
    if (jar.readFlow(request)?.grant) readForm(deps, request);
    return resume(request, reply, form.entries());
  });
}
