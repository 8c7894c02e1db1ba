// The child process an action runs in. Plain JavaScript on purpose: it is started with bare `node` under the
// permission model (no loader, no TypeScript), reading nothing but this file and the action's own directory.
// It receives one run at a time over IPC, builds Auth0's `event` and `api` for it, and answers with the calls the
// action made to `api` (the decision is Rekey's to apply, in the parent).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';

// What a process of the same user could do to its parent: signal it, load native code, reach internal bindings.
// The permission model covers files, child processes and workers; these it does not, so they go before any
// operator code is loaded.
const ownPid = process.pid;
const originalKill = process.kill.bind(process);
process.kill = (pid, signal) => {
  if (pid !== ownPid) throw new Error('process.kill is not available to actions');
  return originalKill(pid, signal);
};
for (const name of ['_kill', 'binding', '_linkedBinding', 'dlopen', '_debugProcess', '_debugEnd']) {
  try {
    Object.defineProperty(process, name, { value: undefined, writable: false, configurable: false });
  } catch {
    // A property that cannot be redefined stays; the permission model still guards what it reaches.
  }
}

const modulePath = process.argv[2];
let handlers;

const b64url = (input) => Buffer.from(input).toString('base64url');
const fromB64url = (input) => Buffer.from(input, 'base64url').toString('utf8');

/** HS256 JWT, synchronous as Auth0's `encodeToken`/`validateToken` are (jose only signs asynchronously). */
function signHs256(claims, secret) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

function verifyHs256(token, secret) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) throw new Error('the token is not a JWT');
  const header = JSON.parse(fromB64url(parts[0]));
  if (header.alg !== 'HS256') throw new Error('the token is not signed with HS256');
  const expected = Buffer.from(createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest('base64url'));
  const given = Buffer.from(parts[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new Error('the token signature is invalid');
  return JSON.parse(fromB64url(parts[1]));
}

const withQuery = (url, query) => {
  const target = new URL(String(url));
  for (const [key, value] of Object.entries(query ?? {})) target.searchParams.set(key, String(value));
  return target.href;
};

function buildApi(run, calls) {
  const cache = new Map(Object.entries(run.cache ?? {}));
  const api = {
    access: {
      deny(reason) {
        calls.push({ op: 'deny', reason: String(reason ?? '') });
        return api;
      },
    },
    authentication: {
      challengeWith(factor, options) {
        calls.push({ op: 'challenge', any: false, factors: [factor, ...((options && options.additionalFactors) || [])] });
        return api;
      },
      challengeWithAny(factors) {
        calls.push({ op: 'challenge', any: true, factors: Array.isArray(factors) ? factors : [] });
        return api;
      },
    },
    redirect: {
      sendUserTo(url, options) {
        calls.push({ op: 'redirect', url: withQuery(url, options && options.query) });
        return api;
      },
      encodeToken({ secret, payload, expiresInSeconds } = {}) {
        if (!secret) throw new Error('encodeToken needs a secret');
        const now = Math.floor(run.now / 1000);
        const claims = {
          ...(payload || {}),
          sub: run.event.user.user_id,
          iss: run.issuer,
          iat: now,
          exp: now + (expiresInSeconds ?? 900),
          ip: run.event.request.ip,
        };
        return signHs256(claims, secret);
      },
      validateToken({ secret, tokenParameterName } = {}) {
        if (!secret) throw new Error('validateToken needs a secret');
        const name = tokenParameterName || 'session_token';
        const token = (run.event.request.body || {})[name] ?? (run.event.request.query || {})[name];
        if (!token) throw new Error(`no ${name} parameter was sent to /continue`);
        const claims = verifyHs256(token, secret);
        if (typeof claims.exp !== 'number' || claims.exp * 1000 <= run.now) throw new Error('the token has expired');
        if (claims.state !== run.state) throw new Error('the token was not issued for this redirect');
        return claims;
      },
    },
    transaction: {
      setResultUrl(url, options) {
        calls.push({ op: 'result_url', url: withQuery(url, options && options.query) });
        return api;
      },
    },
    cache: {
      get(key) {
        const record = cache.get(String(key));
        return record && record.expires_at > run.now ? { value: record.value, expires_at: record.expires_at } : undefined;
      },
      set(key, value, options = {}) {
        const limits = run.cacheLimits;
        key = String(key);
        value = String(value);
        if (key.length > limits.keyLength || value.length > limits.valueLength) return { type: 'error', code: 'CACHE_ENTRY_TOO_LARGE' };
        if (!cache.has(key) && cache.size >= limits.entries) return { type: 'error', code: 'CACHE_FULL' };
        const candidates = [run.now + limits.maxTtlMs, run.now + (options.ttl ?? limits.defaultTtlMs)];
        if (typeof options.expires_at === 'number') candidates.push(options.expires_at);
        const record = { value, expires_at: Math.min(...candidates) };
        cache.set(key, record);
        calls.push({ op: 'cache_set', key, value, expires_at: record.expires_at });
        return { type: 'success', record };
      },
      delete(key) {
        key = String(key);
        cache.delete(key);
        calls.push({ op: 'cache_delete', key });
        return { type: 'success' };
      },
    },
    prompt: {
      render() {
        throw new Error('api.prompt.render is not supported by Rekey');
      },
    },
  };
  return api;
}

const describe = (error) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);

async function load() {
  const loaded = await import(pathToFileURL(modulePath).href);
  // CommonJS modules arrive as `default` (and as named exports where Node can see `exports.x =`); ESM as named.
  const pick = (name) =>
    typeof loaded[name] === 'function' ? loaded[name] : loaded.default && typeof loaded.default[name] === 'function' ? loaded.default[name] : undefined;
  handlers = { execute: pick('onExecutePostChallenge'), continue: pick('onContinuePostChallenge') };
  return { execute: Boolean(handlers.execute), continue: Boolean(handlers.continue) };
}

process.on('message', async (message) => {
  const { id } = message;
  try {
    if (message.kind === 'load') {
      process.send({ id, ok: true, handlers: await load() });
      return;
    }
    const handler = message.kind === 'continue' ? handlers.continue : handlers.execute;
    if (!handler) throw new Error(`the action has no ${message.kind === 'continue' ? 'onContinuePostChallenge' : 'onExecutePostChallenge'}`);
    const calls = [];
    // A structured clone per run: what one run does to its event cannot be seen by the next.
    await handler(message.event, buildApi(message, calls));
    process.send({ id, ok: true, calls });
  } catch (error) {
    process.send({ id, ok: false, error: describe(error) });
  }
});

// Operator code that leaves a rejected promise or a throw behind poisons this process: the parent replaces it.
process.on('uncaughtException', () => process.exit(70));
process.on('unhandledRejection', () => process.exit(70));
process.send({ ready: true });
