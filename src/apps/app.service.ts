import { hash as digest, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import { paginate, type ListQuery, type Page } from '../http/pagination.ts';
import type { Database } from '../store/database.ts';
import type { ApiKeysTable, ApplicationsTable } from './app.table.ts';
import { parseRedirects, settingColumns, type ApplicationSettings } from './settings.ts';

export type Application = ApplicationsTable;
export type ApiKeyRecord = Omit<ApiKeysTable, 'key_hash'>;

/** Secret-key lookups are cached so authenticating a request is not a database read each time. */
const KEY_CACHE_MS = 30_000;
/**
 * While any key lookup is cached, the revocations in the store are checked this often: a key revoked by
 * another process (the CLI, another server) is refused here within about this long, not KEY_CACHE_MS.
 */
export const REVOCATION_CHECK_MS = 1_000;

export interface ApplicationService {
  ensureDefault(): Promise<Application>;
  getDefault(): Promise<Application>;
  /** Checks every setting (`application_setting_invalid` names the field) before anything is written. */
  create(input: { name: string } & ApplicationSettings): Promise<Application>;
  list(): Promise<Application[]>;
  /** One page of applications, by id (the management API's list). */
  page(query: ListQuery): Promise<Page<Application>>;
  get(id: string): Promise<Application | undefined>;
  findByClientId(clientId: string): Promise<Application | undefined>;
  /** Changes an application's settings (a missing key keeps its value, null clears it); undefined if there is none. */
  configure(id: string, fields: ApplicationSettings): Promise<Application | undefined>;
  /**
   * Deletes an application and its revoked keys. Refused for the default application (`application_is_default`)
   * and while a key is live (`application_has_active_keys`): callers would start failing without warning.
   * False if there is no such application.
   */
  remove(id: string): Promise<boolean>;
  /** Returns the plain key once; only its HMAC is kept. */
  createKey(applicationId: string, name: string): Promise<{ key: string; record: ApiKeyRecord }>;
  listKeys(applicationId?: string): Promise<ApiKeyRecord[]>;
  revokeKey(id: string): Promise<boolean>;
  /** The application a secret key belongs to, or undefined for an unknown or revoked key. */
  authenticate(secretKey: string): Promise<Application | undefined>;
  /**
   * Forgets every cached key lookup if a key was revoked since the last check (by any process). Runs on
   * its own every REVOCATION_CHECK_MS while lookups are cached; tests call it directly.
   */
  checkRevocations(): Promise<void>;
  /** Stops the revocation check and waits for one in flight. */
  close(): Promise<void>;
}

export function createApplicationService(deps: PlatformDeps): ApplicationService {
  const { store, clock, ids, tokens, config, logger } = deps;
  const db = store.db;
  const cache = new Map<string, { application: Application | undefined; until: number }>();
  const revocations = watchRevocations(db, { cacheInUse: () => cache.size > 0, dropCache: () => cache.clear(), logger });
  // Applications are read on every browser request and every mail, and change rarely: keep them briefly.
  // A change made by another process (the CLI) shows within KEY_CACHE_MS.
  const applications = new Map<string, { value: Promise<Application | undefined>; until: number }>();
  const remember = (key: string, load: () => Promise<Application | undefined>): Promise<Application | undefined> => {
    const now = clock.now();
    const hit = applications.get(key);
    if (hit && hit.until > now) return hit.value;
    if (applications.size > 1000) applications.clear();
    const value = load();
    applications.set(key, { value, until: now + KEY_CACHE_MS });
    value.catch(() => applications.delete(key));
    return value;
  };

  const insertApplication = async (name: string, fields: Partial<Application> = {}): Promise<Application> => {
    const now = clock.now();
    const application: Application = {
      id: ids.next('app'),
      name,
      client_id: ids.next('client'),
      reset_url: null,
      allowed_redirects: '[]',
      logo_url: null,
      brand_color: null,
      sign_in_url: null,
      support_email: null,
      mail_from: null,
      is_default: 0,
      created_at: now,
      updated_at: now,
      ...fields,
    };
    await db.insertInto('applications').values(application).execute();
    return application;
  };

  const insertKey = async (applicationId: string, name: string, key: string): Promise<ApiKeyRecord> => {
    const record = { id: ids.next('key'), application_id: applicationId, name, key_hint: `${key.slice(0, 10)}…`, created_at: clock.now(), revoked_at: null };
    await db
      .insertInto('api_keys')
      .values({ ...record, key_hash: tokens.hash(key, 'api_key') })
      .onConflict((oc) => oc.column('key_hash').doNothing())
      .execute();
    return record;
  };

  const service: ApplicationService = {
    async ensureDefault() {
      let application = await db.selectFrom('applications').selectAll().where('is_default', '=', 1).executeTakeFirst();
      if (!application) {
        application = await insertApplication(config.appName, { is_default: 1, ...(config.clientId ? { client_id: config.clientId } : {}) });
      } else if (config.clientId && application.client_id !== config.clientId) {
        await db.updateTable('applications').set({ client_id: config.clientId, updated_at: clock.now() }).where('id', '=', application.id).execute();
        application = { ...application, client_id: config.clientId };
      }
      applications.clear();
      // REKEY_API_KEY lets scripted setups choose the default application's key up front.
      if (config.apiKey) await insertKey(application.id, 'REKEY_API_KEY', config.apiKey);
      return application;
    },
    getDefault: () =>
      remember(`default`, async () => {
        const application = await db.selectFrom('applications').selectAll().where('is_default', '=', 1).executeTakeFirst();
        return application ?? service.ensureDefault();
      }) as Promise<Application>,
    async create({ name, ...settings }) {
      const { name: checkedName, ...columns } = settingColumns({ name, ...settings });
      const application = await insertApplication(checkedName!, columns);
      applications.clear();
      return application;
    },
    list: () => db.selectFrom('applications').selectAll().orderBy('id').execute(),
    page: (query) => paginate(db.selectFrom('applications').selectAll(), 'id', query),
    get: (id) => remember(`id:${id}`, () => db.selectFrom('applications').selectAll().where('id', '=', id).executeTakeFirst()),
    findByClientId: (clientId) =>
      // No client id holds a NUL, and PostgreSQL refuses one in a text parameter.
      clientId.includes('\u0000')
        ? Promise.resolve(undefined)
        : remember(`client:${clientId}`, () => db.selectFrom('applications').selectAll().where('client_id', '=', clientId).executeTakeFirst()),
    async configure(id, fields) {
      const current = await db.selectFrom('applications').select(['allowed_redirects', 'sign_in_url']).where('id', '=', id).executeTakeFirst();
      if (!current) return undefined;
      const columns = settingColumns(fields, current);
      await db
        .updateTable('applications')
        .set({ ...columns, updated_at: clock.now() })
        .where('id', '=', id)
        .execute();
      applications.clear();
      return service.get(id);
    },
    async remove(id) {
      const application = await db.selectFrom('applications').select(['id', 'is_default']).where('id', '=', id).executeTakeFirst();
      if (!application) return false;
      if (application.is_default === 1) throw new RekeyError('application_is_default', { entity_id: id });
      const live = await db.selectFrom('api_keys').select('id').where('application_id', '=', id).where('revoked_at', 'is', null).execute();
      if (live.length) throw new RekeyError('application_has_active_keys', { entity_id: id, key_ids: live.map((k) => k.id) });
      // Conditional, so a key created since the check keeps its application; the revoked keys cascade.
      const result = await db
        .deleteFrom('applications')
        .where('id', '=', id)
        .where('is_default', '=', 0)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('api_keys').select('api_keys.id').whereRef('api_keys.application_id', '=', 'applications.id').where('api_keys.revoked_at', 'is', null),
            ),
          ),
        )
        .executeTakeFirst();
      applications.clear();
      if (Number(result.numDeletedRows) === 0) throw new RekeyError('application_has_active_keys', { entity_id: id });
      return true;
    },
    async createKey(applicationId, name) {
      if (!(await service.get(applicationId))) throw new RekeyError('application_not_found', { entity_id: applicationId });
      const key = `sk_${randomBytes(24).toString('base64url')}`;
      return { key, record: await insertKey(applicationId, name, key) };
    },
    listKeys: (applicationId) =>
      db
        .selectFrom('api_keys')
        .select(['id', 'application_id', 'name', 'key_hint', 'created_at', 'revoked_at'])
        .$if(applicationId !== undefined, (q) => q.where('application_id', '=', applicationId!))
        .orderBy('id')
        .execute(),
    async revokeKey(id) {
      const result = await db.updateTable('api_keys').set({ revoked_at: clock.now() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      revocations.forget();
      return Number(result.numUpdatedRows) > 0;
    },
    async authenticate(secretKey) {
      const now = clock.now();
      // Cached by a plain SHA-256 of the key (it never leaves this process): the HMAC that names the key in the
      // table imports its key on every call, about four times the digest, on every request of the management API.
      const cacheKey = digest('sha256', secretKey, 'base64url');
      const hit = cache.get(cacheKey);
      if (hit && hit.until > now) return hit.application;
      const hash = tokens.hash(secretKey, 'api_key');
      const generation = revocations.generation;
      const row = await db
        .selectFrom('api_keys')
        .innerJoin('applications', 'applications.id', 'api_keys.application_id')
        .selectAll('applications')
        .select(['api_keys.key_hash', 'api_keys.revoked_at'])
        .where('api_keys.key_hash', '=', hash)
        .executeTakeFirst();
      // The index lookup finds the row; the comparison that decides is constant-time.
      const valid = row !== undefined && row.revoked_at === null && tokens.equal(row.key_hash, hash);
      const application = valid ? stripKeyFields(row) : undefined;
      // A revocation seen while this lookup was in flight may postdate the row it read: keep nothing.
      if (generation !== revocations.generation) return application;
      if (cache.size > 10_000) cache.clear();
      cache.set(cacheKey, { application, until: now + (valid ? KEY_CACHE_MS : 2_000) });
      revocations.watch();
      return application;
    },
    checkRevocations: () => revocations.check(),
    close: () => revocations.stop(),
  };
  return service;
}

/**
 * How a revocation made by another process reaches this one's key cache: a poll of one cheap aggregate
 * (`count(*)` and `max(revoked_at)` of the revoked keys, a handful of rows) every REVOCATION_CHECK_MS,
 * and only while something is cached. A poll rather than PostgreSQL's LISTEN/NOTIFY: SQLite (CLI and
 * server on one file) needs it anyway, it holds no connection outside the pool (LISTEN does not survive
 * PgBouncer's transaction pooling), and it cannot miss a notification across a reconnect. A revocation
 * only ever adds to the count, so any change of the pair means "drop the cache".
 */
function watchRevocations(db: Kysely<Database>, { cacheInUse, dropCache, logger }: { cacheInUse: () => boolean; dropCache: () => void; logger: Logger }) {
  let seen: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Checks run one after another, so a check asked for now reads the table after it is asked for.
  let queue: Promise<void> = Promise.resolve();

  const state = {
    /** Bumped at each change, so a lookup that read the table before it is not cached after it. */
    generation: 0,
    /** This process revoked a key itself: drop the cache without waiting for the next check. */
    forget(): void {
      state.generation++;
      dropCache();
    },
    check(): Promise<void> {
      queue = queue.then(readRevocations);
      return queue;
    },
    /** Starts the periodic check if it is not running: called whenever a lookup is cached. */
    watch(): void {
      if (timer || closed) return;
      timer = setTimeout(() => void tick().catch((error: unknown) => logger.warn({ err: error }, 'key revocation check failed')), REVOCATION_CHECK_MS);
      // The check never keeps a process (a CLI command, a test) alive on its own.
      timer.unref();
    },
    async stop(): Promise<void> {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await queue;
    },
  };

  async function readRevocations(): Promise<void> {
    try {
      const row = await db
        .selectFrom('api_keys')
        .select((eb) => [eb.fn.countAll<number | string>().as('revoked'), eb.fn.max('revoked_at').as('latest')])
        .where('revoked_at', 'is not', null)
        .executeTakeFirst();
      const now = `${Number(row?.revoked ?? 0)}:${Number(row?.latest ?? 0)}`;
      // With no earlier reading to compare with, what is cached may predate a revocation: it goes too.
      if (now !== seen) state.forget();
      seen = now;
    } catch (error) {
      // Fail closed: while the store cannot be read, no cached key is vouched for.
      seen = undefined;
      state.forget();
      logger.warn({ err: error }, 'api_keys.revocation_check_failed');
    }
  }

  async function tick(): Promise<void> {
    timer = undefined;
    // Nothing cached, nothing to vouch for: the next cached lookup starts the check again.
    if (closed || !cacheInUse()) return;
    await state.check();
    state.watch();
  }
  return state;
}

function stripKeyFields<T extends { key_hash: string; revoked_at: number | null }>(row: T): Application {
  const { key_hash: _hash, revoked_at: _revoked, ...application } = row;
  return application as unknown as Application;
}

export const allowedRedirects = (application: Application): string[] => parseRedirects(application.allowed_redirects);
