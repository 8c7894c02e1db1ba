import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApplicationService } from '../apps/app.service.ts';
import { blocklistPath } from '../users/index.ts';
import { brandColor, brandCss } from './branding.ts';
import { FAVICON } from './layout.ts';

/**
 * The pages' own static assets, served from Rekey's origin so the CSP can stay at `script-src 'self'; style-src
 * 'self'` with no inline code and nothing third-party (SEC-24).
 */

const CSS = `:root { color-scheme: light dark; --brand: #2563eb; --on-brand: #ffffff; --error: #b91c1c; --muted: #4b5563; --line: #9ca3af; --bg: #f3f4f6; --card: #ffffff; --text: #111827; }
@media (max-width: 30rem) { .card { padding: 1.25rem; margin-top: 1rem; } button, .button { width: 100%; } .link-button { width: auto; } }
@media (prefers-color-scheme: dark) { :root { --error: #fca5a5; --muted: #d1d5db; --line: #6b7280; --bg: #111827; --card: #1f2937; --text: #f9fafb; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; background: var(--bg); color: var(--text); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; display: flex; flex-direction: column; align-items: center; }
.card { width: min(30rem, 100% - 2rem); margin: 2.5rem 0 1rem; padding: 2rem; background: var(--card); border-radius: 12px; border-top: 6px solid var(--brand); box-shadow: 0 1px 3px rgb(0 0 0 / 0.15); }
.brand { display: flex; align-items: center; gap: .75rem; margin-bottom: 1rem; }
.logo { max-height: 40px; max-width: 160px; }
.app-name { margin: 0; font-weight: 600; color: var(--muted); }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }
p { margin: 0 0 1rem; }
.field, .choices { margin: 0 0 1.25rem; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
.hint { color: var(--muted); font-size: .9rem; margin: 0 0 .35rem; }
input[type=email], input[type=text], input[type=password] { width: 100%; font: inherit; padding: .55rem .7rem; border: 2px solid var(--line); border-radius: 8px; background: var(--card); color: var(--text); }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--brand); outline-offset: 2px; }
#code, #totp { max-width: 10rem; letter-spacing: .2em; font-variant-numeric: tabular-nums; }
fieldset { border: 0; padding: 0; }
legend { font-weight: 600; margin-bottom: .5rem; padding: 0; }
.choice { display: grid; grid-template-columns: auto 1fr; column-gap: .6rem; align-items: start; margin: 0 0 .6rem; }
.choice input { margin: .3rem 0 0; width: 1.15rem; height: 1.15rem; accent-color: var(--brand); }
.choice label { margin: 0; }
.choice .hint { grid-column: 2; }
button, .button { display: inline-block; font: inherit; font-weight: 600; padding: .65rem 1.2rem; border: 2px solid var(--brand); border-radius: 8px; background: var(--brand); color: var(--on-brand); cursor: pointer; text-decoration: none; text-align: center; }
.secondary-button { background: transparent; color: var(--text); border-color: var(--line); }
button:disabled { cursor: not-allowed; opacity: .6; }
.link-button { background: none; border: 0; padding: .25rem 0; color: var(--brand); text-decoration: underline; font-weight: 600; }
.address { font-size: 1.05rem; overflow-wrap: anywhere; padding: .5rem .75rem; background: var(--bg); border-radius: 8px; }
.resend, .switch { margin: 1.25rem 0 0; padding-top: 1rem; border-top: 1px solid var(--line); }
.tries { color: var(--muted); font-size: .9rem; }
.reveal-row { margin: -.75rem 0 1rem; }
.reveal-row:has(button[hidden]) { display: none; }
.support { margin: 1.5rem 0 0; font-size: .9rem; color: var(--muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.field-invalid input[type=email], .field-invalid input[type=text], .field-invalid input[type=password] { border-color: var(--error); }
.field-error { color: var(--error); font-weight: 600; margin: 0 0 .35rem; }
.error-summary { border: 3px solid var(--error); border-radius: 8px; padding: .75rem 1rem; margin: 0 0 1.25rem; }
.error-summary h2 { font-size: 1.1rem; margin: 0 0 .35rem; }
.error-summary ul { margin: 0; padding-left: 1.1rem; }
.error-summary a, .error-summary li { color: var(--error); font-weight: 600; }
.secondary { margin-top: 1.25rem; color: var(--muted); }
.message { border-left: 5px solid var(--error); background: var(--bg); border-radius: 4px; padding: .75rem 1rem; margin: 0 0 1.25rem; }
.message p { margin: 0; }
a { color: var(--brand); }
.strength { margin: -.5rem 0 1.25rem; }
.strength label { font-weight: 400; font-size: .9rem; color: var(--muted); }
.strength .bar { height: .6rem; margin-top: .2rem; background: var(--bg); border: 1px solid var(--line); border-radius: 999px; overflow: hidden; }
.strength .bar span { display: block; height: 100%; width: 0; background: #b91c1c; }
.strength[data-score="0"] .bar span { width: 12%; }
.strength[data-score="1"] .bar span { width: 32%; }
.strength[data-score="2"] .bar span { width: 56%; background: #b45309; }
.strength[data-score="3"] .bar span { width: 80%; background: #15803d; }
.strength[data-score="4"] .bar span { width: 100%; background: #15803d; }
.strength-text { font-size: .95rem; font-weight: 600; margin: .25rem 0 0; min-height: 1.35em; }
[hidden] { display: none !important; }
footer { margin: 0 0 2rem; }
.languages { list-style: none; display: flex; gap: 1rem; padding: 0; margin: 0; }
.languages a[aria-current] { font-weight: 700; text-decoration: none; color: var(--text); }
`;

export interface Asset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  type: string;
}

export const asset = (body: string | Buffer, type: string): Asset => {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return { body: bytes, gzip: gzipSync(bytes), etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`, type };
};

/** Rekey's icon (a key), for pages of applications without a logo, and for `/favicon.ico`. */
const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2563eb"/><circle cx="12" cy="16" r="5.5" fill="none" stroke="#fff" stroke-width="3"/><path d="M17 16h10M23 16v4M27 16v3" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>\n`;

/**
 * The pages' scripts are small hand-written files served as they are (no bundler): `pages.client.js` on the pages
 * that use it (reveal toggle, resend countdown), and `meter.client.js`, which `pages.client.js` loads only once the
 * password field is used. Both are copied next to this module by `npm run build`.
 */
const clientScript = (name: string) => () => readFile(new URL(`./${name}`, import.meta.url));

/**
 * The strength meter's list of well-known passwords: the 10,000 most frequent of the server's blocklist source
 * (SEC-31) that are at least 8 characters long, the shortest minimum the policy allows (about 3,300 entries, 14 KB
 * gzipped). Advice only; the server checks its full list whatever the meter said.
 */
const METER_LIST_RANK = 10_000;
const METER_LIST_MIN_LENGTH = 8;

export async function meterList(path = blocklistPath()): Promise<string> {
  const kept = new Set<string>();
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let rank = 0;
  for await (const line of lines) {
    if (rank++ >= METER_LIST_RANK) break;
    const entry = line.normalize('NFKC').toLowerCase();
    if ([...entry].length >= METER_LIST_MIN_LENGTH) kept.add(entry);
  }
  lines.close();
  return `${[...kept].join('\n')}\n`;
}

/** An asset made once, on first use; a failure is logged and tried again on a later request. */
function lazyAsset(app: FastifyInstance, make: () => Promise<string | Buffer>, type: string, fallback: string): () => Promise<Asset> {
  let made: Promise<Asset> | undefined;
  return () => {
    made ??= make()
      .then((body) => asset(body, type))
      .catch((error: unknown) => {
        made = undefined;
        app.log.error({ err: error }, 'page asset unavailable');
        return asset(fallback, type);
      });
    return made;
  };
}

export function assetRoutes(app: FastifyInstance, apps: ApplicationService): void {
  const css = asset(CSS, 'text/css; charset=utf-8');
  const icon = asset(FAVICON_SVG, 'image/svg+xml');
  const script = 'text/javascript; charset=utf-8';
  const pagesJs = lazyAsset(app, clientScript('pages.client.js'), script, '/* unavailable */\n');
  const meterJs = lazyAsset(app, clientScript('meter.client.js'), script, '/* unavailable */\n');
  const list = lazyAsset(app, () => meterList(), 'text/plain; charset=utf-8', '');

  const route = { config: { surface: 'browser' as const }, schema: { hide: true } };
  app.get('/assets/rekey.css', route, async (request, reply) => sendAsset(request, reply, css));
  app.get(FAVICON, route, async (request, reply) => sendAsset(request, reply, icon));
  // Browsers ask for it on their own on pages that name no icon (the development mailbox, a JSON answer).
  app.get('/favicon.ico', route, async (request, reply) => sendAsset(request, reply, icon));
  app.get('/assets/pages.js', route, async (request, reply) => sendAsset(request, reply, await pagesJs()));
  app.get('/assets/meter.js', route, async (request, reply) => sendAsset(request, reply, await meterJs()));
  app.get('/assets/common-passwords.txt', route, async (request, reply) => sendAsset(request, reply, await list()));
  app.get('/assets/brand/:file', route, async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const id = /^([A-Za-z0-9_-]{1,100})\.css$/.exec(file)?.[1];
    const application = id ? await apps.get(id) : undefined;
    const color = application ? brandColor(application) : undefined;
    if (!color) return reply.code(404).type('text/css; charset=utf-8').send('/* no brand colour */\n');
    return sendAsset(request, reply, asset(brandCss(color), 'text/css; charset=utf-8'));
  });
}

export function sendAsset(request: FastifyRequest, reply: FastifyReply, file: Asset) {
  // Revalidated on each use (cheap with the ETag) so a new release is picked up at once.
  reply.header('cache-control', 'no-cache').header('etag', file.etag).header('vary', 'accept-encoding').type(file.type);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(file.gzip);
  return reply.send(file.body);
}
