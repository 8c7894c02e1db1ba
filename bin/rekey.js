#!/usr/bin/env node
// Runs the JavaScript that `npm ci` (the `prepare` script) compiled into dist/: plain Node, no loader, no
// bundler at run time. The TypeScript in src/ runs through tsx instead when this process was started with tsx
// (`npm run dev`), or when dist/ is missing or older than src/ — a checkout built before an edit or a `git pull`
// must not quietly run the old code.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { SERVE_V8_FLAGS, serveTuning, serving } from './serve-tuning.js';

const SRC = new URL('../src/', import.meta.url);
const DIST_ENTRY = new URL('../dist/cli/index.js', import.meta.url);

/** `node --import tsx`, `tsx bin/rekey.js`, `tsx watch bin/rekey.js`: tsx's loader is already in this process. */
const startedWithTsx = process.execArgv.some((arg) => /(^|[=/\\])tsx([/\\]|$)/.test(arg));

/** Newest modification time of the files the build reads (tests excluded); 0 when there are no sources. */
function newestSource(directory) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const url = new URL(entry.name + (entry.isDirectory() ? '/' : ''), directory);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(url));
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(url).mtimeMs);
  }
  return newest;
}

/** Why dist/ cannot be trusted to be the current code, or undefined when it can. */
function distProblem() {
  if (!existsSync(DIST_ENTRY)) return 'dist/ is missing';
  if (newestSource(SRC) > statSync(DIST_ENTRY).mtimeMs) return 'src/ changed after the last build';
  return undefined;
}

async function runSources() {
  if (!startedWithTsx) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  return import('../src/cli/index.ts');
}

function tsxInstalled() {
  try {
    import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

async function loadCli() {
  if (startedWithTsx) return runSources();
  const problem = distProblem();
  if (!problem) return import(DIST_ENTRY.href);
  if (tsxInstalled()) {
    process.stderr.write(`rekey: ${problem}; running the TypeScript sources through tsx (\`npm run build\` compiles them)\n`);
    return runSources();
  }
  // tsx is a development dependency: an install without it has only what was built.
  if (!existsSync(DIST_ENTRY)) {
    process.stderr.write('rekey: dist/ is missing and tsx is not installed: run `npm run build` (with the development dependencies) first\n');
    process.exit(1);
  }
  process.stderr.write(`rekey: ${problem} and tsx is not installed; running the last build (\`npm run build\` updates it)\n`);
  return import(DIST_ENTRY.href);
}

/**
 * Runs this command again as a child with the tuning; this process only relays signals and the exit. The
 * child has a process group of its own, so a terminal's Ctrl-C reaches it once (relayed), not twice; and it
 * ends at once when this process is killed outright (`kill -9`: no signal can be relayed), as it would
 * have without a launcher.
 */
function respawn(tuning) {
  const child = spawn(process.execPath, [...tuning.execArgv, ...process.argv.slice(1)], {
    env: { ...tuning.env, REKEY_LAUNCHED: '1' },
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const relay = (signal) => child.kill(signal);
  for (const signal of signals) process.on(signal, relay);
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of signals) process.off(s, relay);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}

/** In the launched child: the channel to the launcher closes only when the launcher is gone. */
function endWithLauncher() {
  if (!process.env.REKEY_LAUNCHED || !process.channel) return;
  delete process.env.REKEY_LAUNCHED;
  process.channel.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}

const serve = serving(process.argv.slice(2));
const tuning = serve ? serveTuning() : undefined;
if (tuning) respawn(tuning);
else {
  endWithLauncher();
  // Before the modules load: loading them is the heap's first growth.
  if (serve) for (const flag of SERVE_V8_FLAGS) setFlagsFromString(flag);
  const { runCli } = await loadCli();
  await runCli(process.argv);
}
