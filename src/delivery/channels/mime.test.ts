import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { describe, expect, it } from 'vitest';
import type { RenderedMail } from '../channel.ts';
import { composeMime } from './mime.ts';

const mail = (overrides: Partial<RenderedMail> = {}): RenderedMail => ({
  to: 'ada@example.com',
  from: 'Rekey <no-reply@rekey.test>',
  subject: 'Reset your Rekey password',
  text: 'Hi Ada,\n\nOpen https://rekey.test/reset/verify?token=abc_DEF-123 to choose a new password.\n',
  html: '<p>Open <a href="https://rekey.test/reset/verify?token=abc_DEF-123&amp;x=1">this link</a></p>',
  ...overrides,
});

/** What a mail client shows of a message: who, what, and both parts. */
async function seen(source: string | Buffer) {
  const parsed: ParsedMail = await simpleParser(source);
  const addresses = (field: AddressObject | AddressObject[] | undefined) =>
    [field ?? []].flat().flatMap((group) => group.value.map(({ name, address }) => ({ name, address })));
  return { from: addresses(parsed.from), to: addresses(parsed.to), subject: parsed.subject, text: parsed.text, html: parsed.html, messageId: parsed.messageId };
}

const byNodemailer = (message: RenderedMail, messageId: string) =>
  new MailComposer({ from: message.from, to: message.to, subject: message.subject, text: message.text, html: message.html, messageId }).compile().build();

const cases: Record<string, Partial<RenderedMail>> = {
  'plain ASCII': {},
  'French text, typographic spaces and quotes': {
    subject: 'Réinitialisez votre mot de passe Société\u00a0Générale',
    text: 'Bonjour Zoë,\n\nQuelqu’un a demandé à réinitialiser votre mot de passe\u202f: ouvrez ce lien.\n',
    html: '<p>Quelqu’un a demandé… «\u00a0ouvrez ce lien\u00a0»</p>',
  },
  'a sender name with accents': { from: 'Équipe Rekey <no-reply@rekey.test>' },
  'a sender name that must be quoted': { from: '"Rekey, Inc. (support)" <no-reply@rekey.test>' },
  'a bare sender address': { from: 'no-reply@rekey.test' },
  'long subjects': { subject: `${'Your password was changed on a new device, '.repeat(4)}ünd so weiter ${'é'.repeat(40)}` },
  'a subject in another script': { subject: 'パスワードをリセットしてください 🔑' },
  'lines that a transport could rewrite': {
    text: 'trailing spaces   \n.\n..leading dots\nFrom the start\n\ttab\r\nwindows line end\n=3D is not an escape\n',
    html: `<p>${'x'.repeat(2_000)}</p>\n<p>=\u00a0</p>`,
  },
};

describe('MIME composition', () => {
  for (const [name, overrides] of Object.entries(cases)) {
    it(`reads the same as nodemailer's own composition: ${name}`, async () => {
      const message = mail(overrides);
      const composed = composeMime(message, { messageId: '<msg_01TEST@rekey.test>' })!;
      expect(composed).toBeDefined();
      expect(await seen(composed.raw)).toEqual(await seen(await byNodemailer(message, '<msg_01TEST@rekey.test>')));
      // Every line, header or body, ends in CRLF and stays within the 78 characters RFC 5322 asks for.
      expect(composed.raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      for (const line of composed.raw.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    });
  }

  it('names the envelope, and makes a Message-ID at the sender domain when none is given', () => {
    const composed = composeMime(mail({ from: 'Équipe <no-reply@rekey.test>' }))!;
    expect(composed.envelope).toEqual({ from: 'no-reply@rekey.test', to: ['ada@example.com'] });
    expect(composed.messageId).toMatch(/^<[0-9a-f-]{36}@rekey\.test>$/);
    expect(composed.raw).toContain(`\r\nMessage-ID: ${composed.messageId}\r\n`);
  });

  it('gives each message its own boundary', () => {
    const boundary = (raw: string) => /boundary="([^"]+)"/.exec(raw)![1];
    expect(boundary(composeMime(mail())!.raw)).not.toBe(boundary(composeMime(mail())!.raw));
  });

  it('leaves to nodemailer the addresses it does not write itself', () => {
    for (const to of ['"quoted local"@example.com', 'jürgen@example.com', 'ada@bücher.example', 'ada@example.com, grace@example.com', 'not an address']) {
      expect(composeMime(mail({ to }))).toBeUndefined();
    }
    for (const from of ['a@rekey.test, b@rekey.test', 'Rekey <no-reply@bücher.example>', 'Rekey']) expect(composeMime(mail({ from }))).toBeUndefined();
    expect(composeMime(mail({ text: '' }))).toBeUndefined();
    expect(composeMime(mail({ html: '' }))).toBeUndefined();
  });
});
