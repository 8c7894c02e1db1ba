import type { FastifyPluginAsync } from 'fastify';
import type { ModuleDeps } from '../platform/module.ts';
import { applicationRoutes } from './app.routes.ts';
import { createApplicationService } from './app.service.ts';
import { appsMigrations } from './migrations.ts';

/** Applications and their secret keys: every other module asks this one who is calling. */
export async function createAppsModule(deps: ModuleDeps) {
  const service = createApplicationService(deps);
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(applicationRoutes, { apps: service }));
  return {
    service,
    routes: undefined,
    managementRoutes,
    jobs: {},
    migrations: appsMigrations,
    expose: { apps: service },
    start: async () => void (await service.ensureDefault()),
    close: () => service.close(),
  };
}

export type AppsModule = Awaited<ReturnType<typeof createAppsModule>>;
