import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { asset, sendAsset, type Asset } from './assets.ts';

/** The WebAuthn ceremonies' script with @simplewebauthn/browser, bundled at build time: served from Rekey's origin, no CDN. */
const ENTRY = fileURLToPath(new URL('./webauthn.client.js', import.meta.url));
/** Where `npm run build` leaves the bundle (dist/ only); running from src bundles on first use. */
const BUNDLE = fileURLToPath(new URL('./webauthn.bundle.js', import.meta.url));

export const WEBAUTHN_SCRIPT = '/assets/webauthn.js';

export async function bundleWebAuthn(): Promise<Buffer> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [ENTRY],
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
  if (!output) throw new Error('esbuild produced no output for the WebAuthn script');
  return Buffer.from(output.contents);
}

/** Build step (`npm run build`, run from dist/). */
export async function writeWebAuthnBundle(): Promise<string> {
  await writeFile(BUNDLE, await bundleWebAuthn());
  return BUNDLE;
}

export function webauthnAssetRoutes(app: FastifyInstance): void {
  let script: Promise<Asset> | undefined;
  const load = (): Promise<Asset> => {
    script ??= (existsSync(BUNDLE) ? readFile(BUNDLE) : bundleWebAuthn())
      .then((body) => asset(body, 'text/javascript; charset=utf-8'))
      .catch((error: unknown) => {
        // Try again on a later request rather than keep a failure.
        script = undefined;
        app.log.error({ err: error }, 'WebAuthn script bundle failed');
        return asset('/* the WebAuthn script is unavailable */\n', 'text/javascript; charset=utf-8');
      });
    return script;
  };
  app.get(WEBAUTHN_SCRIPT, { config: { surface: 'browser' as const }, schema: { hide: true } }, async (request, reply) =>
    sendAsset(request, reply, await load()),
  );
}
