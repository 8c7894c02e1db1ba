import { describe, expect, it } from 'vitest';
import { isRekeyError } from '../errors/index.ts';
import { checkMailbox, settingColumns, signInUrl, type ApplicationSettings } from './settings.ts';

function refusal(change: ApplicationSettings, current?: { allowed_redirects: string; sign_in_url: string | null }) {
  try {
    settingColumns(change, current);
  } catch (error) {
    if (isRekeyError(error)) return { code: error.code, ...error.context };
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(change)}`);
}

describe('application settings', () => {
  it('normalises what it accepts and writes only the keys given; null and "" clear', () => {
    expect(
      settingColumns({
        name: '  Acme ',
        resetUrl: 'https://app.example.com/reset',
        allowedRedirects: ['https://app.example.com', 'https://app.example.com'],
        signInUrl: 'https://app.example.com/login',
        supportEmail: 'Help@Acme.Example',
        mailFrom: 'Acme Support <no-reply@acme.example>',
        brandColor: '#AABBCC',
        logoUrl: 'data:image/png;base64,AAAA',
      }),
    ).toEqual({
      name: 'Acme',
      reset_url: 'https://app.example.com/reset',
      allowed_redirects: '["https://app.example.com/"]',
      sign_in_url: 'https://app.example.com/login',
      support_email: 'help@acme.example',
      mail_from: '"Acme Support" <no-reply@acme.example>',
      brand_color: '#aabbcc',
      logo_url: 'data:image/png;base64,AAAA',
    });
    expect(settingColumns({ supportEmail: null, mailFrom: '', brandColor: null })).toEqual({ support_email: null, mail_from: null, brand_color: null });
    expect(settingColumns({})).toEqual({});
  });

  it('refuses each bad value with application_setting_invalid naming the field', () => {
    const cases: Array<[ApplicationSettings, string]> = [
      [{ name: '   ' }, 'name'],
      [{ name: 'x'.repeat(201) }, 'name'],
      [{ resetUrl: 'javascript:alert(1)' }, 'reset_url'],
      [{ resetUrl: 'http://app.example.com/reset' }, 'reset_url'],
      [{ resetUrl: 'https://user:pw@app.example.com/' }, 'reset_url'],
      [{ allowedRedirects: ['https://app.example.com/#x'] }, 'allowed_redirects'],
      [{ allowedRedirects: ['//evil.test'] }, 'allowed_redirects'],
      [{ signInUrl: 'ftp://app.example.com/' }, 'sign_in_url'],
      [{ supportEmail: 'not an email' }, 'support_email'],
      [{ mailFrom: 'a@b.example, c@d.example' }, 'mail_from'],
      [{ mailFrom: 'Group: a@b.example;' }, 'mail_from'],
      [{ mailFrom: 'Acme' }, 'mail_from'],
      [{ mailFrom: 'Acme <a@b.example>\r\nBcc: x@evil.test' }, 'mail_from'],
      [{ brandColor: 'red;background:url(//x)' }, 'brand_color'],
      [{ logoUrl: 'javascript:alert(1)' }, 'logo_url'],
      [{ logoUrl: '//evil.test/logo.png' }, 'logo_url'],
    ];
    for (const [change, field] of cases) expect(refusal(change), JSON.stringify(change)).toMatchObject({ code: 'application_setting_invalid', field });
  });

  it('keeps the sign-in URL on the redirect allow-list, as it is and as the change leaves it', () => {
    const current = { allowed_redirects: '["https://app.example.com/after-reset"]', sign_in_url: null };
    expect(refusal({ signInUrl: 'https://app.example.com/login' }, current)).toMatchObject({ field: 'sign_in_url' });
    expect(refusal({ signInUrl: 'https://evil.test/login' }, { ...current, allowed_redirects: '["https://app.example.com"]' })).toMatchObject({
      field: 'sign_in_url',
    });
    expect(settingColumns({ signInUrl: 'https://app.example.com/login', allowedRedirects: ['https://app.example.com/'] }, current)).toMatchObject({
      sign_in_url: 'https://app.example.com/login',
    });
    // Narrowing the allow-list under a sign-in URL already set is refused too.
    const set = { allowed_redirects: '["https://app.example.com/"]', sign_in_url: 'https://app.example.com/login' };
    expect(refusal({ allowedRedirects: ['https://app.example.com/after-reset'] }, set)).toMatchObject({ field: 'sign_in_url' });
    expect(settingColumns({ allowedRedirects: ['https://app.example.com/after-reset'], signInUrl: null }, set)).toMatchObject({ sign_in_url: null });
    expect(signInUrl(set)).toBe('https://app.example.com/login');
    expect(signInUrl({ ...set, allowed_redirects: '[]' })).toBeNull();
  });

  it('a From mailbox is the form nodemailer will parse back to the same address', () => {
    expect(checkMailbox('mail_from', 'no-reply@acme.example')).toBe('no-reply@acme.example');
    expect(checkMailbox('mail_from', '"Acme, Inc." <no-reply@acme.example>')).toBe('"Acme, Inc." <no-reply@acme.example>');
  });
});
