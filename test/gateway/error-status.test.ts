/**
 * A grain error may choose its HTTP status: `new GrainError('out_of_stock', …, { status: 409 })`
 * answers 409 with code `out_of_stock`, from the gateway's own silo and from another silo of
 * the cluster (the status travels in the wire error). Only 400–599 is taken; any other
 * status is ignored and the code's default applies. `GrainClient.http` rebuilds the status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, GrainError, InvalidArgumentError, Silo, TestCluster, memoryCluster } from 'granary';
import { errorFromWire } from 'granary/internal';
import { createGatewayApp, siloBackend } from '../../silo/gateway/index.js';
import { Probe, Remote } from './grains.js';
import { call } from './helpers.js';

describe('GrainError status option', () => {
  it.each([
    [409, 409], [422, 422], [400, 400], [599, 599],
    [200, undefined], [302, undefined], [600, undefined], [404.5, undefined], [Number.NaN, undefined], ['409' as unknown as number, undefined],
  ])('status %s is kept as %s', (given, kept) => {
    const e = new GrainError('out_of_stock', 'no more', { status: given });
    expect(e.status).toBe(kept);
    expect('status' in e.toWire()).toBe(kept !== undefined);
  });

  it('travels in the wire error, on its own class too', () => {
    const back = errorFromWire(new GrainError('out_of_stock', 'no more', { status: 409, data: { sku: 'x' } }).toWire());
    expect(back).toMatchObject({ code: 'out_of_stock', status: 409, data: { sku: 'x' }, message: 'no more' });
    const invalid = errorFromWire(new InvalidArgumentError('bad sku', { status: 422 }).toWire());
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect(invalid.status).toBe(422);
    // A wire error from elsewhere with a status out of range gets none.
    expect(errorFromWire({ code: 'out_of_stock', name: 'GrainError', message: 'm', status: 700 }).status).toBeUndefined();
  });
});

describe('through a live silo gateway', () => {
  let front: Silo;
  let back: Silo;
  let port: number;

  beforeAll(async () => {
    const cluster = memoryCluster();
    front = await Silo.start({ grains: [Probe], cluster, gateway: { port: 0, host: '127.0.0.1' } });
    back = await Silo.start({ grains: [Remote], cluster });
    port = front.gateway!.port;
  });

  afterAll(async () => {
    await front?.stop();
    await back?.stop();
  });

  it.each([
    ['on the gateway\'s silo', 'Probe'],
    ['on another silo', 'Remote'],
  ])('%s: the chosen status, the grain\'s code', async (_where, type) => {
    const r = await call(port, `/grains/${type}/shop/refuse`, { args: ['out_of_stock', 409] });
    expect(r.status).toBe(409);
    expect(r.json).toEqual({ error: { code: 'out_of_stock', name: 'GrainError', message: 'refused with out_of_stock', status: 409 } });
    // Without a status the code's default mapping applies: 500 for a code the gateway does not know.
    const plain = await call(port, `/grains/${type}/shop/refuse`, { args: ['out_of_stock'] });
    expect(plain.status).toBe(500);
    expect(plain.json.error).toEqual({ code: 'out_of_stock', name: 'GrainError', message: 'refused with out_of_stock' });
  });

  it.each([[200], [302], [600]])('status %i is ignored: the default mapping answers', async (status) => {
    const r = await call(port, '/grains/Remote/shop/refuse', { args: ['invalid_sku', status] });
    expect(r.status).toBe(400); // invalid_* → 400
    expect(r.json.error.code).toBe('invalid_sku');
    expect(r.json.error.status).toBeUndefined();
  });

  it('a chosen status overrides the default of a known code', async () => {
    const r = await call(port, '/grains/Remote/shop/refuse', { args: ['invalid_sku', 422] });
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('invalid_sku');
  });

  it('GrainClient.http rebuilds the code and the status', async () => {
    const client = GrainClient.http(front.gateway!.url);
    try {
      const err = await client.getGrain(Remote, 'shop').refuse('out_of_stock', 409).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      expect(err).toMatchObject({ code: 'out_of_stock', status: 409, message: 'refused with out_of_stock' });
    } finally {
      await client.close();
    }
  });
});

describe('through a TestCluster-backed gateway', () => {
  it('a grain on any of its silos answers with its chosen status', async () => {
    const cluster = await TestCluster.start({ silos: 2, grains: [Probe, Remote] });
    try {
      for (const silo of cluster.silos) {
        const app = createGatewayApp(siloBackend(silo));
        const res = await app.request('/grains/Remote/tc/refuse', {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args":["out_of_stock",409]}',
        });
        expect(res.status).toBe(409);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('out_of_stock');
      }
    } finally {
      await cluster.stop();
    }
  });
});
