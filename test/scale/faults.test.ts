import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startTestProvider, type TestProvider } from '../../src/delivery/testing.ts';
import { STORES } from '../../src/store/testing.ts';
import { createHarness, type Harness } from '../support/harness.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const BACKOFF_MS = 1000;
const MAX_ATTEMPTS = 4;

interface Job {
  type: string;
  status: string;
  attempts: number;
  error: string | null;
  executionDetails: Array<{ status: string; detail: string }>;
}

/** Faults seen through the whole server: a Novu trigger in, the dispatcher's retries, the activity out. */
for (const factory of STORES) {
  describe(`${factory.name}: delivery faults through triggers`, () => {
    let h: Harness;
    let n = 0;

    const trigger = async () => {
      const i = ++n;
      const response = await h.app.inject({
        method: 'POST',
        url: '/v1/events/trigger',
        headers: { authorization: `ApiKey ${h.secretKey}` },
        payload: {
          name: 'password-reset',
          to: { subscriberId: `fault-${i}`, email: `fault${i}@example.test` },
          payload: { firstName: 'Ada', resetUrl: `https://app.example.test/reset?n=${i}`, expiresInMinutes: 30 },
        },
      });
      expect(response.statusCode, response.body).toBe(201);
      return { email: `fault${i}@example.test`, transactionId: (response.json() as { data: { transactionId: string } }).data.transactionId };
    };

    const emailJob = async (transactionId: string): Promise<Job> => {
      const response = await h.app.inject({ method: 'GET', url: '/v1/notifications', headers: { authorization: `ApiKey ${h.secretKey}` } });
      expect(response.statusCode, response.body).toBe(200);
      const found = (response.json() as { data: Array<{ transactionId: string; jobs: Job[] }> }).data.find((a) => a.transactionId === transactionId);
      expect(found, transactionId).toBeDefined();
      return found!.jobs.find((job) => job.type === 'email')!;
    };

    const outboxRow = (email: string) => h.store.db.selectFrom('outbox').selectAll().where('payload', 'like', `%${email}%`).executeTakeFirstOrThrow();

    describe('SMTP down, then back', () => {
      let sink: SmtpSink;
      beforeAll(async () => {
        sink = await startSmtpSink();
        h = await createHarness(factory, {
          config: { smtpUrl: `smtp://127.0.0.1:${sink.port}`, deliveryBackoffMs: BACKOFF_MS, deliveryMaxAttempts: MAX_ATTEMPTS },
        });
      });
      afterAll(async () => {
        await h?.close();
        await sink?.stop();
      });

      test('each failed attempt waits twice as long as the one before (with jitter); the mail goes out once the server is back', async () => {
        await sink.stop();
        const { email, transactionId } = await trigger();
        const delays: number[] = [];
        for (let attempt = 1; attempt <= 2; attempt++) {
          await h.deliver();
          const row = await outboxRow(email);
          expect(row.status).toBe('pending');
          expect(row.attempts).toBe(attempt);
          delays.push(Number(row.next_attempt_at) - h.clock.now());
          const job = await emailJob(transactionId);
          expect(job.status).toBe('retrying');
          expect(job.executionDetails.at(-1)?.detail).toMatch(/^Failed, will retry/);
          // Not due before its backoff: a round now sends nothing.
          await h.deliver();
          expect((await outboxRow(email)).attempts).toBe(attempt);
          h.clock.advance(Number(row.next_attempt_at) - h.clock.now());
        }
        // backoff × 2^(attempt-1) × [0.5, 1.5)
        expect(delays[0]).toBeGreaterThanOrEqual(BACKOFF_MS * 0.5);
        expect(delays[0]).toBeLessThan(BACKOFF_MS * 1.5);
        expect(delays[1]).toBeGreaterThanOrEqual(BACKOFF_MS * 2 * 0.5);
        expect(delays[1]).toBeLessThan(BACKOFF_MS * 2 * 1.5);

        await sink.start();
        await h.deliver();
        expect(sink.messages.filter((m) => m.to === email)).toHaveLength(1);
        expect(sink.messages[0]!.body).toContain(`https://app.example.test/reset?n=`);
        const row = await outboxRow(email);
        expect(row.status).toBe('sent');
        expect(row.attempts).toBe(2);
        const job = await emailJob(transactionId);
        expect(job.status).toBe('sent');
        // Nothing more goes out later.
        h.clock.advance(3_600_000);
        await h.deliver();
        expect(sink.messages.filter((m) => m.to === email)).toHaveLength(1);
      });
    });

    describe('a provider that always fails', () => {
      let provider: TestProvider;
      beforeAll(async () => {
        provider = await startTestProvider(() => ({ status: 503, body: { error: 'unavailable' } }));
        h = await createHarness(factory, {
          config: {
            providers: { email: { primary: { type: 'http', url: `${provider.url}/send`, secret: 'provider-secret-0123456789' } } },
            deliveryBackoffMs: BACKOFF_MS,
            deliveryMaxAttempts: MAX_ATTEMPTS,
          },
        });
      });
      afterAll(async () => {
        await h?.close();
        await provider?.close();
      });
      afterEach(() => expect(h.logs.join('')).not.toContain('provider-secret-0123456789'));

      test(`dead after ${MAX_ATTEMPTS} attempts, and the activity says so`, async () => {
        const { email, transactionId } = await trigger();
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          await h.deliver();
          expect(provider.requests).toHaveLength(attempt);
          const row = await outboxRow(email);
          expect(row.attempts).toBe(attempt);
          if (attempt < MAX_ATTEMPTS) {
            expect(row.status).toBe('pending');
            expect((await emailJob(transactionId)).status).toBe('retrying');
            h.clock.advance(Number(row.next_attempt_at) - h.clock.now());
          } else {
            expect(row.status).toBe('dead');
          }
        }
        const job = await emailJob(transactionId);
        expect(job).toMatchObject({ status: 'dead', attempts: MAX_ATTEMPTS });
        expect(job.executionDetails.at(-1)).toMatchObject({ status: 'Failed' });
        expect(job.executionDetails.at(-1)!.detail).toMatch(new RegExp(`^Failed for good after ${MAX_ATTEMPTS} attempt`));
        // Dead is final: no later round calls the provider again.
        h.clock.advance(86_400_000);
        await h.deliver();
        expect(provider.requests).toHaveLength(MAX_ATTEMPTS);
      });
    });
  });
}
