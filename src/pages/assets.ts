import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApplicationService } from '../apps/app.service.ts';
import { brandColor, brandCss } from './branding.ts';

/**
 * The pages' own static assets, served from Rekey's origin so the CSP can stay at `script-src 'self'; style-src
 * 'self'` with no inline code and nothing third-party (SEC-24).
 */

const CSS = `:root { color-scheme: light dark; --brand: #2563eb; --on-brand: #ffffff; --error: #b91c1c; --muted: #4b5563; --line: #9ca3af; --bg: #f3f4f6; --card: #ffffff; --text: #111827; }
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
button, .button { display: inline-block; font: inherit; font-weight: 600; padding: .65rem 1.2rem; border: 0; border-radius: 8px; background: var(--brand); color: var(--on-brand); cursor: pointer; text-decoration: none; }
.field-invalid input[type=email], .field-invalid input[type=text], .field-invalid input[type=password] { border-color: var(--error); }
.field-error { color: var(--error); font-weight: 600; margin: 0 0 .35rem; }
.error-summary { border: 3px solid var(--error); border-radius: 8px; padding: .75rem 1rem; margin: 0 0 1.25rem; }
.error-summary h2 { font-size: 1.1rem; margin: 0 0 .35rem; }
.error-summary ul { margin: 0; padding-left: 1.1rem; }
.error-summary a, .error-summary li { color: var(--error); font-weight: 600; }
.secondary { margin-top: 1.25rem; color: var(--muted); }
a { color: var(--brand); }
.strength { margin: -.5rem 0 1.25rem; }
.strength label { font-weight: 400; font-size: .9rem; color: var(--muted); }
.strength meter { width: 100%; height: .6rem; }
.strength-text { font-size: .9rem; margin: .2rem 0 0; min-height: 1.35em; }
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

/** The strength meter's source, bundled with its dictionaries into one same-origin script. */
const METER_ENTRY = fileURLToPath(new URL('./meter.client.js', import.meta.url));
/**
 * Where `npm run build` leaves that bundle, next to this module: present in dist/, absent in src/. Reading it
 * keeps esbuild (and its service process) out of a production server; running from src bundles on demand.
 */
const METER_BUNDLE = fileURLToPath(new URL('./meter.bundle.js', import.meta.url));

export async function bundleMeter(): Promise<Buffer> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [METER_ENTRY],
    bundle: true,
    write: false,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    legalComments: 'eof',
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no output for the strength meter');
  return Buffer.from(output.contents);
}

/** Build step (`npm run build`, run from dist/): writes the bundle the compiled server serves. */
export async function writeMeterBundle(): Promise<string> {
  await writeFile(METER_BUNDLE, await bundleMeter());
  return METER_BUNDLE;
}

/** The prebuilt bundle when there is one, else a fresh bundle of the sources. */
async function loadMeterScript(): Promise<Buffer> {
  return existsSync(METER_BUNDLE) ? readFile(METER_BUNDLE) : bundleMeter();
}

export function assetRoutes(app: FastifyInstance, apps: ApplicationService): void {
  const css = asset(CSS, 'text/css; charset=utf-8');
  let meter: Promise<Asset> | undefined;
  const loadMeter = (): Promise<Asset> => {
    meter ??= loadMeterScript()
      .then((body) => asset(body, 'text/javascript; charset=utf-8'))
      .catch((error: unknown) => {
        // The pages work without the meter; try again on a later request rather than keep a failure.
        meter = undefined;
        app.log.error({ err: error }, 'strength meter bundle failed');
        return asset('/* the strength meter is unavailable */\n', 'text/javascript; charset=utf-8');
      });
    return meter;
  };

  const route = { config: { surface: 'browser' as const }, schema: { hide: true } };
  app.get('/assets/rekey.css', route, async (request, reply) => sendAsset(request, reply, css));
  app.get('/assets/meter.js', route, async (request, reply) => sendAsset(request, reply, await loadMeter()));
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
