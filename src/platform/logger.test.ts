import { describe, expect, it } from 'vitest';
import { createAccessLog, createLogger, stripQuery } from './logger.ts';

const capture = () => {
  const lines: string[] = [];
  return { lines, logger: createLogger('info', { write: (line: string) => void lines.push(line) }) };
};

describe('logs', () => {
  it('redact secret fields on the main logger', () => {
    const { lines, logger } = capture();
    logger.info({ token: 'tok-123', nested: { password: 'pw-456' }, user_id: 'user_1' }, 'x');
    expect(lines.join('')).not.toMatch(/tok-123|pw-456/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ token: '[redacted]', nested: { password: '[redacted]' }, user_id: 'user_1' });
  });

  it('redact provider credentials, should a configuration be logged', () => {
    const { lines, logger } = capture();
    const providers = { sms: { primary: { type: 'twilio', authToken: 'twilio-tok' } } };
    logger.info({ config: { smtpUrl: 'smtp://u:smtp-pw@host', providers }, authToken: 'top-tok' }, 'x');
    expect(lines.join('')).not.toMatch(/twilio-tok|smtp-pw|top-tok/);
  });

  it('write the access line to the same stream, with the path cut at its query', () => {
    const { lines, logger } = capture();
    const access = createAccessLog(logger);
    access({ reqId: 'req_1', method: 'GET', path: stripQuery('/reset/verify?token=abc'), ip: '127.0.0.1', statusCode: 303, ms: 1.2 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('abc');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 30,
      msg: 'request',
      reqId: 'req_1',
      req: { id: 'req_1', method: 'GET', path: '/reset/verify?…', ip: '127.0.0.1' },
      res: { statusCode: 303 },
      ms: 1.2,
    });
  });

  it('keep the access line at the logger level', () => {
    const lines: string[] = [];
    const access = createAccessLog(createLogger('warn', { write: (line: string) => void lines.push(line) }));
    access({ reqId: 'req_2', method: 'POST', path: '/auth/forgot', ip: '::1', statusCode: 204, ms: 0.4 });
    expect(lines).toHaveLength(0);
  });
});
