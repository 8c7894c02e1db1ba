import type { AppsModule } from '../apps/index.ts';
import type { FactorsModule } from '../factors/index.ts';
import type { ModuleDeps } from '../platform/module.ts';
import type { BoundWrite } from '../store/compiled.ts';
import type { UsersModule } from '../users/index.ts';
import { loadActions } from './loader.ts';
import { actionsMigrations } from './migrations.ts';
import { createPipeline } from './pipeline.ts';
import { createProgressStore } from './progress.store.ts';

/**
 * The post-challenge pipeline (Auth0's `password-reset-post-challenge` trigger): Rekey's built-in rule and up to
 * four operator actions, each in its own pool of sandboxed processes. Loaded and checked here, so a bad action
 * stops the start.
 */
export async function createActionsModule(deps: ModuleDeps & { apps: AppsModule; users: UsersModule; factors: FactorsModule }) {
  const { actions, sandboxes } = await loadActions(deps.config, deps.logger);
  const factors = deps.factors.service;
  const pipeline = createPipeline({
    ...deps,
    actions,
    progress: createProgressStore(deps.store),
    users: deps.users.service,
    apps: deps.apps.service,
    factors,
  });
  const operatorActions = deps.config.actions.postChallenge.length;
  const service = {
    pipeline,
    /**
     * Whether a reset of this account must go through the pipeline rather than end on its emailed token alone: any
     * operator action may demand more of anyone; the built-in rule only of an account with a second factor (SEC-36).
     */
    async requiresFlow(userId: string): Promise<boolean> {
      if (operatorActions > 0) return true;
      return deps.config.actions.requireEnrolledSecondFactor && (await factors.hasSecondFactor(userId));
    },
    /**
     * `requiresFlow` for the statement that sets the password: `'flow'` when it is true of every account, else the
     * condition under which it is false of this one (a read that finds a row), or none when it is false of all.
     */
    flowGate(userId: string): FlowGate {
      if (operatorActions > 0) return 'flow';
      return deps.config.actions.requireEnrolledSecondFactor ? factors.noSecondFactorGuard(userId) : undefined;
    },
  };
  return {
    service,
    routes: undefined,
    jobs: {},
    migrations: actionsMigrations,
    expose: { actions: service },
    close: async () => void (await Promise.all(sandboxes.map((s) => s.close()))),
  };
}

/** See `flowGate`. */
export type FlowGate = 'flow' | BoundWrite | undefined;

export type ActionsModule = Awaited<ReturnType<typeof createActionsModule>>;
export type ActionsService = ActionsModule['service'];
