/**
 * The gateway's error mapping exactly as docs/deploy.md's status table and API.md
 * "HTTP gateway" state it: the status of every listed code, the `grain_error` fallback, a
 * grain's own status, the JSON body and its media type, `retry-after` for an overloaded silo,
 * and the error names `GrainClient.http` rebuilds. Added where mutation testing
 * (`npm run test:mutation`) found these rows unchecked.
 */
import { describe, expect, it } from 'vitest';
import { GrainError, SiloUnavailableError } from 'granary';
import { HttpError, errorBody, errorResponse, statusOf } from '../../silo/gateway/http-errors.js';

describe('statusOf: docs/deploy.md status table', () => {
  it.each([
    ['invalid_request', 400], ['invalid_argument', 400], ['invalid_anything', 400], ['transaction_required', 400],
    ['unauthorized', 401], ['forbidden', 403],
    ['not_found', 404], ['grain_not_found', 404], ['method_not_found', 404],
    ['method_not_allowed', 405], ['request_timeout', 408],
    ['inconsistent_state', 409], ['transaction_aborted', 409], ['deadlock', 409],
    ['payload_too_large', 413], ['unsupported_media_type', 415], ['rate_limited', 429], ['headers_too_large', 431],
    ['grain_error', 500], ['out_of_stock', 500], ['', 500], ['xinvalid_', 500],
    ['silo_unavailable', 503], ['not_ready', 503],
    ['timeout', 504],
  ])('%j → %i', (code, status) => {
    expect(statusOf(code)).toBe(status);
  });
});

describe('errorBody', () => {
  it('an exception from grain code is grain_error with its name and message', () => {
    const e = new TypeError('bad thing');
    expect(errorBody(e)).toEqual({ error: { code: 'grain_error', name: 'TypeError', message: 'bad thing' } });
  });

  it('a thrown non-error is grain_error named Error, its text the message', () => {
    expect(errorBody('plain text')).toEqual({ error: { code: 'grain_error', name: 'Error', message: 'plain text' } });
    expect(errorBody(null)).toEqual({ error: { code: 'grain_error', name: 'Error', message: 'null' } });
  });

  it('an empty or non-string code is grain_error; a code of its own is kept', () => {
    expect(errorBody({ code: '', name: 'X', message: 'm' }).error.code).toBe('grain_error');
    expect(errorBody({ code: 42, name: 'X', message: 'm' }).error.code).toBe('grain_error');
    expect(errorBody({ code: 'out_of_stock', name: 'X', message: 'm' }).error.code).toBe('out_of_stock');
    expect(errorBody({ code: 'c', name: 7, message: 8 }).error).toMatchObject({ name: 'Error', message: '[object Object]' });
  });

  it('data rides along when it is JSON, and is left out when it is not', () => {
    expect(errorBody(new GrainError('c', 'm', { data: { sku: 'x' } })).error.data).toEqual({ sku: 'x' });
    expect('data' in errorBody(new GrainError('c', 'm')).error).toBe(false);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect('data' in errorBody(new GrainError('c', 'm', { data: cyclic })).error).toBe(false);
    expect('data' in errorBody(new GrainError('c', 'm', { data: 10n })).error).toBe(false);
  });

  it('only a GrainError carries a chosen status', () => {
    expect(errorBody(new GrainError('out_of_stock', 'm', { status: 409 })).error.status).toBe(409);
    expect('status' in errorBody(new GrainError('out_of_stock', 'm')).error).toBe(false);
    expect('status' in errorBody({ code: 'out_of_stock', name: 'E', message: 'm', status: 409 }).error).toBe(false);
  });
});

describe('errorResponse', () => {
  it('answers JSON with the status of the code, or the one the grain chose', async () => {
    const r = errorResponse(new GrainError('deadlock', 'cycle'));
    expect(r.status).toBe(409);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await r.json()).toEqual({ error: { code: 'deadlock', name: 'GrainError', message: 'cycle' } });
    expect(errorResponse(new GrainError('deadlock', 'cycle', { status: 422 })).status).toBe(422);
    expect(errorResponse(new Error('boom')).status).toBe(500);
  });

  it('an overloaded silo says when to come back, in whole seconds rounded up', () => {
    const r = errorResponse(new SiloUnavailableError('full', { data: { reason: 'overloaded', retryAfterMs: 1_500 } }));
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('2');
    expect(errorResponse(new SiloUnavailableError('full', { data: { retryAfterMs: 1_000 } })).headers.get('retry-after')).toBe('1');
    expect(errorResponse(new SiloUnavailableError('full', { data: { retryAfterMs: 0 } })).headers.has('retry-after')).toBe(false);
    expect(errorResponse(new SiloUnavailableError('full', { data: { retryAfterMs: '5' } })).headers.has('retry-after')).toBe(false);
    expect(errorResponse(new SiloUnavailableError('full')).headers.has('retry-after')).toBe(false);
  });

  it("a gateway error's own headers are sent, and its retry-after is not replaced", () => {
    const limited = new HttpError('rate_limited', 'slow down', { 'retry-after': '7', allow: 'POST' });
    const r = errorResponse(limited);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('7');
    expect(r.headers.get('allow')).toBe('POST');
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });
});

describe('HttpError names: what GrainClient.http rebuilds', () => {
  it.each([
    ['method_not_found', 'MethodNotFoundError'], ['grain_not_found', 'GrainNotFoundError'],
    ['timeout', 'TimeoutError'], ['not_ready', 'SiloUnavailableError'],
    ['invalid_request', 'InvalidArgumentError'], ['unauthorized', 'GatewayError'], ['xinvalid_', 'GatewayError'],
  ])('%s → %s', (code, name) => {
    const e = new HttpError(code, 'm');
    expect(e.name).toBe(name);
    expect(e.code).toBe(code);
    expect(errorBody(e).error).toEqual({ code, name, message: 'm' });
  });
});
