/**
 * The HTTP transport of `GrainClient.http(url)`: each call is a POST to a silo's gateway.
 *
 * Bodies use the codec's media type (`application/vnd.granary+json`), so Dates, BigInts,
 * Maps, bytes and grain references round-trip exactly as they do between silos. Errors come
 * back as `{"error": {code, name, message}}` and are rebuilt into the same classes a cluster
 * client sees. The request context travels as `x-granary-ctx-<name>` headers.
 */
import {
  GrainError, SiloUnavailableError, TimeoutError, currentScope, decode, encode, errorFromWire,
  type DecodeOptions, type GrainId, type WireError,
} from '../runtime/index.js';
import type { ClientTransport } from './grain-client.js';

export interface HttpClientOptions {
  /** Sent with every request, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
  /** How long a call waits for its response (default 30 s); the gateway is told too. */
  responseTimeoutMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

const MEDIA_TYPE = 'application/vnd.granary+json';
const CTX_PREFIX = 'x-granary-ctx-';
const TIMEOUT_HEADER = 'x-granary-timeout-ms';
/** Extra time the client gives the gateway to answer 504 itself before giving up locally. */
const TIMEOUT_SLACK_MS = 1_000;

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
    async invoke(target: GrainId, targetKey: string, method: string, args: unknown[]): Promise<unknown> {
      if (closed) throw new SiloUnavailableError('this GrainClient is closed');
      const body = `{"args":${encode(args)}}`;
      const headers: Record<string, string> = {
        ...options.headers,
        'content-type': MEDIA_TYPE,
        accept: MEDIA_TYPE,
        [TIMEOUT_HEADER]: String(timeoutMs),
      };
      const ctx = currentScope()?.ctx;
      if (ctx !== undefined) Object.assign(headers, contextHeaders(ctx));
      const url = `${root}/grains/${encodeURIComponent(target.type)}/${encodeURIComponent(target.key)}/${encodeURIComponent(method)}`;
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutMs + TIMEOUT_SLACK_MS);
      inflight.add(abort);
      let res: Response;
      let text: string;
      try {
        res = await doFetch(url, { method: 'POST', headers, body, signal: abort.signal });
        text = await res.text();
      } catch (err) {
        if (abort.signal.aborted) {
          throw closed
            ? new SiloUnavailableError(`call ${targetKey}.${method} was cancelled: the client was closed`)
            : new TimeoutError(`call ${targetKey}.${method} got no response from ${root} within ${timeoutMs} ms`);
        }
        throw new SiloUnavailableError(`cannot reach the gateway at ${root} for ${targetKey}.${method}: ${describe(err)}`, { cause: err });
      } finally {
        clearTimeout(timer);
        inflight.delete(abort);
      }
      return readResponse(res, text, decodeOptions, `${targetKey}.${method}`);
    },
    async close() {
      closed = true;
      for (const a of inflight) a.abort();
    },
  };
}

function readResponse(res: Response, text: string, decodeOptions: DecodeOptions, what: string): unknown {
  const rich = (res.headers.get('content-type') ?? '').toLowerCase().startsWith(MEDIA_TYPE);
  let body: unknown;
  try {
    body = rich ? decode(text, decodeOptions) : JSON.parse(text);
  } catch {
    throw httpStatusError(res.status, `${what}: the gateway answered HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (res.ok && body !== null && typeof body === 'object' && 'result' in body) return (body as { result: unknown }).result;
  const error = (body as { error?: Partial<WireError> } | null)?.error;
  if (error !== undefined && typeof error.code === 'string' && typeof error.message === 'string') {
    throw errorFromWire({ code: error.code, name: typeof error.name === 'string' ? error.name : '', message: error.message, data: error.data });
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
 * Context values as headers: names percent-encoded (header names are case-insensitive, so
 * anything but a-z 0-9 - _ . is encoded), values as JSON with non-ASCII escaped.
 */
export function contextHeaders(ctx: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx)) {
    const json = JSON.stringify(value);
    if (json === undefined) continue;
    out[CTX_PREFIX + encodeName(name)] = json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  }
  return out;
}

function encodeName(name: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(b);
    out += /[a-z0-9._-]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
