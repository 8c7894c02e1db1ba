import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MODULES } from './modules.ts';

/**
 * "A module has one door" (DESIGN.md, habits 2 and 9): code outside a domain module imports it only through
 * its `index.ts`. Platform folders (config, errors, store, http, platform, pages, cli) are imported directly.
 */
const SRC = dirname(fileURLToPath(import.meta.url));
const DOMAIN_MODULES = ['apps', 'users', 'sessions', 'resets', 'factors', 'delivery', 'notifications', 'actions'];
/** Imports still to move to a door, each `file → imported file` relative to src. */
const PENDING = new Set(['pages/assets.ts → apps/app.service.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [path] : [];
  });
}

/** Every relative module specifier of a file: `import … from`, `export … from`, `import '…'` and `import('…')`. */
function relativeImports(source: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  return [...source.matchAll(pattern)].map((match) => match[1]!);
}

const owner = (file: string): string | undefined => {
  const [top, ...rest] = relative(SRC, file).split(sep);
  return rest.length > 0 && DOMAIN_MODULES.includes(top!) ? top : undefined;
};

/** Imports of a domain module's inside from outside it (a test may use another module's `testing.ts`). */
function backDoorImports(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = owner(file);
    const isTest = /\.test\.ts$|(^|\/)testing\.ts$/.test(file);
    for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), specifier);
      const to = owner(target);
      if (!to || to === from) continue;
      const inside = relative(join(SRC, to), target);
      if (inside === 'index.ts' || (isTest && inside === 'testing.ts')) continue;
      const edge = `${relative(SRC, file)} → ${relative(SRC, target)}`;
      if (!PENDING.has(edge)) found.push(edge);
    }
  }
  return found;
}

describe('module doors', () => {
  it('no file imports another module except through its index.ts', () => {
    expect(backDoorImports()).toEqual([]);
  });

  it('the check sees a back-door import', () => {
    expect(relativeImports(`import type { X } from '../users/user.service.ts';\nexport { y } from "./z.ts";\nawait import('../a/b.ts');`)).toEqual([
      '../users/user.service.ts',
      './z.ts',
      '../a/b.ts',
    ]);
    expect(owner(join(SRC, 'users', 'user.service.ts'))).toBe('users');
    expect(owner(join(SRC, 'compose.ts'))).toBeUndefined();
  });

  it('compose.ts and app.ts name no module: they loop over src/modules.ts', () => {
    for (const file of ['compose.ts', 'app.ts']) {
      const targets = relativeImports(readFileSync(join(SRC, file), 'utf8')).map((specifier) => owner(resolve(SRC, specifier)));
      expect(targets.filter(Boolean), file).toEqual([]);
    }
  });

  it('lists every domain module once, and each declares its migrations at its door', () => {
    const names = MODULES.map((module) => module.name);
    expect([...names].sort()).toEqual([...DOMAIN_MODULES].sort());
    for (const module of MODULES) expect(typeof module.migrations, module.name).toBe('object');
  });
});
