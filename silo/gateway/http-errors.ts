/**
 * How gateway errors look on the wire: `{"error": {"code", "name", "message"}}` with the
 * HTTP status the code maps to. Grain errors keep their code and message, never a stack.
 */
import type { WireError } from '../../runtime/errors.js';

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
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'rate_limited':
      return 429;
    default:
      // invalid_argument, transaction_required, invalid_request, and any other invalid_*.
      if (code === 'transaction_required' || code.startsWith('invalid_')) return 400;
      return 500;
  }
}

/** The JSON error body for any thrown value; unknown values become `grain_error`. */
export function errorBody(err: unknown): { error: WireError } {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; data?: unknown } | null;
  const code = typeof e?.code === 'string' && e.code !== '' ? e.code : 'grain_error';
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const out: WireError = { code, name, message };
  if (e?.data !== undefined && isJsonSafe(e.data)) out.data = e.data;
  return { error: out };
}

/** A gateway-level error: a code from `statusOf` and a message saying what to do. */
export class HttpError extends Error {
  constructor(readonly code: string, message: string, readonly headers?: Record<string, string>) {
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
