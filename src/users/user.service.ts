import type { Kysely } from 'kysely';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import { paginate, type ListQuery, type Page } from '../http/pagination.ts';
import { compiled, writeTogether, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import { hashPoolFor } from './hash-pool.ts';
import type { createPasswordPolicy } from './password-policy.ts';
import type { createPasswordHasher } from './passwords.ts';
import type { UsersTable } from './user.table.ts';

export type User = UsersTable;
export type PasswordPolicy = ReturnType<typeof createPasswordPolicy>;
export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

export interface CreateUserInput {
  email: string;
  password?: string;
  passwordHash?: string;
  firstName?: string | null;
  lastName?: string | null;
  emailVerified?: boolean;
  externalId?: string | null;
  metadata?: Record<string, string>;
  locale?: string | null;
}

export type UpdateUserInput = Partial<Omit<CreateUserInput, 'passwordHash'>>;

/**
 * A password or email change, as the writes that must commit with it see it. Every path that changes a
 * password (a reset by link, code or flow, the management confirm, an administrator's update) builds one,
 * so what goes with a change (voided tokens, revoked sessions, the notice) cannot differ by path (SEC-45).
 */
export interface AccountChange {
  kind: 'password' | 'email';
  /** The account as it was before the change: the notice goes to the address it had. */
  user: User;
  now: number;
  /** The reset token or flow being spent in the same statement: its own write settles it, the hooks leave it alone. */
  cause?: ChangeCause;
  /** Who made the change, for the notice (SEC-39). */
  context?: ChangeContext;
  /** SEC-34's one exception: the session doing the change, kept on the user's opt-in. */
  keepSessionId?: string | null;
}

export interface ChangeContext {
  ipAddress?: string | null;
  userAgent?: string | null;
  applicationId?: string | null;
}

/** Writes that go with an account change, in its transaction, so dependants (resets, sessions) stay consistent. */
export type AccountChangeHook = (change: AccountChange) => BoundWrite[];

/** The reset token or flow that a password change completes. */
export interface ChangeCause {
  resetId?: string;
  flowId?: string;
}

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export interface UserService {
  create(input: CreateUserInput): Promise<User>;
  get(id: string): Promise<User | undefined>;
  getOrThrow(id: string): Promise<User>;
  findByEmail(email: string, executor?: Kysely<Database>): Promise<User | undefined>;
  list(query: ListQuery & { email?: string }): Promise<Page<User>>;
  /** An administrator's change; a new password or email brings what every such change brings (SEC-13, SEC-45). */
  update(id: string, patch: UpdateUserInput, context?: ChangeContext): Promise<User>;
  delete(id: string): Promise<boolean>;
  /** Policy check (SECURITY.md F); throws the failed rule's code. Returns the NFKC form to hash. */
  acceptablePassword(password: string, user: { email: string }): string;
  hashPassword(normalized: string): Promise<string>;
  /** Same work for an unknown email as for a wrong password, so timing tells nothing. */
  verifyCredentials(email: string, password: string): Promise<User | undefined>;
  /**
   * The writes that set a new hash, with every account-change hook's (voided tokens, revoked sessions, the
   * notice): for the caller's `writeTogether`. The one way a password is changed.
   */
  passwordChange(user: User, hash: string, change: Omit<AccountChange, 'kind' | 'user'> & { markEmailVerified?: boolean }): BoundWrite[];
  recordSignIn(userId: string): Promise<void>;
  onAccountChange(hook: AccountChangeHook): void;
}

const byId = compiled<{ id: string }, User>((db, p) => db.selectFrom('users').selectAll().where('id', '=', p.id));
const byEmail = compiled<{ email: string }, User>((db, p) => db.selectFrom('users').selectAll().where('email', '=', p.email));
const setHash = compiled<{ id: string; hash: string; now: number }>((db, p) =>
  db.updateTable('users').set({ password_hash: p.hash, password_changed_at: p.now, updated_at: p.now }).where('id', '=', p.id),
);
// Resetting by email proves the address (WorkOS marks it verified too).
const setHashAndVerify = compiled<{ id: string; hash: string; now: number }>((db, p) =>
  db.updateTable('users').set({ password_hash: p.hash, password_changed_at: p.now, updated_at: p.now, email_verified: 1 }).where('id', '=', p.id),
);

export function createUserService(deps: PlatformDeps & { policy: PasswordPolicy; hasher: PasswordHasher }): UserService {
  const { store, clock, ids, policy, hasher, config } = deps;
  const db = store.db;
  const hooks: AccountChangeHook[] = [];
  const hookWrites = (change: AccountChange) => hooks.flatMap((hook) => hook(change));

  const service: UserService = {
    async create(input) {
      const email = normalizeEmail(input.email);
      if (input.password !== undefined && input.passwordHash !== undefined) throw new RekeyError('password_and_password_hash_provided');
      // SEC-33: a hash whose cost is beyond what verify accepts would be stored and never match.
      if (input.passwordHash !== undefined && !hasher.accepts(input.passwordHash)) throw new RekeyError('invalid_password_hash');
      const passwordHash =
        input.password !== undefined ? await service.hashPassword(service.acceptablePassword(input.password, { email })) : (input.passwordHash ?? null);
      const now = clock.now();
      const user: User = {
        id: ids.next('user'),
        email,
        email_verified: input.emailVerified ? 1 : 0,
        first_name: input.firstName ?? null,
        last_name: input.lastName ?? null,
        profile_picture_url: null,
        external_id: input.externalId ?? null,
        metadata: JSON.stringify(input.metadata ?? {}),
        locale: input.locale ?? null,
        password_hash: passwordHash,
        password_changed_at: passwordHash ? now : null,
        last_sign_in_at: null,
        disabled_at: null,
        created_at: now,
        updated_at: now,
      };
      const inserted = await db
        .insertInto('users')
        .values(user)
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
        throw new RekeyError('email_already_exists', {}, input.externalId ? 'A user with this email or external id already exists.' : undefined);
      }
      return user;
    },
    get: (id) => byId.first(db, { id }),
    async getOrThrow(id) {
      const user = await service.get(id);
      if (!user) throw new RekeyError('user_not_found', { entity_id: id });
      return user;
    },
    findByEmail: (email, executor = db) => byEmail.first(executor, { email: normalizeEmail(email) }),
    list: ({ email, ...query }) =>
      paginate(
        db
          .selectFrom('users')
          .selectAll()
          .$if(email !== undefined, (q) => q.where('email', '=', normalizeEmail(email!))),
        'id',
        query,
      ),
    async update(id, patch, context) {
      const user = await service.getOrThrow(id);
      const email = patch.email !== undefined ? normalizeEmail(patch.email) : user.email;
      const passwordHash = patch.password !== undefined ? await service.hashPassword(service.acceptablePassword(patch.password, { email })) : undefined;
      const now = clock.now();
      const emailChanged = email !== user.email;
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set({
            email,
            ...(emailChanged ? { email_verified: 0 } : {}),
            ...(patch.emailVerified !== undefined ? { email_verified: patch.emailVerified ? 1 : 0 } : {}),
            ...(patch.firstName !== undefined ? { first_name: patch.firstName } : {}),
            ...(patch.lastName !== undefined ? { last_name: patch.lastName } : {}),
            ...(patch.externalId !== undefined ? { external_id: patch.externalId } : {}),
            ...(patch.metadata !== undefined ? { metadata: JSON.stringify(patch.metadata) } : {}),
            ...(patch.locale !== undefined ? { locale: patch.locale } : {}),
            updated_at: now,
          })
          .where('id', '=', id)
          .execute()
          .catch((error: unknown) => {
            if (isUniqueViolation(error)) throw new RekeyError('email_already_exists');
            throw error;
          });
        // An administrator's new password is a password change like any other: sessions end, the user is
        // told, outstanding tokens void (SEC-34, SEC-39, SEC-13). An email change voids the tokens too.
        const writes = passwordHash
          ? service.passwordChange(user, passwordHash, { now, context })
          : emailChanged
            ? hookWrites({ kind: 'email', user, now, context })
            : [];
        await writeTogether(trx, writes);
      });
      return service.getOrThrow(id);
    },
    async delete(id) {
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    acceptablePassword(password, user) {
      const result = policy.check(password, { email: user.email, appName: config.appName });
      if (!result.ok) throw new RekeyError(result.code, result.details ?? {}, result.message);
      return result.normalized;
    },
    // SEC-48: every Argon2 call waits at one bounded gate; a full queue is a 503 `server_busy`.
    hashPassword: (normalized) => hashPoolFor(config).run(() => hasher.hash(normalized)),
    async verifyCredentials(email, password) {
      const user = await service.findByEmail(email);
      const normalized = password.normalize('NFKC');
      const gate = hashPoolFor(config);
      // The unknown email meets the same gate as the known one: under saturation both get the same 503.
      if (!user?.password_hash || user.disabled_at !== null) {
        await gate.run(() => hasher.dummyVerify());
        return undefined;
      }
      const stored = user.password_hash;
      if (!(await gate.run(() => hasher.verify(stored, normalized)))) return undefined;
      if (!hasher.needsRehash(stored)) return user;
      // SEC-33: an imported or older hash is brought to the configured cost while we hold the password.
      // Not a password change (no revocation, no notice, password_changed_at kept), and conditional on
      // the old hash, so a reset committed meanwhile wins. With the hashing queue full, a later sign-in upgrades it.
      try {
        const upgraded = await service.hashPassword(normalized);
        const { numUpdatedRows } = await db
          .updateTable('users')
          .set({ password_hash: upgraded })
          .where('id', '=', user.id)
          .where('password_hash', '=', stored)
          .executeTakeFirst();
        return Number(numUpdatedRows) > 0 ? { ...user, password_hash: upgraded } : user;
      } catch (error) {
        if (error instanceof RekeyError && error.code === 'server_busy') return user;
        throw error;
      }
    },
    passwordChange: (user, hash, { markEmailVerified = false, ...change }) => [
      (markEmailVerified ? setHashAndVerify : setHash).bind({ id: user.id, hash, now: change.now }),
      ...hookWrites({ kind: 'password', user, ...change }),
    ],
    async recordSignIn(userId) {
      await db.updateTable('users').set({ last_sign_in_at: clock.now() }).where('id', '=', userId).execute();
    },
    onAccountChange: (hook) => void hooks.push(hook),
  };
  return service;
}

const isUniqueViolation = (error: unknown): boolean => {
  const e = error as { code?: string; message?: string };
  return e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint/i.test(e.message ?? '');
};
