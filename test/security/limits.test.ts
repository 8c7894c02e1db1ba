import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/delivery/channel.ts';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { browserApi, comparable } from '../support/browser-api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../support/harness.ts';
import { mannWhitneyP, median, shuffled } from '../support/stats.ts';

const redisUrl = process.env.REKEY_TEST_REDIS_URL;
const BACKENDS = [{ name: 'memory', redisUrl: undefined }, ...(redisUrl ? [{ name: 'redis', redisUrl }] : [])];

/** A channel as slow as a bad SMTP server: 2 s per message. */
const slowChannel = (): Channel => ({ id: 'slow', send: () => new Promise((resolve) => setTimeout(resolve, 2000)) });

for (const factory of STORES) {
  describe(`${factory.name}: timing does not tell whether an account exists`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(factory, {
        channel: slowChannel(),
        config: { rateLimitIpRequests: 100_000, rateLimitIdentifierRequests: 100_000, dispatcherIntervalMs: 5 },
      });
      await managementApi(h).createUser('known@example.com', `${GOOD_PASSWORD} timing`);
    });
    afterAll(() => h.close());

    const measure = async () => {
      const web = browserApi(h);
      for (let i = 0; i < 30; i++) await web.forgot(i % 2 ? 'known@example.com' : 'unknown@example.com'); // warm-up
      const order = shuffled([...Array<string>(200).fill('known@example.com'), ...Array<string>(200).fill('unknown@example.com')], Date.now());
      const times: Record<string, number[]> = { 'known@example.com': [], 'unknown@example.com': [] };
      for (const address of order) {
        const started = performance.now();
        const res = await web.forgot(address);
        times[address]!.push(performance.now() - started);
        expect(res.statusCode).toBe(204);
      }
      return { known: times['known@example.com']!, unknown: times['unknown@example.com']! };
    };

    it('SEC-02 200 interleaved requests each: medians within 5 ms and no significant difference, even with a 2 s mail server', async () => {
      const quiet = await measure();
      expect(Math.abs(median(quiet.known) - median(quiet.unknown))).toBeLessThan(5);
      expect(mannWhitneyP(quiet.known, quiet.unknown)).toBeGreaterThan(0.01);

      h.rekey.dispatcher.start(); // mail now goes out, 2 s per message, while requests keep coming
      const busy = await measure();
      await h.rekey.dispatcher.stop();
      expect(Math.abs(median(busy.known) - median(busy.unknown))).toBeLessThan(5);
      expect(mannWhitneyP(busy.known, busy.unknown)).toBeGreaterThan(0.01);
    }, 120_000);
  });

  for (const backend of BACKENDS) {
    describe(`${factory.name}, ${backend.name} limits: throttling`, () => {
      let h: Harness;
      beforeAll(async () => {
        h = await createHarness(factory, { config: { redisUrl: backend.redisUrl, rateLimitIpRequests: 1_000 } });
        await managementApi(h).createUser('known@example.com', `${GOOD_PASSWORD} limits`);
      });
      afterAll(() => h.close());

      it('SEC-03 the per-address limit trips at the same request for known and unknown addresses', async () => {
        const web = browserApi(h);
        const firstRefusal = async (address: string) => {
          for (let i = 1; i <= h.config.rateLimitIdentifierRequests + 1; i++) {
            const res = await web.forgot(address);
            if (res.statusCode === 429) return { at: i, res };
          }
          return { at: -1, res: undefined };
        };
        const known = await firstRefusal('known@example.com');
        const unknown = await firstRefusal('nobody@example.com');
        expect(known.at).toBe(h.config.rateLimitIdentifierRequests + 1);
        expect(unknown.at).toBe(known.at);
        expect(comparable(known.res!).body).toBe(comparable(unknown.res!).body);
      });

      it('SEC-19 the per-IP limit answers 429 with Retry-After, and a spoofed X-Forwarded-For does not reset it', async () => {
        const web = browserApi(h);
        const limit = h.config.rateLimitIpVerifications;
        for (let i = 0; i < limit; i++) {
          expect((await web.attemptLink(`guess-${i}`, { 'x-forwarded-for': `203.0.113.${i % 250}` })).statusCode).toBe(400);
        }
        const refused = await web.attemptLink('guess-last', { 'x-forwarded-for': '198.51.100.1' });
        expect(refused.statusCode).toBe(429);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect(refused.json().error.code).toBe('rate_limited');
      });
    });
  }

  describe(`${factory.name}: link tokens cannot be brute-forced`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(factory);
    });
    afterAll(() => h.close());

    it('SEC-20 a thousand random tokens from one IP meet a 429 long before the thousandth', async () => {
      const web = browserApi(h);
      let firstRefusal = -1;
      for (let i = 1; i <= 1000; i++) {
        const res = await web.attemptLink(h.rekey.deps.tokens.newLinkToken());
        if (res.statusCode === 429) {
          firstRefusal = i;
          break;
        }
        expect(res.statusCode).toBe(400);
      }
      expect(firstRefusal).toBeGreaterThan(0);
      expect(firstRefusal).toBeLessThan(1000);
    });
  });
}
