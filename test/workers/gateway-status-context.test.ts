/**
 * The Worker's gateway (the built bundle in miniflare) answers a grain's chosen HTTP status
 * (`new GrainError(code, msg, { status })` thrown inside a Durable Object) and takes the
 * request context from the `x-granary-ctx` JSON header with names kept exactly, from raw
 * HTTP and from `GrainClient.http`.
 */
import { describe, expect, it } from 'vitest';
import { GrainError, RequestContext } from 'granary';
import { Probe } from '../gateway/grains.js';
import { useTestWorker } from './worker-host.js';

const host = useTestWorker('granary-worker-status-');

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${host.worker.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('Worker gateway', () => {
  it('a grain error with a chosen status answers that status with the grain\'s code', async () => {
    const r = await post('/grains/Probe/shop/refuse', { args: ['out_of_stock', 409] });
    expect(r.status).toBe(409);
    expect(await r.json()).toEqual({ error: { code: 'out_of_stock', name: 'GrainError', message: 'refused with out_of_stock', status: 409 } });
    const ignored = await post('/grains/Probe/shop/refuse', { args: ['out_of_stock', 200] });
    expect(ignored.status).toBe(500);
    const err = await host.client.getGrain(Probe, 'shop').refuse('out_of_stock', 409).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrainError);
    expect(err).toMatchObject({ code: 'out_of_stock', status: 409 });
  });

  it('x-granary-ctx carries the context with its names, from raw HTTP and from GrainClient.http', async () => {
    const r = await post('/grains/Probe/ctx/ctx', { args: ['userId'] }, { 'x-granary-ctx': '{"userId":"u-1"}' });
    expect(await r.json()).toEqual({ result: 'u-1' });
    expect(await RequestContext.run({ userId: 'u-2' }, () => host.client.getGrain(Probe, 'ctx').ctx('userId'))).toBe('u-2');
    const bad = await post('/grains/Probe/ctx/ctx', { args: ['userId'] }, { 'x-granary-ctx': 'userId=u-1' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'invalid_request', message: expect.stringContaining('x-granary-ctx: {"userId":"u-1"}'),
    });
  });
});
