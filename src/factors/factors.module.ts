import type { FastifyPluginAsync } from 'fastify';
import type { NotificationsModule } from '../notifications/index.ts';
import type { ModuleDeps } from '../platform/module.ts';
import type { UsersModule } from '../users/index.ts';
import { createFactorService } from './factor.service.ts';
import type { FactorTables } from './factor.table.ts';
import { factorManagementRoutes } from './management.routes.ts';
import { factorsMigrations } from './migrations.ts';

/** How long finished challenges and links are kept after they expire: long enough to answer "expired" rather than "unknown". */
const KEEP_AFTER_EXPIRY_MS = 24 * 3600_000;

/** Second factors behind the `Factor` port, their enrollment links, and the pending-authentication step of a login. */
export async function createFactorsModule(deps: ModuleDeps & { users: UsersModule; notifications: NotificationsModule }) {
  const users = deps.users.service;
  // Codes leave through the notifications engine's verification-code workflow (its module builds the CodeDelivery).
  const service = createFactorService({ ...deps, delivery: deps.notifications.codeDelivery, findUser: (id) => users.get(id) });
  const db = deps.store.db.withTables<FactorTables>();
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(factorManagementRoutes, { factors: service, users }));
  const sweep = (table: 'factor_challenges' | 'factor_enrollment_links') => async (now: number) =>
    Number(
      (
        await db
          .deleteFrom(table)
          .where('expires_at', '<', now - KEEP_AFTER_EXPIRY_MS)
          .executeTakeFirst()
      ).numDeletedRows,
    );
  return {
    service,
    routes: undefined,
    managementRoutes,
    jobs: {},
    migrations: factorsMigrations,
    sweeps: { 'factor_challenges.expired': sweep('factor_challenges'), 'factor_enrollment_links.expired': sweep('factor_enrollment_links') },
    expose: { factors: service },
  };
}

export type FactorsModule = Awaited<ReturnType<typeof createFactorsModule>>;
