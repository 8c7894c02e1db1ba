import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { CACHE_LIMITS, type PipelineAction } from './action.ts';
import { ActionSandbox } from './sandbox/pool.ts';

/** A configuration that cannot run: the start stops with this message, which names the action. */
export class ActionConfigError extends Error {
  override name = 'ActionConfigError';
}

/** Rekey's own rule, for operators who write no code: an account with a second factor meets one before the new password. */
export const builtInSecondFactorRule: PipelineAction = {
  name: 'rekey:enrolled-second-factor',
  hasContinue: false,
  secrets: {},
  usesCache: false,
  // The mailbox has just been proven by the first factor, so it never counts as the second (SEC-36).
  run: async (_kind, event) => {
    const factors = (event.user.enrolledFactors ?? []).filter((f) => f.type !== 'email');
    return factors.length ? [{ op: 'challenge', any: true, factors }] : [];
  },
};

const inside = (dir: string, path: string) => {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
};

/**
 * Checks and starts every configured action: the file exists, its directory holds none of Rekey's own files (the
 * sandbox may read that whole directory), and the module loads in its sandbox and exports `onExecutePostChallenge`.
 */
export async function loadActions(config: Config, logger: Logger): Promise<{ actions: PipelineAction[]; sandboxes: ActionSandbox[] }> {
  const { actions: settings } = config;
  const sandboxes: ActionSandbox[] = [];
  const actions: PipelineAction[] = settings.requireEnrolledSecondFactor ? [builtInSecondFactorRule] : [];
  const protectedPaths = [config.dataDir, resolve(config.dataDir, 'secret')];
  if (!config.databaseUrl.startsWith('postgres')) protectedPaths.push(resolve(config.databaseUrl.replace(/^sqlite:(\/\/)?/, '')));
  try {
    for (const entry of settings.postChallenge) {
      const path = entry.path;
      if (!existsSync(path) || !statSync(path).isFile()) throw new ActionConfigError(`action "${entry.name}": file not found: ${path}`);
      const dir = dirname(realpathSync(path));
      const exposed = protectedPaths.find((p) => inside(dir, existsSync(p) ? realpathSync(p) : p));
      if (exposed) {
        throw new ActionConfigError(
          `action "${entry.name}": its directory ${dir} holds ${exposed}, which the action could then read; move the action to a directory of its own`,
        );
      }
      const sandbox = new ActionSandbox({ name: entry.name, path: realpathSync(path), memoryMb: settings.memoryMb, poolSize: settings.poolSize, logger });
      sandboxes.push(sandbox);
      let handlers: { execute: boolean; continue: boolean };
      try {
        handlers = await sandbox.start();
      } catch (error) {
        throw new ActionConfigError(`action "${entry.name}": the module ${path} could not be loaded: ${(error as Error).message}`);
      }
      if (!handlers.execute) throw new ActionConfigError(`action "${entry.name}": the module ${path} exports no onExecutePostChallenge`);
      actions.push({
        name: entry.name,
        hasContinue: handlers.continue,
        secrets: entry.secrets,
        usesCache: true,
        run: (kind, event, extra) =>
          sandbox.run(
            { kind, event, state: extra.state, cache: extra.cache, now: extra.now, issuer: extra.issuer, cacheLimits: CACHE_LIMITS },
            Math.min(entry.timeoutMs, extra.timeoutMs),
          ),
      });
    }
  } catch (error) {
    await Promise.all(sandboxes.map((s) => s.close()));
    throw error;
  }
  return { actions, sandboxes };
}
