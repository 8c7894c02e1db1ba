/**
 * What the HTTP providers (an HTTP email or SMS API, Twilio, the chat webhook) share: one request with a
 * deadline, and the answer sorted into success, a failure worth retrying and one that no retry can fix.
 */

/** A provider's refusal or a failure to reach it. `permanent` is what the dispatcher reads to dead-letter at once. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly permanent: boolean;
  readonly status: number | undefined;
  constructor(message: string, opts: { permanent: boolean; status?: number }) {
    super(message);
    this.permanent = opts.permanent;
    this.status = opts.status;
  }
}

export interface ProviderRequest {
  method?: 'POST' | 'GET' | 'HEAD';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface ProviderAnswer {
  status: number;
  /** The parsed body when it was JSON, else undefined. */
  json: unknown;
}

/** `https://api.example.com/v1/send`: where a request went, without credentials or query (either may hold a key). */
export function endpointOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * Sends one request. 2xx resolves. 408, 429 and 5xx, a timeout or a network failure throw a retryable
 * `ProviderError`: the message may go out on the next attempt. Any other status throws a permanent one
 * (a 400 for a malformed number, a 401 for a wrong key): retrying would only repeat it.
 */
export async function callProvider(provider: string, url: string, request: ProviderRequest): Promise<ProviderAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method ?? 'POST',
      headers: request.headers ?? {},
      ...(request.body === undefined ? {} : { body: request.body }),
      // A redirect would carry the credentials somewhere the operator did not configure.
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (error) {
    throw new ProviderError(`${provider}: ${endpointOf(url)} ${unreachable(error, request.timeoutMs)}`, { permanent: false });
  }
  const text = await response.text().catch(() => '');
  let json: unknown;
  if (/\bjson\b/i.test(response.headers.get('content-type') ?? '')) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (response.status >= 200 && response.status < 300) return { status: response.status, json };
  const retryable = response.status === 408 || response.status === 429 || response.status >= 500 || response.status < 400;
  const detail = detailOf(json);
  throw new ProviderError(`${provider}: ${endpointOf(url)} answered ${response.status}${detail ? ` (${detail})` : ''}`, {
    permanent: !retryable,
    status: response.status,
  });
}

/** The first string id found under one of `keys`, at the top level or under `data`. */
export function idFrom(json: unknown, keys: readonly string[]): string | undefined {
  for (const scope of [json, (json as { data?: unknown } | undefined)?.data]) {
    if (scope === null || typeof scope !== 'object') continue;
    for (const key of keys) {
      const value = (scope as Record<string, unknown>)[key];
      if (typeof value === 'string' && value) return value.slice(0, 200);
      if (typeof value === 'number') return String(value);
    }
  }
  return undefined;
}

/** `Authorization` carries `Bearer <secret>`; any other header the secret itself. */
export const secretHeader = (header: string, secret: string): Record<string, string> => ({
  [header.toLowerCase()]: header.toLowerCase() === 'authorization' ? `Bearer ${secret}` : secret,
});

/**
 * A provider's own words for a refusal (Twilio's `message`, a `{error:{message}}`), cut short. The dispatcher
 * scrubs it again before it is stored: providers may echo a number or a link.
 */
function detailOf(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const body = json as Record<string, unknown>;
  const nested = typeof body.error === 'object' && body.error !== null ? (body.error as Record<string, unknown>) : undefined;
  const found = [body.message, nested?.message, body.error, body.detail, body.title].find((v) => typeof v === 'string' && v.trim());
  const code = body.code ?? nested?.code;
  const text = typeof found === 'string' ? found.trim().replace(/\s+/g, ' ').slice(0, 200) : undefined;
  return [typeof code === 'string' || typeof code === 'number' ? `code ${code}` : undefined, text].filter(Boolean).join(': ') || undefined;
}

function unreachable(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: string })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `did not answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return `cannot be reached (${cause?.code ?? cause?.message ?? (error as Error)?.message ?? 'network error'})`;
}
