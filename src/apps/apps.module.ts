import type { ModuleDeps } from '../platform/module.ts';
import { createApplicationService } from './app.service.ts';
import { appsMigrations } from './migrations.ts';

/** Applications and their secret keys: every other module asks this one who is calling. */
export async function createAppsModule(deps: ModuleDeps) {
  const service = createApplicationService(deps);
  return {
    service,
    routes: undefined,
    jobs: {},
    migrations: appsMigrations,
    expose: { apps: service },
    start: async () => void (await service.ensureDefault()),
    close: () => service.close(),
  };
}

export type AppsModule = Awaited<ReturnType<typeof createAppsModule>>;
