/**
 * The HTTP gateway as a Hono app: grain calls over HTTP, health, readiness and metrics.
 *
 * The app knows nothing of Node or of the silo: it takes a `GatewayBackend` (how to invoke
 * a grain, which methods are callable, readiness, metrics) and options, and only uses web
 * standards (Request, Headers, streams, TextDecoder), so a Worker's fetch handler can serve
 * the same app. The Node server around it lives in `node-server.ts`.
 */
import { Hono, type Context } from 'hono';
import { decode, encode, type DecodeOptions } from '../../runtime/codec.js';
import { contextFromHeaders } from './context-headers.js';
import { HttpError, errorBody, statusOf } from './http-errors.js';
import { toPlainJson } from './plain-json.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';

import { GRANARY_JSON, TIMEOUT_HEADER } from '../../runtime/protocol.js';

export { GRANARY_JSON, TIMEOUT_HEADER };

export interface GatewayCall {
  type: string;
  key: string;
  method: string;
  args: unknown[];
  /** Request-context values from the headers. */
  context: Record<string, unknown> | undefined;
}

/**
 * Whether a method can be called: known callable, known not callable, no such grain type
 * anywhere, or up to the cluster (a type another host knows).
 */
export type MethodStatus = 'callable' | 'not_callable' | 'no_such_type' | 'unknown';

/** What the gateway needs from whatever hosts the grains (a silo, a Worker). */
export interface GatewayBackend {
  /** Runs a call; rejects with a `GrainError` (its `code` picks the HTTP status). */
  invoke(call: GatewayCall): Promise<unknown>;
  /** `unknown` for types this host does not know: the call goes out and the cluster answers. */
  methodStatus(type: string, method: string): MethodStatus;
  /** Joined and serving (false while starting or draining). */
  ready(): boolean;
  /** Prometheus text; absent: `/metrics` is 404. */
  metrics?(): string;
  /** Called once per grain call that reached `invoke`. */
  recordCall?(type: string, method: string, outcome: string, seconds: number, namesKnown: boolean): void;
  /** Rebuilds grain references in codec-encoded arguments. */
  ref?: DecodeOptions['ref'];
}

export interface GatewayAppOptions {
  /** Largest request body in bytes (default 1 MiB); larger → 413. */
  maxBodyBytes?: number;
  /** Bearer token required on `/grains/*` and `/metrics` (probes stay open). */
  token?: string;
  /** Auth hook, after the token check: false → 403. */
  authorize?(req: Request): boolean | Promise<boolean>;
  /** Per-client rate limit on `/grains/*`; over it → 429 with `retry-after`. */
  rateLimit?: RateLimitOptions;
  /** Who a request counts against for the rate limit (default: its authorization header). */
  clientKey?(c: Context): string;
  /** Cap on `x-granary-timeout-ms` (default 5 minutes). */
  maxTimeoutMs?: number;
}

const DEFAULT_MAX_BODY = 1 << 20;
const MAX_TYPE_LENGTH = 256;
const MAX_KEY_LENGTH = 1024;
/** Never callable, whatever the class: checked before anything is sent anywhere. */
const RESERVED_METHODS = new Set(['constructor', '__proto__', 'prototype', 'onActivate', 'onDeactivate', 'initialState']);

export function createGatewayApp(backend: GatewayBackend, options: GatewayAppOptions = {}): Hono {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const maxTimeout = options.maxTimeoutMs ?? 5 * 60_000;
  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
  const clientKey = options.clientKey ?? ((c: Context) => c.req.header('authorization') ?? 'anonymous');
  const app = new Hono();

  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => errorResponse(c, new HttpError('not_found', `no route ${c.req.method} ${new URL(c.req.url).pathname}; grain calls are POST /grains/:type/:key/:method`)));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) =>
    backend.ready() ? c.json({ status: 'ready' }) : errorResponse(c, new HttpError('not_ready', 'the silo is starting or draining; send calls to another silo')));
  app.get('/metrics', async (c) => {
    await authenticate(c.req.raw, options);
    if (!backend.metrics) throw new HttpError('not_found', 'metrics are not enabled on this gateway');
    return c.body(backend.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    app.all(path, () => { throw new HttpError('method_not_allowed', `${path} accepts GET or HEAD`, { allow: 'GET, HEAD' }); });
  }

  app.all('/grains/*', async (c) => {
    const target = parseTarget(new URL(c.req.url).pathname);
    if (c.req.method !== 'POST') {
      throw new HttpError('method_not_allowed', 'grain calls are POST /grains/:type/:key/:method with {"args": [...]}', { allow: 'POST' });
    }
    await authenticate(c.req.raw, options);
    if (limiter) {
      const waitMs = limiter.take(clientKey(c));
      if (waitMs > 0) {
        throw new HttpError('rate_limited', `too many requests from this client; retry in ${Math.ceil(waitMs / 1000)} s`, { 'retry-after': String(Math.ceil(waitMs / 1000)) });
      }
    }
    const rich = mediaType(c.req.header('content-type'));
    const timeoutMs = parseTimeout(c.req.header(TIMEOUT_HEADER), maxTimeout);
    const context = contextFromHeaders(c.req.raw.headers);
    checkMethodName(target.type, target.method);
    const status = backend.methodStatus(target.type, target.method);
    if (status === 'no_such_type') {
      throw new HttpError('grain_not_found', `no live silo hosts grain type "${target.type}" (check the type name)`);
    }
    if (status === 'not_callable') {
      throw new HttpError('method_not_found', `grain type ${target.type} has no callable method "${target.method}"`);
    }
    const text = await readBody(c.req.raw, maxBody);
    const args = parseArgs(text, rich, backend.ref);

    const started = performance.now();
    let outcome = 'ok';
    try {
      const result = await withTimeout(backend.invoke({ ...target, args, context }), timeoutMs, target);
      return resultResponse(c, result, rich);
    } catch (err) {
      outcome = (err as { code?: unknown } | null)?.code as string || 'grain_error';
      throw err;
    } finally {
      backend.recordCall?.(target.type, target.method, outcome, (performance.now() - started) / 1000, status === 'callable' || outcome === 'ok');
    }
  });

  return app;
}

function errorResponse(c: Context, err: unknown): Response {
  const body = errorBody(err);
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (err instanceof HttpError && err.headers) Object.assign(headers, err.headers);
  return c.body(JSON.stringify(body), statusOf(body.error.code) as 400, headers);
}

function resultResponse(c: Context, result: unknown, rich: boolean): Response {
  if (rich) return c.body(`{"result":${encode(result)}}`, 200, { 'content-type': `${GRANARY_JSON}; charset=utf-8` });
  return c.body(JSON.stringify({ result: toPlainJson(result) }), 200, { 'content-type': 'application/json; charset=utf-8' });
}

/** `/grains/:type/:key/:method`, each segment percent-decoded (a key may hold an encoded "/"). */
function parseTarget(pathname: string): { type: string; key: string; method: string } {
  const parts = pathname.split('/');
  if (parts.length !== 5 || parts[1] !== 'grains') {
    throw new HttpError('not_found', `no route ${pathname}; grain calls are POST /grains/:type/:key/:method`);
  }
  const [type, key, method] = parts.slice(2).map((p, i) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw new HttpError('invalid_request', `path segment ${i + 1} (${JSON.stringify(p)}) is not valid percent-encoded UTF-8`);
    }
  }) as [string, string, string];
  if (type === '' || key === '' || method === '') {
    throw new HttpError('not_found', `empty grain type, key or method in ${pathname}; grain calls are POST /grains/:type/:key/:method`);
  }
  if (type.length > MAX_TYPE_LENGTH || type.includes('/')) {
    throw new HttpError('invalid_request', `grain type must be at most ${MAX_TYPE_LENGTH} characters without "/"`);
  }
  if (key.length > MAX_KEY_LENGTH) throw new HttpError('invalid_request', `grain key is longer than ${MAX_KEY_LENGTH} characters`);
  return { type, key, method };
}

function checkMethodName(type: string, method: string): void {
  // `$…`: the runtime's own protocol messages (transactions), never callable from outside.
  if (method.startsWith('_') || method.startsWith('$') || RESERVED_METHODS.has(method) || method.length > 256) {
    throw new HttpError('method_not_found', `grain type ${type} has no callable method "${method.slice(0, 256)}"`);
  }
}

/** True for the codec's media type, false for plain JSON; anything else is 415. */
function mediaType(header: string | undefined): boolean {
  if (header === undefined) {
    throw new HttpError('unsupported_media_type', 'missing content-type: send application/json (or application/vnd.granary+json)');
  }
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  for (const p of params) {
    if (p.startsWith('charset=') && p !== 'charset=utf-8' && p !== 'charset="utf-8"') {
      throw new HttpError('unsupported_media_type', `only UTF-8 bodies are accepted (got ${p})`);
    }
  }
  if (type === 'application/json') return false;
  if (type === GRANARY_JSON) return true;
  throw new HttpError('unsupported_media_type', `content-type ${JSON.stringify(type)} is not accepted: send application/json (or application/vnd.granary+json)`);
}

function parseTimeout(raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw.trim()) || Number(raw) < 1) {
    throw new HttpError('invalid_request', `${TIMEOUT_HEADER} must be a whole number of milliseconds from 1 to ${max} (got ${JSON.stringify(raw.slice(0, 40))})`);
  }
  return Math.min(Number(raw), max);
}

/** The body as UTF-8 text, reading no more than `max` bytes. */
async function readBody(req: Request, max: number): Promise<string> {
  const tooLarge = () => new HttpError('payload_too_large', `request body is larger than ${max} bytes`);
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > max) throw tooLarge();
  if (declared !== null && /^\d+$/.test(declared)) {
    // The HTTP parser delivers exactly the declared length: read it in one go (on Node this
    // skips building a web stream around the request).
    return utf8(new Uint8Array(await req.arrayBuffer()));
  }
  if (req.body === null) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const ch of chunks) { bytes.set(ch, at); at += ch.byteLength; }
  return utf8(bytes);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new HttpError('invalid_request', 'request body is not valid UTF-8');
  }
}

/** `{"args": [...]}` (or `{}` for no arguments); nothing else is accepted. */
function parseArgs(text: string, rich: boolean, ref: DecodeOptions['ref']): unknown[] {
  if (text.trim() === '') throw new HttpError('invalid_request', 'empty body: send {"args": [...]}');
  let body: unknown;
  try {
    body = rich ? decode(text, ref ? { ref } : undefined) : JSON.parse(text);
  } catch (err) {
    throw new HttpError('invalid_request', `malformed JSON body: ${(err as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError('invalid_request', 'the body must be a JSON object {"args": [...]}');
  }
  for (const k of Object.keys(body)) {
    if (k !== 'args') throw new HttpError('invalid_request', `unexpected field ${JSON.stringify(k.slice(0, 64))} in the body; send {"args": [...]}`);
  }
  const args = (body as { args?: unknown }).args;
  if (args === undefined) return [];
  if (!Array.isArray(args)) throw new HttpError('invalid_request', '"args" must be an array of the method\'s arguments');
  return args;
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, t: { type: string; key: string; method: string }): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(Object.assign(new Error(`${t.type}/${t.key}.${t.method} did not answer within ${ms} ms (${TIMEOUT_HEADER})`), { code: 'timeout', name: 'TimeoutError' }));
    }, ms);
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

/** Bearer token, then the auth hook. */
async function authenticate(req: Request, options: GatewayAppOptions): Promise<void> {
  if (options.token !== undefined) {
    const header = req.headers.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null || !sameText(m[1]!, options.token)) {
      throw new HttpError('unauthorized', 'missing or wrong bearer token (authorization: Bearer <token>)', { 'www-authenticate': 'Bearer realm="granary"' });
    }
  }
  if (options.authorize && !(await options.authorize(req))) {
    throw new HttpError('forbidden', 'the gateway\'s authorize hook refused this request');
  }
}

/** Compares in time independent of where the texts differ. */
function sameText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a.charCodeAt(i % (a.length || 1)) || 0) ^ b.charCodeAt(i);
  return diff === 0;
}
