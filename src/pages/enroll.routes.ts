import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRekeyError } from '../errors/index.ts';
import { isFactorType, type FactorChallenge, type FactorService, type FactorType } from '../factors/index.ts';
import { cookieNames, type SentCode } from './cookies.ts';
import { PageError, pageModel, readForm, sendPage, type PagesDeps } from './context.ts';
import { challengeFailure, challengePage, checkChallengeForm } from './factor-challenge.ts';
import { fieldError, redirectWithErrors, serviceVars, setRetryAfter, takeErrors } from './flash.ts';
import { queryString } from './form.ts';
import { checkedPage, ENROLL_PATH, enrollArrivalPage, enrollPage, recoveryCodesPage } from './enroll.views.ts';
import { pageHref, type FieldError, type PageModel } from './layout.ts';
import { PAGE_ROUTE } from './start.routes.ts';

/** What a followed enrollment link gives the browser: fifteen minutes to enroll, for that user only. */
const SESSION_SECONDS = 15 * 60;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,512}$/;

/**
 * The enrollment cookie's sealed content: the user, the session's end, and the "try it" code last sent (as the
 * reset's flow cookie keeps it), so showing the form again (a reload, another language, a wrong code) sends nothing.
 */
interface EnrollSession {
  userId: string;
  exp: number;
  sent?: SentCode;
}

const isSentCode = (type: FactorType): type is 'sms' | 'email' => type === 'sms' || type === 'email';

function sentCode(value: unknown): SentCode | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { type, to, until } = value as Record<string, unknown>;
  if ((type !== 'sms' && type !== 'email') || typeof to !== 'string' || to.length > 320 || typeof until !== 'number') return undefined;
  return { type, to, until };
}

/**
 * The hosted enrollment page (`/factors/enroll`) an application sends its signed-in user to with a one-time link
 * (`POST /user_management/users/:id/factor_enrollment_links`). The link's token is spent on arrival (it is handed
 * over by the application, not mailed, so no scanner fetches it first) and becomes a sealed, HttpOnly, 15-minute
 * cookie naming the user; the browser then moves to the clean path with a navigation of its own (the token leaves the
 * address bar, and the SameSite=Strict cookie is sent, which it would not be at the end of the application's
 * cross-site redirect).
 */
export function enrollRoutes(app: FastifyInstance, deps: PagesDeps, factors: FactorService): void {
  const { names, secure } = cookieNames(deps.config.baseUrl);
  const cookieName = names.flow.replace('rekey_flow', 'rekey_enroll');
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure };

  /** Rewriting the cookie (to keep a sent code) never lengthens the session: it ends when the link's fifteen minutes do. */
  const writeSession = (reply: FastifyReply, session: EnrollSession) =>
    reply.setCookie(cookieName, deps.tokens.seal(JSON.stringify(session)), {
      ...cookieOptions,
      maxAge: Math.max(1, Math.ceil((session.exp - deps.clock.now()) / 1000)),
    });

  function readSession(request: FastifyRequest): EnrollSession | undefined {
    const sealed = request.cookies?.[cookieName];
    const plain = sealed && sealed.length <= 4096 ? deps.tokens.unseal(sealed) : undefined;
    try {
      const value = plain ? (JSON.parse(plain) as Record<string, unknown>) : undefined;
      if (!value || typeof value.userId !== 'string' || typeof value.exp !== 'number' || value.exp <= deps.clock.now()) return undefined;
      const sent = sentCode(value.sent);
      return { userId: value.userId, exp: value.exp, ...(sent ? { sent } : {}) };
    } catch {
      return undefined;
    }
  }

  /** The user the browser's enrollment cookie names, read from the store again; otherwise the page that says to come back through the application. */
  async function signedIn(request: FastifyRequest) {
    const session = readSession(request);
    const user = session ? await factors.findUser(session.userId) : undefined;
    if (!session || !user) throw new PageError('enrollment_session_missing', 401, 'gone');
    return { user, session };
  }
  const sessionUser = async (request: FastifyRequest) => (await signedIn(request)).user;

  async function renderEnroll(
    request: FastifyRequest,
    reply: FastifyReply,
    page: PageModel,
    status: number,
    extra: { added?: boolean; errors?: FieldError[] } = {},
  ) {
    const user = await sessionUser(request);
    const [list, left, webauthnOptions] = await Promise.all([factors.list(user.id), factors.recoveryCodesLeft(user.id), factors.webauthn.begin(user)]);
    return sendPage(reply, status, enrollPage(page, { factors: list, recoveryCodesLeft: left, webauthnOptions, ...extra }));
  }

  app.get(ENROLL_PATH, PAGE_ROUTE, async (request, reply) => {
    if (Object.hasOwn((request.query ?? {}) as object, 'token')) {
      const token = queryString(request.query, 'token', 512);
      const userId = token && TOKEN_SHAPE.test(token) ? await factors.enrollmentLinks.redeem(token) : undefined;
      if (!userId) throw new PageError('enrollment_link_invalid', 400, 'link');
      writeSession(reply, { userId, exp: deps.clock.now() + SESSION_SECONDS * 1000 });
      const page = await pageModel(deps, request, reply);
      return sendPage(reply, 200, enrollArrivalPage(page));
    }
    const page = await pageModel(deps, request, reply, { withCsrf: true });
    const shown = takeErrors(deps.jar, request, reply, ENROLL_PATH, page.tr);
    return renderEnroll(request, reply, page, shown.status, { added: queryString(request.query, 'added') === '1', errors: shown.errors });
  });

  app.post(`${ENROLL_PATH}/webauthn`, PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const user = await sessionUser(request);
    const page = await pageModel(deps, request, reply, { form });
    const kind = form.get('kind') === 'platform' ? 'platform' : 'roaming';
    try {
      await factors.webauthn.finish(user, form.get('credential') ?? '', kind);
    } catch (caught) {
      if (!isRekeyError(caught)) throw caught;
      return redirectWithErrors(deps.jar, reply, pageHref(page, ENROLL_PATH), caught.status, [
        { field: 'webauthn', code: caught.code, vars: serviceVars(caught) },
      ]);
    }
    return reply.redirect(`${ENROLL_PATH}?added=1${page.langParam ? `&lang=${page.langParam}` : ''}`, 303);
  });

  app.post(`${ENROLL_PATH}/recovery-codes`, PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const user = await sessionUser(request);
    const page = await pageModel(deps, request, reply, { form });
    const { codes } = await factors.regenerateRecoveryCodes(user);
    // Answered here, not after a redirect: the codes exist only in this response.
    return sendPage(reply, 201, recoveryCodesPage(page, codes));
  });

  /** "Try it": the same challenge forms a reset shows, checked against the same budget. */
  const checkPath = `${ENROLL_PATH}/check`;
  const checkType = (value: string | undefined): FactorType => {
    if (!isFactorType(value) || value === 'email') throw new PageError('factor_type_invalid', 400);
    return value;
  };

  /**
   * The challenge to show: a code already sent in this session and still valid stands (sending another would void
   * the one the user may be typing); otherwise the factor starts one, and a sent code is kept in the cookie.
   */
  const alreadySent = (session: EnrollSession, type: FactorType): FactorChallenge | undefined => {
    const sent = session.sent;
    return isSentCode(type) && sent?.type === type && sent.until > deps.clock.now()
      ? ({ type, sentTo: sent.to, expiresAt: sent.until } as FactorChallenge)
      : undefined;
  };
  async function startCheck(reply: FastifyReply, at: Awaited<ReturnType<typeof signedIn>>, type: FactorType, locale: string) {
    const sent = alreadySent(at.session, type);
    if (sent) return sent;
    const challenge = await factors.challenge(at.user.id, type, { locale });
    if (isSentCode(type) && 'sentTo' in challenge) writeSession(reply, { ...at.session, sent: { type, to: challenge.sentTo, until: challenge.expiresAt } });
    return challenge;
  }

  app.get(checkPath, PAGE_ROUTE, async (request, reply) => {
    const at = await signedIn(request);
    const type = checkType(queryString(request.query, 'type', 40));
    const page = await pageModel(deps, request, reply, { withCsrf: true });
    const shown = takeErrors(deps.jar, request, reply, checkPath, page.tr);
    const view = { type, action: checkPath, path: checkPath, resendAction: `${checkPath}/resend`, keep: { type } };
    // Shown again after a wrong answer: a code already went out and stays the one to type (nothing is sent); WebAuthn
    // needs fresh options to try again, and without a factor of the type the answer's own error is enough.
    if (shown.errors.length > 0) {
      const challenge =
        type.startsWith('webauthn') && shown.status !== 429
          ? await factors.challenge(at.user.id, type, { locale: page.tr.lang }).catch(() => undefined)
          : alreadySent(at.session, type);
      return sendPage(reply, shown.status, challengePage(page, { ...view, errors: shown.errors, ...(challenge ? { challenge } : {}) }));
    }
    try {
      const challenge = await startCheck(reply, at, type, page.tr.lang);
      return sendPage(reply, 200, challengePage(page, { ...view, challenge }));
    } catch (caught) {
      const failure = challengeFailure(type, caught);
      setRetryAfter(reply, failure.error.vars?.retry_after);
      const errors: FieldError[] = [fieldError(page.tr, failure.error.field, failure.error.code, failure.error.vars)];
      return sendPage(reply, failure.status, challengePage(page, { ...view, errors }));
    }
  });

  // "Send a new code": forgets the code sent in this session, and the GET sends another (within the factor's send limit).
  app.post(`${checkPath}/resend`, PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const at = await signedIn(request);
    const type = checkType(form.get('type'));
    const page = await pageModel(deps, request, reply, { form });
    const { sent: _sent, ...session } = at.session;
    writeSession(reply, session);
    return reply.redirect(pageHref(page, checkPath, { type }), 303);
  });

  app.post(checkPath, PAGE_ROUTE, async (request, reply) => {
    const form = readForm(deps, request);
    const at = await signedIn(request);
    const type = checkType(form.get('type'));
    const page = await pageModel(deps, request, reply, { form, withCsrf: true });
    const failed = await checkChallengeForm((response) => factors.verifyResponse(at.user.id, type, response), type, form);
    if (!failed) {
      // The code did its work: a later "try it" sends a fresh one.
      const { sent, ...session } = at.session;
      if (sent) writeSession(reply, session);
      return sendPage(reply, 200, checkedPage(page));
    }
    return redirectWithErrors(deps.jar, reply, pageHref(page, checkPath, { type }), failed.status, failed.errors);
  });
}
