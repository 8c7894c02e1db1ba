import { Writable } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { createAccessLog, createLogger, lazyChildLogger, stripQuery } from './logger.ts';

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

  it('in pretty form, write one line per request and keep redacting', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('info', sink, { pretty: true });
    createAccessLog(logger)({ reqId: 'req_3', method: 'GET', path: stripQuery('/reset/verify?token=abc'), ip: '127.0.0.1', statusCode: 303, ms: 1.2 });
    logger.warn({ token: 'tok-789', id: 'msg_1', nested: { a: 1 } }, 'delivery.retry_scheduled');
    // pino-pretty hands lines to its destination through a stream pipeline: wait for them, turn by turn.
    for (let turn = 0; turn < 1000 && lines.join('').split('\n').length < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    const text = lines.join('');
    expect(text.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^\[\d\d:\d\d:\d\d\] INFO: GET \/reset\/verify\?… 303 1\.2 ms$/),
      expect.stringMatching(/^\[\d\d:\d\d:\d\d\] WARN: delivery\.retry_scheduled \{.*"id":"msg_1".*\}$/),
    ]);
    expect(text).not.toMatch(/abc|tok-789|\x1b\[/);
  });
});

describe("a request's logger", () => {
  const server = async () => {
    const { lines, logger } = capture();
    const app = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      childLoggerFactory: lazyChildLogger,
      genReqId: () => 'req_1',
      logController: new LogController({ disableRequestLogging: true }),
    });
    app.get('/quiet', async () => 'ok');
    app.get('/loud', async (request) => {
      request.log.warn({ password: 'pw-789' }, 'something to see');
      return 'ok';
    });
    return { lines, app };
  };

  it('carries the request id and keeps redacting', async () => {
    const { lines, app } = await server();
    const response = await app.inject({ method: 'GET', url: '/loud' });
    expect(response.statusCode).toBe(200);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('pw-789');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: 'something to see', reqId: 'req_1', password: '[redacted]' });
  });

  it('is made only when the request logs', async () => {
    const { lines, app } = await server();
    const made = vi.spyOn(app.log, 'child');
    await app.inject({ method: 'GET', url: '/quiet' });
    expect(made).not.toHaveBeenCalled();
    await app.inject({ method: 'GET', url: '/loud' });
    expect(made).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(1);
  });
});
