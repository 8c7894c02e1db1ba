import type { FastifyPluginAsync } from 'fastify';
import type { ModuleDeps } from '../platform/module.ts';
import type { UsersModule } from '../users/index.ts';
import { createFactorService } from './factor.service.ts';
import { factorManagementRoutes } from './management.routes.ts';
import { factorsMigrations } from './migrations.ts';

/** Second factors (TOTP) and the pending-authentication step of a login. */
export async function createFactorsModule(deps: ModuleDeps & { users: UsersModule }) {
  const service = createFactorService(deps);
  const users = deps.users.service;
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(factorManagementRoutes, { factors: service, users }));
  return {
    service,
    routes: undefined,
    managementRoutes,
    jobs: {},
    migrations: factorsMigrations,
    expose: { factors: service },
  };
}

export type FactorsModule = Awaited<ReturnType<typeof createFactorsModule>>;
