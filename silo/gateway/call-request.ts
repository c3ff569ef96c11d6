/**
 * What a grain call's headers say, checked before the body is read: the media type (plain
 * JSON or the codec's), the deadline, the request context, and whether the method may be
 * called at all (nothing is sent anywhere for a method that cannot be).
 */
import { createMiddleware } from 'hono/factory';
import { GRANARY_JSON, LIFECYCLE_METHODS, TIMEOUT_HEADER, isReservedMethod } from '../../runtime/protocol.js';
import type { GatewayBackend, MethodStatus } from './backend.js';
import { contextFromHeaders } from './context-headers.js';
import type { GatewayEnv } from './env.js';
import { HttpError } from './http-errors.js';
import { IDEMPOTENCY_KEY_MAX, idempotencyCallId } from '../../runtime/call-log.js';

/** The header that makes an HTTP call's retries one call (docs/exactly-once.md). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export interface CallRequest {
  /** The body and result use the codec's media type (else plain JSON). */
  rich: boolean;
  /** The caller's deadline (`x-granary-timeout-ms`), capped. */
  timeoutMs: number | undefined;
  context: Record<string, unknown> | undefined;
  methodStatus: MethodStatus;
  /** The call id an `Idempotency-Key` gives (per grain and method); undefined: the gateway's own, fresh. */
  callId: string | undefined;
}

export interface CallHeaderOptions {
  maxTimeoutMs: number;
  /** Told about context headers that lose information. */
  warn(subject: string, message: string): void;
}

/** Never callable, whatever the class (with the lifecycle hooks): checked before anything is sent anywhere. */
const OBJECT_MEMBERS = new Set(['__proto__', 'prototype']);
const MAX_METHOD_LENGTH = 256;

export function callHeaders(backend: GatewayBackend, options: CallHeaderOptions) {
  return createMiddleware<GatewayEnv>(async (c, next) => {
    const { type, method } = c.var.target;
    const rich = mediaType(c.req.header('content-type'));
    const timeoutMs = parseTimeout(c.req.header(TIMEOUT_HEADER), options.maxTimeoutMs);
    const context = contextFromHeaders(c.req.raw.headers, { warn: options.warn });
    checkMethodName(type, method);
    const methodStatus = backend.methodStatus(type, method);
    if (methodStatus === 'no_such_type') {
      throw new HttpError('grain_not_found', `no live silo hosts grain type "${type}" (check the type name)`);
    }
    if (methodStatus === 'not_callable') {
      throw new HttpError('method_not_found', `grain type ${type} has no callable method "${method}"`);
    }
    const callId = parseIdempotencyKey(c.req.header(IDEMPOTENCY_HEADER), method);
    c.set('call', { rich, timeoutMs, context, methodStatus, callId });
    await next();
  });
}

function checkMethodName(type: string, method: string): void {
  // `$…`: the runtime's own protocol messages (transactions), never callable from outside.
  if (method.startsWith('_') || isReservedMethod(method) || LIFECYCLE_METHODS.has(method) || OBJECT_MEMBERS.has(method) || method.length > MAX_METHOD_LENGTH) {
    throw new HttpError('method_not_found', `grain type ${type} has no callable method "${method.slice(0, MAX_METHOD_LENGTH)}"`);
  }
}

/** True for the codec's media type, false for plain JSON; anything else is 415. */
function mediaType(header: string | undefined): boolean {
  if (header === undefined) {
    throw new HttpError('unsupported_media_type', `missing content-type: send application/json (or ${GRANARY_JSON})`);
  }
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  for (const p of params) {
    if (p.startsWith('charset=') && p !== 'charset=utf-8' && p !== 'charset="utf-8"') {
      throw new HttpError('unsupported_media_type', `only UTF-8 bodies are accepted (got ${p})`);
    }
  }
  if (type === 'application/json') return false;
  if (type === GRANARY_JSON) return true;
  throw new HttpError('unsupported_media_type', `content-type ${JSON.stringify(type)} is not accepted: send application/json (or ${GRANARY_JSON})`);
}

function parseTimeout(raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw.trim()) || Number(raw) < 1) {
    throw new HttpError('invalid_request', `${TIMEOUT_HEADER} must be a whole number of milliseconds from 1 to ${max} (got ${JSON.stringify(raw.slice(0, 40))})`);
  }
  return Math.min(Number(raw), max);
}

/** Printable ASCII, 1 to IDEMPOTENCY_KEY_MAX characters (what a UUID, a ULID or a hash is). */
const KEY_PATTERN = /^[\x21-\x7e]+$/;

function parseIdempotencyKey(raw: string | undefined, method: string): string | undefined {
  if (raw === undefined) return undefined;
  const key = raw.trim();
  if (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX || !KEY_PATTERN.test(key)) {
    throw new HttpError('invalid_request', `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX} printable ASCII characters without spaces, e.g. a UUID (got ${JSON.stringify(raw.slice(0, 40))}${raw.length > 40 ? '…' : ''})`);
  }
  return idempotencyCallId(method, key);
}
