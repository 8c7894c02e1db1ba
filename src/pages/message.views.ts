import { html } from '../platform/html.ts';
import { layout, pageHref, type FieldError, type PageModel } from './layout.ts';

export interface MessageView {
  title: string;
  error: FieldError;
  /** The page the language links point at; by default the start of the flow. */
  path?: string;
}

/**
 * A dead end that says what went wrong (the summary holds the message, with when to come back after a rate limit)
 * and offers the way back to the start, in the application's branding (flow gone, link unusable, refused…).
 */
export function messagePage(page: PageModel, view: MessageView): string {
  // One message under a heading that already says something is wrong: a plain notice, not a form's error summary.
  const body = html`<div class="message" role="alert"><p data-code="${view.error.code}">${view.error.message}</p></div>
<p><a class="button" href="${pageHref(page, '/reset')}">${page.tr.t('start_again')}</a></p>`;
  return layout(page, { title: view.title, path: view.path ?? '/reset', body });
}
