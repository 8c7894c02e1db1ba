/**
 * A compiled copy of Rekey, made the way `npm ci` makes one (`npm run build`, the `prepare` script), in a
 * directory of its own: `package.json`, `tsconfig*.json`, `bin/` and `src/` copied, `node_modules` linked.
 * The bench and test/build.test.ts run this copy's `bin/rekey.js`, so what they measure is what `npm start`
 * runs (plain Node on dist/), pinned for the whole run even while src/ is being edited.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CompiledCopy {
  root: string;
  /** `<root>/bin/rekey.js`: `node <bin> serve` is `npm start`. */
  bin: string;
  dist: string;
  /** Seconds `npm run build` took. */
  buildSeconds: number;
}

/** Copies the project into `root` (emptied first) and runs `npm run build` there. */
export function compiledCopy(root: string): CompiledCopy {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, file), join(root, file));
  for (const dir of ['bin', 'src']) cpSync(join(ROOT, dir), join(root, dir), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  const started = performance.now();
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const buildSeconds = (performance.now() - started) / 1000;
  const dist = join(root, 'dist');
  if (!existsSync(join(dist, 'cli', 'index.js'))) throw new Error(`npm run build left no dist/cli/index.js in ${root}`);
  return { root, bin: join(root, 'bin', 'rekey.js'), dist, buildSeconds };
}

/**
 * `entry` (a bench script importing `../src/*.ts`) bundled into one plain-JavaScript file whose Rekey imports
 * point at the copy's dist/ instead, and whose packages stay external: run with `node`, no loader.
 */
export async function bundleAgainstDist(entry: string, copy: CompiledCopy, outfile: string): Promise<string> {
  const src = join(ROOT, 'src');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
    plugins: [
      {
        name: 'rekey-dist',
        setup(builder) {
          builder.onResolve({ filter: /\.ts$/ }, (args) => {
            const path = resolve(args.resolveDir, args.path);
            if (!path.startsWith(`${src}/`)) return undefined;
            return { path: join(copy.dist, relative(src, path)).replace(/\.ts$/, '.js'), external: true };
          });
        },
      },
    ],
  });
  return outfile;
}

let shared: CompiledCopy | undefined;

/** The bench's compiled copy in bench/.work/compiled, built once per bench process. */
export function benchCopy(): CompiledCopy {
  shared ??= compiledCopy(join(ROOT, 'bench', '.work', 'compiled'));
  return shared;
}
