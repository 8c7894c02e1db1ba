import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../test/support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../../test/support/harness.ts';
import { RekeyError } from '../errors/index.ts';
import { STORES } from '../store/testing.ts';
import { createHashPool, hashPoolFor, hashPoolLimits, type HashPool } from './hash-pool.ts';

/** A task that holds its slot until `release()`. */
function held() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return { release, task: () => gate };
}

/** Resolves once `count` of the promises have settled, whichever they are. */
function settledCount(promises: Array<Promise<unknown>>, count: number): Promise<void> {
  let settled = 0;
  return new Promise((resolve) => {
    for (const promise of promises) {
      void promise.finally(() => {
        if (++settled === count) resolve();
      });
    }
  });
}

describe('hash pool', () => {
  it('SEC-48 runs at most `concurrency` at once, queues up to `maxQueue` in order and refuses the next with server_busy and a retry delay', async () => {
    const pool = createHashPool({ concurrency: 2, maxQueue: 1 });
    const first = held();
    const second = held();
    const third = held();
    const started: string[] = [];
    const run = (name: string, task: () => Promise<void>) => pool.run(() => (started.push(name), task()));

    const running = [run('first', first.task), run('second', second.task)];
    const queued = run('third', third.task);
    expect(started).toEqual(['first', 'second']);
    expect([pool.running, pool.queued]).toEqual([2, 1]);

    const refused = await run('fourth', async () => undefined).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RekeyError);
    expect((refused as RekeyError).code).toBe('server_busy');
    expect((refused as RekeyError).status).toBe(503);
    const retryAfter = (refused as RekeyError).context.retryAfterSeconds;
    expect(Number.isInteger(retryAfter) && (retryAfter as number) >= 1).toBe(true);
    expect(started).not.toContain('fourth');

    first.release();
    await running[0];
    expect(started).toEqual(['first', 'second', 'third']);
    expect([pool.running, pool.queued]).toEqual([2, 0]);
    second.release();
    third.release();
    await Promise.all([...running, queued]);
    expect([pool.running, pool.queued]).toEqual([0, 0]);
  });

  it('SEC-48 a task that fails gives its slot back', async () => {
    const pool = createHashPool({ concurrency: 1, maxQueue: 0 });
    await expect(pool.run(() => Promise.reject(new Error('argon2 failed')))).rejects.toThrow('argon2 failed');
    await expect(pool.run(async () => 'next')).resolves.toBe('next');
    expect(pool.running).toBe(0);
  });

  it('SEC-48 default limits leave one libuv thread free, hash no more at once than there are cores, and queue 16 per thread; explicit settings win', () => {
    expect(hashPoolLimits({ threadPoolSize: 4, hashConcurrency: 0, hashQueue: 0 }, 8)).toEqual({ concurrency: 3, maxQueue: 64 });
    expect(hashPoolLimits({ threadPoolSize: 4, hashConcurrency: 0, hashQueue: 0 }, 2)).toEqual({ concurrency: 2, maxQueue: 64 });
    expect(hashPoolLimits({ threadPoolSize: 1, hashConcurrency: 0, hashQueue: 0 }, 8)).toEqual({ concurrency: 1, maxQueue: 16 });
    expect(hashPoolLimits({ threadPoolSize: 8, hashConcurrency: 2, hashQueue: 5 }, 1)).toEqual({ concurrency: 2, maxQueue: 5 });
    const config = { threadPoolSize: 4, hashConcurrency: 0, hashQueue: 0 };
    expect(hashPoolFor(config)).toBe(hashPoolFor(config));
    expect(hashPoolFor(config)).not.toBe(hashPoolFor({ ...config }));
  });
});

for (const factory of STORES) {
  describe(`${factory.name}: hashing under saturation`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    let pool: HashPool;
    let n = 0;
    const email = () => `busy${++n}@example.com`;

    beforeAll(async () => {
      // One hash at a time and one waiting: the smallest gate, so a few requests fill it.
      h = await createHarness(factory, { config: { threadPoolSize: 2, hashConcurrency: 1, hashQueue: 1 } });
      api = managementApi(h);
      pool = hashPoolFor(h.config);
    });
    afterAll(() => h.close());

    const expectBusy = (res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) => {
      expect(res.statusCode).toBe(503);
      expect((res.json() as { code: string }).code).toBe('server_busy');
      expect(String(res.headers['retry-after'])).toMatch(/^[1-9]\d*$/);
    };

    it('SEC-48 with the hashing queue full, sign-ins are refused at once with 503 server_busy and Retry-After, none with 500', async () => {
      // One account each, so no per-account sign-in limit answers before the gate does.
      const addresses = Array.from({ length: 20 }, email);
      for (const address of addresses) await api.createUser(address, GOOD_PASSWORD);
      const slot = held();
      const holding = pool.run(slot.task);

      const attempts = addresses.map((address) => api.login(address, GOOD_PASSWORD));
      // One attempt takes the queue's only place; the 19 others are answered while the slot is still held.
      await settledCount(attempts, 19);
      expect(pool.queued).toBe(1);
      slot.release();
      await holding;
      const responses = await Promise.all(attempts);

      const statuses = responses.map((res) => res.statusCode);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 503)).toHaveLength(19);
      for (const res of responses.filter((r) => r.statusCode === 503)) expectBusy(res);
      expect([pool.running, pool.queued]).toEqual([0, 0]);
    });

    it('SEC-48 an unknown email meets the same gate as a known one: the same 503 when it is full', async () => {
      const address = email();
      await api.createUser(address, GOOD_PASSWORD);
      const slot = held();
      const holding = [pool.run(slot.task), pool.run(slot.task)];
      const known = await api.login(address, 'not the password at all');
      const unknown = await api.login(email(), 'not the password at all');
      slot.release();
      await Promise.all(holding);
      for (const res of [known, unknown]) expectBusy(res);
      expect(unknown.json()).toEqual(known.json());
      // With the gate free again both are the ordinary wrong-credentials answer.
      expect((await api.login(address, 'not the password at all')).statusCode).toBe(400);
      expect((await api.login(email(), 'not the password at all')).statusCode).toBe(400);
    });

    it('SEC-48 a confirm refused for a full queue gets 503 with Retry-After and does not spend its token', async () => {
      const addresses = [email(), email(), email()];
      const tokens: string[] = [];
      for (const address of addresses) {
        await api.createUser(address, GOOD_PASSWORD);
        tokens.push((await api.resetToken(address)).password_reset_token);
      }
      const slot = held();
      const holding = [pool.run(slot.task), pool.run(slot.task)];
      const refused = await Promise.all(tokens.map((token, i) => api.confirm(token, `${GOOD_PASSWORD} new ${i}`)));
      slot.release();
      await Promise.all(holding);
      for (const res of refused) expectBusy(res);

      // Each token still works: the password is hashed before the token is spent (SEC-14).
      for (const [i, token] of tokens.entries()) {
        expect((await api.confirm(token, `${GOOD_PASSWORD} new ${i}`)).statusCode).toBe(200);
        expect((await api.login(addresses[i]!, `${GOOD_PASSWORD} new ${i}`)).statusCode).toBe(200);
      }
    });
  });
}
