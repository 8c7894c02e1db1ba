import type { FastifyPluginAsync } from 'fastify';
import type { AppsModule } from '../apps/index.ts';
import type { FactorsModule } from '../factors/index.ts';
import type { NotificationsModule } from '../notifications/index.ts';
import type { ModuleDeps } from '../platform/module.ts';
import type { UsersModule } from '../users/index.ts';
import { authenticateRoutes } from './authenticate.routes.ts';
import { sessionManagementRoutes } from './management.routes.ts';
import { sessionsMigrations } from './migrations.ts';
import { createSessionService } from './session.service.ts';
import { createSignInService } from './sign-in.ts';

/** Sessions and sign-in (password, refresh token, the second factor of a login). */
export async function createSessionsModule(
  deps: ModuleDeps & { apps: AppsModule; users: UsersModule; factors: FactorsModule; notifications: NotificationsModule },
) {
  const apps = deps.apps.service;
  const users = deps.users.service;
  const sessions = createSessionService({ ...deps, notifications: deps.notifications.service });
  const signIn = createSignInService({ ...deps, users, sessions, factors: deps.factors.service });
  const routes: FastifyPluginAsync = async (app) => void (await app.register(authenticateRoutes, { apps, users, sessions, signIn }));
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(sessionManagementRoutes, { sessions, users }));
  return {
    service: sessions,
    signIn,
    routes,
    managementRoutes,
    jobs: {},
    migrations: sessionsMigrations,
    expose: { sessions, signIn },
  };
}

export type SessionsModule = Awaited<ReturnType<typeof createSessionsModule>>;
