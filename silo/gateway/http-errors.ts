/**
 * How gateway errors look on the wire: `{"error": {"code", "name", "message"}}` with the
 * HTTP status the code maps to, or the status a `GrainError` chose (`{ status: 409 }`).
 * Grain errors keep their code and message, never a stack.
 */
import { GrainError, type ErrorCode, type WireError } from '../../runtime/errors.js';

/** HTTP status for an error code (runtime codes and the gateway's own). */
export function statusOf(code: string): number {
  switch (code) {
    case 'grain_not_found':
    case 'method_not_found':
    case 'not_found':
      return 404;
    case 'inconsistent_state':
    case 'transaction_aborted':
    case 'deadlock':
      return 409;
    case 'timeout':
      return 504;
    case 'silo_unavailable':
    case 'not_ready':
      return 503;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'method_not_allowed':
      return 405;
    case 'request_timeout':
      return 408;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'rate_limited':
      return 429;
    case 'headers_too_large':
      return 431;
    default:
      // invalid_argument, transaction_required, invalid_request, and any other invalid_*.
      if (code === 'transaction_required' || code.startsWith('invalid_')) return 400;
      return 500;
  }
}

/**
 * The JSON error body for any thrown value; unknown values become `grain_error`. A status
 * the grain chose rides along (`status`), so `GrainClient.http` rebuilds the same error.
 */
export function errorBody(err: unknown): { error: WireError } {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; data?: unknown } | null;
  const code = typeof e?.code === 'string' && e.code !== '' ? e.code : 'grain_error';
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const out: WireError = { code, name, message };
  if (e?.data !== undefined && isJsonSafe(e.data)) out.data = e.data;
  if (err instanceof GrainError && err.status !== undefined) out.status = err.status;
  return { error: out };
}

/** The HTTP status of an error body: the status its thrower chose, else its code's. */
export function statusOfBody(body: { error: WireError }): number {
  return body.error.status ?? statusOf(body.error.code);
}

/** The whole error response for any thrown value (web standard: Node and Workers alike). */
export function errorResponse(err: unknown): Response {
  const body = errorBody(err);
  const headers = new Headers({ 'content-type': 'application/json; charset=utf-8' });
  if (err instanceof HttpError && err.headers) for (const [k, v] of Object.entries(err.headers)) headers.set(k, v);
  // An overloaded silo says when to come back (`data.retryAfterMs`, runtime/catalog.ts).
  const retryAfterMs = (body.error.data as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  if (typeof retryAfterMs === 'number' && retryAfterMs > 0 && !headers.has('retry-after')) {
    headers.set('retry-after', String(Math.ceil(retryAfterMs / 1000)));
  }
  return new Response(JSON.stringify(body), { status: statusOfBody(body), headers });
}

/** A gateway-level error: a code from `statusOf` and a message saying what to do. */
export class HttpError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly headers?: Record<string, string>) {
    super(message);
    // The name a client rebuilds the error under (errorFromWire keeps it).
    this.name = NAMES[code] ?? (code.startsWith('invalid_') ? 'InvalidArgumentError' : 'GatewayError');
  }
}

const NAMES: Record<string, string> = {
  method_not_found: 'MethodNotFoundError',
  grain_not_found: 'GrainNotFoundError',
  timeout: 'TimeoutError',
  not_ready: 'SiloUnavailableError',
};

function isJsonSafe(v: unknown): boolean {
  try {
    return JSON.stringify(v) !== undefined;
  } catch {
    return false;
  }
}
