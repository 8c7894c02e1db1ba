/** Test helpers for the delivery channels, usable by other modules' tests: providers on 127.0.0.1 that record what they get. */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request a test provider received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ProviderAnswerSpec {
  status: number;
  body?: unknown;
  /** Hold the answer this long (a provider that hangs). */
  delayMs?: number;
}

/** A real HTTP server on 127.0.0.1 standing in for a provider: it records each request and answers as `answer` says. */
export interface TestProvider {
  url: string;
  requests: ReceivedRequest[];
  answer: (request: ReceivedRequest) => ProviderAnswerSpec;
  close(): Promise<void>;
}

export async function startTestProvider(answer: TestProvider['answer']): Promise<TestProvider> {
  const provider = { requests: [] as ReceivedRequest[], answer } as TestProvider;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      provider.requests.push(received);
      const spec = provider.answer(received);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(spec.status, spec.body === undefined ? {} : { 'content-type': 'application/json' });
        res.end(spec.body === undefined ? undefined : JSON.stringify(spec.body));
      };
      if (spec.delayMs) setTimeout(send, spec.delayMs).unref();
      else send();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return provider;
}

/** A Twilio-compatible Messages API: 201 with a `sid` for a well-formed request, Twilio's 400 otherwise. */
let sent = 0;
export function twilioAnswer(request: ReceivedRequest): ProviderAnswerSpec {
  const form = new URLSearchParams(request.body);
  if (!form.get('To')?.startsWith('+')) return { status: 400, body: { code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 } };
  return { status: 201, body: { sid: `SM${String(++sent).padStart(32, '0')}`, status: 'queued', to: form.get('To'), body: form.get('Body') } };
}

/** The error a send fails with; a send that succeeds fails the test. */
export const failureOf = (attempt: Promise<unknown>): Promise<Error & { permanent?: boolean; status?: number }> =>
  attempt.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (error: unknown) => error as Error,
  );
