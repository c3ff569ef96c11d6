/**
 * `GET /openapi.json` (API.md "Argument schemas"): OpenAPI 3.1 listing every callable method
 * of the hosted types, with JSON Schema for arguments where the schema library provides it;
 * nothing that is not callable appears; behind the token when one is set. The Worker serves
 * the same (test/workers/worker.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo } from 'granary';
import { grainTypeName } from 'granary/internal';
import { sampleGrains } from '../../grains/index.js';
import { raw } from './helpers.js';

const TOKEN = 'openapi-token-1';

describe('GET /openapi.json', () => {
  let silo: Silo;
  let guarded: Silo;
  beforeAll(async () => {
    silo = await Silo.start({ grains: sampleGrains, gateway: { port: 0, host: '127.0.0.1' } });
    guarded = await Silo.start({ grains: sampleGrains, gateway: { port: 0, host: '127.0.0.1', token: TOKEN } });
  });
  afterAll(async () => {
    await silo?.stop();
    await guarded?.stop();
  });

  it('describes every callable method, with the argument schemas the sample grains declare', async () => {
    const r = await raw(silo.gateway!.port, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    const paths = Object.keys(r.json.paths);
    for (const type of sampleGrains) {
      for (const m of silo.types.get(grainTypeName(type))!.methods) {
        expect(paths).toContain(`/grains/${grainTypeName(type)}/{key}/${m}`);
      }
    }
    expect(paths.length).toBe(sampleGrains.reduce((n, t) => n + silo.types.get(grainTypeName(t))!.methods.size, 0));
    // Nothing that cannot be called: lifecycle hooks, Grain's own members, feature members.
    expect(paths.some((p) => /\/(onActivate|onDeactivate|initialState|writeState|getGrain|transactionalState|transaction)$/.test(p))).toBe(false);
    const add = r.json.paths['/grains/Counter/{key}/add'].post;
    expect(add.requestBody.content['application/json'].schema.properties.args).toMatchObject({
      type: 'array', maxItems: 1, prefixItems: [{ type: 'integer' }],
    });
    const transfer = r.json.paths['/grains/Bank/{key}/transfer'].post.requestBody.content['application/json'].schema.properties.args;
    expect(transfer.prefixItems).toHaveLength(4);
    expect(transfer.prefixItems[2]).toMatchObject({ type: 'integer', exclusiveMinimum: 0 });
    // A method without schemas: an array of anything.
    expect(r.json.paths['/grains/Counter/{key}/whoAsked'].post.requestBody.content['application/json'].schema.properties.args)
      .toEqual({ type: 'array' });
  });

  it('is behind the token when one is set', async () => {
    expect((await raw(guarded.gateway!.port, 'GET', '/openapi.json')).status).toBe(401);
    const ok = await raw(guarded.gateway!.port, 'GET', '/openapi.json', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.json.paths['/grains/Counter/{key}/add']).toBeDefined();
  });
});
