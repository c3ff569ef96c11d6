/**
 * The HTTP transport of `GrainClient.http(url)`: each call is a POST to a silo's gateway.
 *
 * Bodies use the codec's media type (`application/vnd.granary+json`), so Dates, BigInts,
 * Maps, bytes and grain references round-trip exactly as they do between silos. Errors come
 * back as `{"error": {code, name, message}}` and are rebuilt into the same classes a cluster
 * client sees (a status the grain chose included). The request context travels as one
 * `x-granary-ctx` header holding a JSON object, so its names keep their case.
 */
import {
  GrainError, InvalidArgumentError, SiloUnavailableError, TimeoutError, currentScope, decode, encode, errorFromWire,
  type DecodeOptions, type GrainId, type WireError,
} from '../runtime/index.js';
import { CTX_HEADER, GRANARY_JSON, TIMEOUT_HEADER } from '../runtime/protocol.js';
import { freshCallId } from '../runtime/call-log.js';
import { activeTraceHeaders, clientSpan, tracingEnabled } from '../runtime/features/tracing/index.js';
import type { ClientTransport } from './grain-client.js';
import { httpClientStreams } from './streams.js';

export interface HttpClientOptions {
  /** Sent with every request, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
  /** How long a call waits for its response (default 30 s); the gateway is told too. */
  responseTimeoutMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/** Extra time the client gives the gateway to answer 504 itself before giving up locally. */
const TIMEOUT_SLACK_MS = 1_000;
/**
 * Waits before sending a call again after the gateway could not be reached or answered 502/503
 * (then up to the call's deadline, the last one repeating). The same `Idempotency-Key` goes
 * with every send, so a call that ran the first time is answered from the grain's record.
 */
const RESEND_DELAYS_MS = [50, 200, 500, 1_000];

export function httpTransport(baseUrl: string, options: HttpClientOptions & { ref?: DecodeOptions['ref'] }): ClientTransport {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new TypeError(`GrainClient.http needs an http(s) URL of a silo gateway (got ${JSON.stringify(baseUrl)})`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`GrainClient.http needs an http(s) URL (got ${JSON.stringify(baseUrl)})`);
  }
  const root = base.href.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.responseTimeoutMs ?? 30_000;
  const decodeOptions: DecodeOptions = options.ref ? { ref: options.ref } : {};
  const inflight = new Set<AbortController>();
  let closed = false;

  return {
    checkTarget: checkPathSegments,
    streams: httpClientStreams({ root, headers: options.headers ?? {}, fetch: doFetch, decodeOptions }),
    invoke(target: GrainId, targetKey: string, method: string, args: unknown[]): Promise<unknown> {
      // A CLIENT span per call while a tracer provider is registered; `traceparent` carries it.
      if (tracingEnabled()) return clientSpan(target.type, method, target.key, undefined, () => send(target, targetKey, method, args), false);
      return send(target, targetKey, method, args);
    },
    async close() {
      closed = true;
      for (const a of inflight) a.abort();
    },
  };

  async function send(target: GrainId, targetKey: string, method: string, args: unknown[]): Promise<unknown> {
      if (closed) throw new SiloUnavailableError('this GrainClient is closed');
      const body = `{"args":${encode(args, 1)}}`;
      const headers: Record<string, string> = {
        ...options.headers,
        'content-type': GRANARY_JSON,
        accept: GRANARY_JSON,
        [TIMEOUT_HEADER]: String(timeoutMs),
      };
      const ctx = currentScope()?.ctx;
      const context = ctx === undefined ? undefined : contextHeader(ctx);
      if (context !== undefined) headers[CTX_HEADER] = context;
      const trace = tracingEnabled() ? activeTraceHeaders() : undefined;
      if (trace !== undefined) {
        headers.traceparent = trace.traceparent;
        if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate;
      }
      // One id per call, sent with every attempt (docs/exactly-once.md).
      headers['idempotency-key'] = freshCallId();
      const url = `${root}/grains/${encodeURIComponent(target.type)}/${encodeURIComponent(target.key)}/${encodeURIComponent(method)}`;
      const deadline = Date.now() + timeoutMs;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) headers[TIMEOUT_HEADER] = String(Math.max(1, deadline - Date.now()));
        const { res, text, error } = await post(url, headers, body, deadline - Date.now(), `${targetKey}.${method}`);
        const retry = error !== undefined ? error instanceof SiloUnavailableError && !closed : resendable(res!, text!);
        const wait = RESEND_DELAYS_MS[Math.min(attempt, RESEND_DELAYS_MS.length - 1)]!;
        if (!retry || Date.now() + wait >= deadline) {
          if (error !== undefined) throw error;
          return readResponse(res!, text!, decodeOptions, `${targetKey}.${method}`);
        }
        await new Promise((r) => setTimeout(r, wait));
      }
  }

  /** One POST: the response and its text, or the error that stands for none. */
  async function post(url: string, headers: Record<string, string>, body: string, waitMs: number, what: string): Promise<{ res?: Response; text?: string; error?: GrainError }> {
    if (closed) return { error: new SiloUnavailableError('this GrainClient is closed') };
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(1, waitMs) + TIMEOUT_SLACK_MS);
    inflight.add(abort);
    try {
      const res = await doFetch(url, { method: 'POST', headers, body, signal: abort.signal });
      return { res, text: await res.text() };
    } catch (err) {
      if (abort.signal.aborted) {
        return {
          error: closed
            ? new SiloUnavailableError(`call ${what} was cancelled: the client was closed`)
            : new TimeoutError(`call ${what} got no response from ${root} within ${timeoutMs} ms`),
        };
      }
      return { error: new SiloUnavailableError(`cannot reach the gateway at ${root} for ${what}: ${describe(err)}`, { cause: err }) };
    } finally {
      clearTimeout(timer);
      inflight.delete(abort);
    }
  }
}

/**
 * An answer that says the call did not get to a grain: a proxy's 502/503 page, or a gateway
 * that is starting or draining (`not_ready`). A gateway's own `silo_unavailable` is final: its
 * router already re-sent the call until the deadline.
 */
function resendable(res: Response, text: string): boolean {
  if (res.status === 502) return true;
  if (res.status !== 503) return false;
  const code = /"code"\s*:\s*"([a-z_]+)"/.exec(text.slice(0, 200))?.[1];
  return code === undefined || code === 'not_ready';
}

/**
 * A type or key of "." or ".." cannot be a URL path segment: every URL parser resolves it
 * (and "%2E" / "%2E%2E" alike, by the URL standard), so the request would reach another
 * route. Refused when the reference is made, not at the first call.
 */
function checkPathSegments(type: string, key: string): void {
  for (const [what, value] of [['type', type], ['key', key]] as const) {
    if (value === '.' || value === '..') {
      throw new InvalidArgumentError(
        `grain ${what} ${JSON.stringify(value)} cannot be sent through GrainClient.http: URLs resolve "." and ".." path segments (encoded or not), so no gateway route can carry it; pick another ${what}, or call this grain through GrainClient.connect (NATS)`,
      );
    }
  }
}

function readResponse(res: Response, text: string, decodeOptions: DecodeOptions, what: string): unknown {
  const rich = (res.headers.get('content-type') ?? '').toLowerCase().startsWith(GRANARY_JSON);
  let body: unknown;
  try {
    body = rich ? decode(text, decodeOptions, 1) : JSON.parse(text);
  } catch {
    throw httpStatusError(res.status, `${what}: the gateway answered HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (res.ok && body !== null && typeof body === 'object' && 'result' in body) return (body as { result: unknown }).result;
  const error = (body as { error?: Partial<WireError> } | null)?.error;
  if (error !== undefined && typeof error.code === 'string' && typeof error.message === 'string') {
    throw errorFromWire({ code: error.code, name: typeof error.name === 'string' ? error.name : '', message: error.message, data: error.data, status: error.status });
  }
  throw httpStatusError(res.status, `${what}: unexpected HTTP ${res.status} answer from the gateway`);
}

/** Errors from something in front of the gateway (a proxy's 502 page, …). */
function httpStatusError(status: number, message: string): GrainError {
  if (status === 502 || status === 503) return new SiloUnavailableError(message);
  if (status === 504) return new TimeoutError(message);
  return new GrainError('http_error', message, { data: { status } });
}

/**
 * The request context as the `x-granary-ctx` header: one JSON object, names as they are,
 * non-ASCII escaped (header values are bytes; `\u00e9` survives any proxy). Undefined when
 * nothing in it can travel (values JSON drops, such as undefined, are left out).
 */
export function contextHeader(ctx: Record<string, unknown>): string | undefined {
  let json: string;
  try {
    json = JSON.stringify(ctx);
  } catch (err) {
    throw new InvalidArgumentError(`the request context cannot travel over HTTP as JSON (${(err as Error).message}); keep its values to JSON data`, { cause: err });
  }
  if (json === '{}') return undefined;
  return json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
