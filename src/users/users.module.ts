import type { FastifyPluginAsync } from 'fastify';
import type { ModuleDeps } from '../platform/module.ts';
import { loadBlocklist } from './blocklist.ts';
import { userManagementRoutes } from './management.routes.ts';
import { usersMigrations } from './migrations.ts';
import { createPasswordPolicy } from './password-policy.ts';
import { createPasswordHasher } from './passwords.ts';
import { createUserService } from './user.service.ts';

/** Users, their passwords (policy and Argon2id) and the hooks every account change runs. */
export async function createUsersModule(deps: ModuleDeps) {
  const { config } = deps;
  const policy = createPasswordPolicy({ minLength: config.passwordMinLength, maxLength: config.passwordMaxLength, blocklist: await loadBlocklist() });
  const hasher = createPasswordHasher({ memoryKib: config.argon2MemoryKib, timeCost: config.argon2TimeCost });
  const service = createUserService({ ...deps, policy, hasher });
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(userManagementRoutes, { users: service }));
  return {
    service,
    routes: undefined,
    managementRoutes,
    jobs: {},
    migrations: usersMigrations,
    expose: { users: service },
  };
}

export type UsersModule = Awaited<ReturnType<typeof createUsersModule>>;
