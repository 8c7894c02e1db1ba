import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock, type ManualClock } from '../../platform/clock.ts';
import { createIds } from '../../platform/ids.ts';
import { createLogger } from '../../platform/logger.ts';
import { defineJob, type Job } from '../../platform/module.ts';
import { STORES, type TestStore } from '../../store/testing.ts';
import type { Port } from '../channel.ts';
import { createDispatcher } from '../dispatcher.ts';
import { enqueue } from '../outbox.ts';
import { createHttpSmsChannel } from './http-sms.ts';
import { createSmtpChannel } from './smtp.ts';
import { startTestProvider } from '../testing.ts';

const ids = createIds();
const BACKOFF = 1000;

/** A job that hands its payload to a channel, as the engine's steps do. */
const sendJob = <M>(channel: Port<M>, sent: unknown[]): Job<{ message: M }> =>
  defineJob(z.object({ message: z.any() }) as z.ZodType<{ message: M }>, async ({ message }, row) => {
    sent.push(await channel.send({ ...message, outboxId: row.id }));
  });

type Mode = 'down' | 'refusing' | 'accepting';

/** An SMTP server that can be down (nothing listens), up but answering 421 to every sender, or accepting. */
async function flakySmtp() {
  const received: string[] = [];
  let server: SMTPServer | undefined;
  let port = 0;
  let refusing = false;
  const options: SMTPServerOptions = {
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 50,
    onMailFrom(_address, _session, callback) {
      if (!refusing) return callback();
      callback(Object.assign(new Error('Service not available, try again later'), { responseCode: 421 }));
    },
    onData(stream, session, callback) {
      stream.resume().on('end', () => {
        received.push(session.envelope.rcptTo.map((r) => r.address).join(','));
        callback();
      });
    },
  };
  const listen = async () => {
    server = new SMTPServer(options);
    server.listen(port, '127.0.0.1');
    await once(server.server, 'listening');
    port = (server.server.address() as AddressInfo).port;
  };
  const stop = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await listen();
  return {
    received,
    url: () => `smtp://127.0.0.1:${port}`,
    async set(mode: Mode) {
      refusing = mode === 'refusing';
      if (mode === 'down') {
        await stop();
        server = undefined;
      } else if (!server) await listen();
    },
    stop,
  };
}

for (const factory of STORES) {
  describe(`${factory.name}: channels under the real dispatcher`, () => {
    let store: TestStore;
    let clock: ManualClock;
    const cleanups: Array<() => Promise<unknown>> = [];
    beforeEach(async () => {
      store = await factory.open();
      clock = manualClock(Date.UTC(2026, 0, 1));
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await store.close();
    });

    const dispatcherFor = (jobs: Record<string, Job>, maxAttempts = 5) =>
      createDispatcher({
        db: store.db,
        dialect: store.dialect,
        clock,
        ids,
        logger: createLogger('silent'),
        jobs,
        maxAttempts,
        backoffMs: BACKOFF,
        intervalMs: 10,
        random: () => 0.5, // jitter factor exactly 1
      });
    const row = (id: string) => store.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('SMTP down, then refusing with 421, then back: retried with backoff and delivered exactly once', async () => {
      const smtp = await flakySmtp();
      cleanups.push(smtp.stop);
      const channel = createSmtpChannel(smtp.url(), { connectTimeoutMs: 2000 });
      cleanups.push(() => channel.close!());
      const sent: unknown[] = [];
      const dispatcher = dispatcherFor({ mail: sendJob(channel, sent) });
      const message = { to: 'ada@example.com', from: 'Rekey <no-reply@rekey.test>', subject: 'Reset', text: 'Open the link', html: '<p>Open</p>' };
      const id = await enqueue(store.db, { clock, ids }, { kind: 'mail', payload: { message } });
      const start = clock.now();

      await smtp.set('down');
      expect(await dispatcher.runOnce()).toBe(1);
      expect(await row(id)).toMatchObject({ status: 'pending', attempts: 1, next_attempt_at: start + BACKOFF });
      expect((await row(id)).last_error).toMatch(/ECONNREFUSED/);
      // Not due before its backoff.
      expect(await dispatcher.runOnce()).toBe(0);

      await smtp.set('refusing');
      clock.advance(BACKOFF);
      expect(await dispatcher.runOnce()).toBe(1);
      expect(await row(id)).toMatchObject({ status: 'pending', attempts: 2, next_attempt_at: start + BACKOFF + 2 * BACKOFF });
      expect((await row(id)).last_error).toMatch(/421/);

      await smtp.set('accepting');
      clock.advance(2 * BACKOFF);
      expect(await dispatcher.runOnce()).toBe(1);
      expect(await row(id)).toMatchObject({ status: 'sent', attempts: 2 });
      clock.advance(3_600_000);
      expect(await dispatcher.runOnce()).toBe(0);
      expect(smtp.received).toEqual(['ada@example.com']);
      expect(sent).toEqual([{ provider: 'smtp', providerMessageId: `<${id}@rekey.test>` }]);
    });

    it('an always-failing provider is dead after the attempt limit, with its last answer', async () => {
      const provider = await startTestProvider(() => ({ status: 503, body: { message: 'Service Unavailable' } }));
      cleanups.push(() => provider.close());
      const channel = createHttpSmsChannel({ url: provider.url, secret: 'secret-value-not-stored' });
      const dispatcher = dispatcherFor({ sms: sendJob(channel, []) }, 3);
      const id = await enqueue(store.db, { clock, ids }, { kind: 'sms', payload: { message: { to: '+15551234567', text: 'Code 123456' } } });

      for (let attempt = 1; attempt <= 3; attempt++) {
        expect(await dispatcher.runOnce()).toBe(1);
        clock.advance(BACKOFF * 2 ** attempt);
      }
      expect(await dispatcher.runOnce()).toBe(0);
      const dead = await row(id);
      expect(dead).toMatchObject({ status: 'dead', attempts: 3 });
      expect(dead.last_error).toBe(`http-sms: ${provider.url}/ answered 503 (Service Unavailable)`);
      expect(provider.requests).toHaveLength(3);
      expect(await dispatcher.stats()).toEqual({ pending: 0, sent: 0, dead: 1 });
    });

    it('a refusal for good (4xx) is dead at once, without using up the attempts', async () => {
      const provider = await startTestProvider(() => ({ status: 400, body: { message: 'invalid number' } }));
      cleanups.push(() => provider.close());
      const dispatcher = dispatcherFor({ sms: sendJob(createHttpSmsChannel({ url: provider.url, secret: 's' }), []) });
      const id = await enqueue(store.db, { clock, ids }, { kind: 'sms', payload: { message: { to: '+1555', text: 'x' } } });
      expect(await dispatcher.runOnce()).toBe(1);
      expect(await row(id)).toMatchObject({ status: 'dead', attempts: 1 });
    });
  });
}
