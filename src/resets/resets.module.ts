import type { FastifyPluginAsync } from 'fastify';
import type { ActionsModule } from '../actions/index.ts';
import type { AppsModule } from '../apps/index.ts';
import type { FactorsModule } from '../factors/index.ts';
import type { NotificationsModule } from '../notifications/index.ts';
import type { ModuleDeps } from '../platform/module.ts';
import type { SessionsModule } from '../sessions/index.ts';
import type { UsersModule } from '../users/index.ts';
import { browserResetRoutes } from './browser.routes.ts';
import { createFlowService } from './flow.service.ts';
import { createKyselyFlowStore } from './flow.store.ts';
import { createResetLimits } from './limits.ts';
import { resetManagementRoutes } from './management.routes.ts';
import { resetsMigrations } from './migrations.ts';
import { createResetRequestedJob, RESET_REQUESTED } from './reset-requested.job.ts';
import { createResetService } from './reset.service.ts';
import { createKyselyResetStore } from './reset.store.ts';
import { createResetStrategies } from './strategies/registry.ts';

/** The reset flow: links and codes, the browser and management APIs, and the job that answers a request. */
export async function createResetsModule(
  deps: ModuleDeps & {
    apps: AppsModule;
    users: UsersModule;
    sessions: SessionsModule;
    factors: FactorsModule;
    actions: ActionsModule;
    notifications: NotificationsModule;
  },
) {
  const { config, store } = deps;
  const apps = deps.apps.service;
  const users = deps.users.service;
  const sessions = deps.sessions.service;
  const factors = deps.factors.service;
  const notifications = deps.notifications.service;
  const resetStore = createKyselyResetStore(store.db);
  const flowStore = createKyselyFlowStore(store.db);
  const resets = createResetService({
    ...deps,
    applications: apps,
    resets: resetStore,
    flows: flowStore,
    users,
    sessions,
    factors,
    notifications,
    requiresFlow: (userId) => deps.actions.service.requiresFlow(userId),
    flowGate: (userId) => deps.actions.service.flowGate(userId),
  });
  const limits = createResetLimits(deps.rateLimits, config);
  const defaultApplicationId = async () => (await apps.getDefault()).id;
  const strategies = createResetStrategies({
    ...deps,
    flows: flowStore,
    resets: resetStore,
    resetService: resets,
    limits,
    defaultApplicationId,
    notifications,
  });
  const flows = createFlowService({
    ...deps,
    flows: flowStore,
    resets: resetStore,
    resetService: resets,
    users,
    factors,
    limits,
    strategies,
    defaultApplicationId,
    actions: deps.actions.service,
    applications: apps,
    notifications,
  });
  const routes: FastifyPluginAsync = async (app) => void (await app.register(browserResetRoutes, { flows, apps, sessions, config }));
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(resetManagementRoutes, { resetService: resets, flows, users }));
  return {
    service: resets,
    flows,
    routes,
    managementRoutes,
    jobs: { [RESET_REQUESTED]: createResetRequestedJob({ ...deps, apps, users, flows: flowStore, limits, strategies, notifications }) },
    migrations: resetsMigrations,
    sweeps: { 'password_resets.seals_wiped': (now: number) => resetStore.wipeExpiredSeals(now) },
    expose: { resets, flows },
  };
}

export type ResetsModule = Awaited<ReturnType<typeof createResetsModule>>;
