import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load.ts';
import type { PlatformDeps } from '../deps.ts';
import { manualClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { createLogger } from '../platform/logger.ts';
import { createTokens } from '../platform/tokens.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { createApplicationService, REVOCATION_CHECK_MS, type ApplicationService } from './app.service.ts';

const SECRET = 'app-service-test-secret-that-is-long-enough-01';

/** One service per server process; every one of them reads and writes the same store. */
function processOn(store: TestStore): ApplicationService {
  const deps: PlatformDeps = {
    config: loadConfig({ env: {}, overrides: { env: 'test', secret: SECRET, dataDir: '/nonexistent-rekey-test' } }),
    store,
    clock: manualClock(Date.UTC(2026, 10, 25, 12)),
    ids: createIds(),
    tokens: createTokens(SECRET),
    logger: createLogger('silent'),
  };
  return createApplicationService(deps);
}

for (const factory of STORES) {
  describe(`${factory.name}: secret keys across processes`, () => {
    let store: TestStore;
    let a: ApplicationService;
    let b: ApplicationService;
    beforeEach(async () => {
      store = await factory.open();
      a = processOn(store);
      b = processOn(store);
    });
    afterEach(async () => {
      await a.close();
      await b.close();
      await store.close();
    });

    const keyOf = async (service: ApplicationService) => {
      const application = await service.ensureDefault();
      return { application, ...(await service.createKey(application.id, 'ci')) };
    };

    it('a key revoked by another process is refused at the next revocation check, not after the 30 s cache', async () => {
      const { application, key, record } = await keyOf(a);
      expect((await a.authenticate(key))?.id).toBe(application.id);
      await a.checkRevocations(); // the reading later checks compare with
      expect((await a.authenticate(key))?.id).toBe(application.id); // cached again

      expect(await b.revokeKey(record.id)).toBe(true);
      expect(await b.authenticate(key)).toBeUndefined();
      await a.checkRevocations();
      expect(await a.authenticate(key)).toBeUndefined();
    });

    it('the revocation check runs by itself while keys are cached: the other process refuses the key within seconds', async () => {
      const { key, record } = await keyOf(a);
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      try {
        expect(await a.authenticate(key)).toBeDefined();
        await b.revokeKey(record.id);
        await vi.advanceTimersByTimeAsync(REVOCATION_CHECK_MS);
        // The check the timer started reads the store: wait for that read, turn by turn of the event loop, not for time.
        let refused = false;
        for (let turn = 0; turn < 10_000 && !refused; turn++) {
          refused = (await a.authenticate(key)) === undefined;
          if (!refused) await new Promise((resolve) => setImmediate(resolve));
        }
        expect(refused).toBe(true);
      } finally {
        vi.useRealTimers();
      }
    });

    it('keeps its cache when nothing was revoked', async () => {
      const { application, key, record } = await keyOf(a);
      await a.authenticate(key);
      await a.checkRevocations();
      expect(await a.authenticate(key)).toBeDefined();
      // Out of band, so only a cached lookup still knows the key: a check that drops the cache for nothing would lose it.
      await store.db.deleteFrom('api_keys').where('id', '=', record.id).execute();
      await a.checkRevocations();
      expect((await a.authenticate(key))?.id).toBe(application.id);
    });
  });
}

describe('revocation check', () => {
  afterEach(() => vi.useRealTimers());

  it('runs only while keys are cached and stops on close: no timer outlives the service', async () => {
    const store = await STORES[0]!.open();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const service = processOn(store);
      const application = await service.ensureDefault();
      const { key } = await service.createKey(application.id, 'ci');
      expect(vi.getTimerCount()).toBe(0);
      await service.authenticate(key);
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(REVOCATION_CHECK_MS);
      expect(vi.getTimerCount()).toBe(1); // rescheduled: a lookup is still cached
      await service.close();
      expect(vi.getTimerCount()).toBe(0);
      await service.authenticate(`${key}x`);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
      await store.close();
    }
  });
});

for (const factory of STORES) {
  describe(`${factory.name}: application settings and deletion`, () => {
    let store: TestStore;
    let service: ApplicationService;
    beforeEach(async () => {
      store = await factory.open();
      service = processOn(store);
      await service.ensureDefault();
    });
    afterEach(async () => {
      await service.close();
      await store.close();
    });

    it('stores the new settings, checks them and returns the application as stored', async () => {
      const created = await service.create({ name: 'Acme', allowedRedirects: ['https://acme.example/'], signInUrl: 'https://acme.example/login' });
      expect(created).toMatchObject({ sign_in_url: 'https://acme.example/login', support_email: null, mail_from: null });
      const updated = await service.configure(created.id, { supportEmail: 'help@acme.example', mailFrom: 'Acme <no-reply@acme.example>' });
      expect(updated).toMatchObject({ name: 'Acme', support_email: 'help@acme.example', mail_from: '"Acme" <no-reply@acme.example>' });
      await expect(service.configure(created.id, { allowedRedirects: [] })).rejects.toMatchObject({ code: 'application_setting_invalid' });
      expect((await service.get(created.id))?.allowed_redirects).toBe('["https://acme.example/"]');
      expect(await service.configure('app_missing', { name: 'x' })).toBeUndefined();
    });

    it('deletes an application once its keys are revoked; never the default one', async () => {
      const application = await service.create({ name: 'Short-lived' });
      const { record } = await service.createKey(application.id, 'ci');
      await expect(service.remove(application.id)).rejects.toMatchObject({ code: 'application_has_active_keys' });
      await service.revokeKey(record.id);
      expect(await service.remove(application.id)).toBe(true);
      expect(await service.get(application.id)).toBeUndefined();
      expect(await service.listKeys(application.id)).toEqual([]);
      expect(await service.remove(application.id)).toBe(false);
      await expect(service.remove((await service.getDefault()).id)).rejects.toMatchObject({ code: 'application_is_default' });
    });
  });
}
