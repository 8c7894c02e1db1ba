import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from './support/harness.ts';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.ts';

/** Mail really leaves: a real SMTP server in-process, and the outbox surviving its outage. */
for (const factory of STORES) {
  describe(`${factory.name}: mail over SMTP`, () => {
    let sink: SmtpSink;
    let h: Harness;
    let api: ReturnType<typeof managementApi>;

    beforeAll(async () => {
      sink = await startSmtpSink();
      h = await createHarness(factory, { config: { smtpUrl: `smtp://127.0.0.1:${sink.port}`, deliveryMaxAttempts: 5 } });
      api = managementApi(h);
    });
    afterAll(async () => {
      await h.close();
      await sink.stop();
    });

    const outboxRowsFor = (email: string) => h.store.db.selectFrom('outbox').selectAll().where('payload', 'like', `%${email}%`).execute();

    /** Runs the dispatcher until no row is due, waits for the rounds in flight, and checks nothing is left pending. */
    const outboxSettled = async () => {
      await h.deliver();
      await h.rekey.dispatcher.stop();
      expect(await h.rekey.dispatcher.stats()).toMatchObject({ pending: 0 });
    };

    it('sends the reset mail and the password-changed mail through SMTP', async () => {
      const email = 'smtp.user@example.com';
      await api.createUser(email, `${GOOD_PASSWORD} first`);
      expect((await api.createReset(email)).statusCode).toBe(201);
      await h.deliver();
      const resetMail = await sink.waitFor((m) => m.to === email && /reset/i.test(m.subject));
      const link = /https?:\/\/[^\s"<>]+token=[A-Za-z0-9_-]+/.exec(resetMail.body)?.[0];
      expect(link).toBeDefined();
      const token = new URL(link!).searchParams.get('token')!;

      expect((await api.confirm(token, `${GOOD_PASSWORD} second`)).statusCode).toBe(200);
      await h.deliver();
      const notice = await sink.waitFor((m) => m.to === email && /changed/i.test(m.subject));
      expect(notice.body).not.toContain(token);
      expect(notice.body).not.toContain(`${GOOD_PASSWORD} second`);
    });

    it('SEC-42 with the SMTP server down the API still answers 201, and the mail arrives once it is back', async () => {
      const email = 'outage@example.com';
      await api.createUser(email, `${GOOD_PASSWORD} outage`);
      await sink.stop();
      const res = await api.createReset(email);
      expect(res.statusCode).toBe(201);
      await h.deliver();
      const [row] = await outboxRowsFor(email);
      expect(row).toMatchObject({ status: 'pending', attempts: 1 });
      expect(row!.last_error).not.toContain(res.json().password_reset_token);

      await sink.start();
      h.clock.advance(60 * 60_000);
      await h.deliver();
      await sink.waitFor((m) => m.to === email);
      // Any retry is due by now. Once the outbox has nothing pending and nothing in flight, no later send can come:
      // a send resolves only when the server has taken the message, so the sink's count is final.
      h.clock.advance(60 * 60_000);
      await outboxSettled();
      expect(sink.messages.filter((m) => m.to === email)).toHaveLength(1);
      expect(await outboxRowsFor(email)).toEqual([expect.objectContaining({ status: 'sent' })]);
    });

    it('SEC-42 after the retry limit the message is dead-lettered and counted', async () => {
      const email = 'dead.letter@example.com';
      await api.createUser(email, `${GOOD_PASSWORD} dead`);
      await sink.stop();
      expect((await api.createReset(email)).statusCode).toBe(201);
      for (let attempt = 0; attempt < 5; attempt++) {
        await h.deliver();
        h.clock.advance(2 * 60 * 60_000);
      }
      const [row] = await outboxRowsFor(email);
      expect(row).toMatchObject({ status: 'dead', attempts: 5 });
      // Kept sealed for an operator's retry until the sweep, which wipes it once the token lifetime has passed.
      expect(JSON.parse(row!.payload)).toHaveProperty('sealed');
      expect((await h.rekey.dispatcher.sweep())['outbox.dead_sealed_wiped']).toBeGreaterThanOrEqual(1);
      const [swept] = await outboxRowsFor(email);
      expect(JSON.parse(swept!.payload)).not.toHaveProperty('sealed');
      expect((await h.rekey.dispatcher.stats()).dead).toBeGreaterThanOrEqual(1);
      await sink.start();
    });
  });
}
