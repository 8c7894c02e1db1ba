/** The users module's door: accounts, passwords and the hooks an account change runs. */
import { defineModule } from '../platform/module.ts';
import { usersMigrations } from './migrations.ts';
import { createUsersModule } from './users.module.ts';

export { createUsersModule, type UsersModule } from './users.module.ts';
export const usersModule = defineModule('users', usersMigrations, createUsersModule);

export {
  normalizeEmail,
  type AccountChange,
  type AccountChangeHook,
  type ChangeCause,
  type ChangeContext,
  type CreateUserInput,
  type UpdateUserInput,
  type User,
  type UserService,
} from './user.service.ts';
export type { UsersTable } from './user.table.ts';
export { EXAMPLE_USER, toWireUser, userObject } from './user.wire.ts';
// The server warms the hashing threads at start (main.ts).
export { createPasswordHasher, type PasswordHasher } from './passwords.ts';
export { lowerHashingPriority } from './hash-priority.ts';
export { usersMigrations };
export { blocklistPath } from './blocklist.ts';
