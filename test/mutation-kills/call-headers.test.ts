/**
 * What a grain call's headers must say (docs/deploy.md: 415 for anything but JSON or the
 * codec's type in UTF-8, `x-granary-timeout-ms` a whole number of milliseconds, 404 for
 * `_names`), checked one request per test so each check is its own. test/gateway/fuzz.test.ts
 * sends its requests before its tests run, which mutation testing cannot attribute to a test;
 * these requests are made inside the tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grain, Silo } from 'granary';
import { raw } from '../gateway/helpers.js';

const LONGEST = 'm'.repeat(256);

/** Method names at the edges of what the gateway lets through. */
class Edges extends Grain {
  static grainType = 'Edges';
  async ok(): Promise<string> { return 'ok'; }
  async trailing_(): Promise<string> { return 'trailing'; }
  async [LONGEST](): Promise<string> { return 'longest'; }
}

let silo: Silo;
let port: number;

beforeAll(async () => {
  silo = await Silo.start({ grains: [Edges], gateway: { port: 0, host: '127.0.0.1' } });
  port = silo.gateway!.port;
});

afterAll(async () => {
  await silo?.stop();
});

const post = (path: string, headers: Record<string, string>) =>
  raw(port, 'POST', path, { headers, body: '{"args":[]}' });

describe('content-type', () => {
  it('missing → 415 unsupported_media_type (not a crash)', async () => {
    const r = await post('/grains/Edges/a/ok', {});
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe('unsupported_media_type');
    expect(r.json.error.message).toMatch(/missing content-type/);
  });

  it('any other type → 415; the codec type and JSON in UTF-8 are taken', async () => {
    for (const type of ['application/xml', 'text/json', 'application/json5']) {
      const r = await post('/grains/Edges/a/ok', { 'content-type': type });
      expect(r.status, type).toBe(415);
      expect(r.json.error.code, type).toBe('unsupported_media_type');
    }
    for (const type of ['application/json', 'Application/JSON; charset=UTF-8', 'application/json; charset="utf-8"', 'application/vnd.granary+json']) {
      const r = await post('/grains/Edges/a/ok', { 'content-type': type });
      expect(r.status, type).toBe(200);
    }
    const latin1 = await post('/grains/Edges/a/ok', { 'content-type': 'application/json; charset=latin1' });
    expect(latin1.status).toBe(415);
    expect(latin1.json.error.message).toMatch(/only UTF-8 bodies are accepted \(got charset=latin1\)/);
  });
});

describe('x-granary-timeout-ms', () => {
  it('1 and 9 digits are taken', async () => {
    for (const value of ['1', '999999999']) {
      const r = await post('/grains/Edges/a/ok', { 'content-type': 'application/json', 'x-granary-timeout-ms': value });
      expect(r.status, value).toBe(200);
    }
  });

  it('0, ten digits, or digits with anything around them → 400 invalid_request', async () => {
    for (const value of ['0', '1234567890', '12ms', 'ms12', '1.5', '-1']) {
      const r = await post('/grains/Edges/a/ok', { 'content-type': 'application/json', 'x-granary-timeout-ms': value });
      expect(r.status, value).toBe(400);
      expect(r.json.error.code, value).toBe('invalid_request');
      expect(r.json.error.message, value).toMatch(/x-granary-timeout-ms must be a whole number of milliseconds/);
    }
  });
});

describe('method names', () => {
  it('a name ending in _ is callable; one starting with _ is not', async () => {
    const ok = await post('/grains/Edges/a/trailing_', { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(ok.json.result).toBe('trailing');
    const hidden = await post('/grains/Edges/a/_trailing', { 'content-type': 'application/json' });
    expect(hidden.status).toBe(404);
  });

  it('a name of 256 characters is callable; longer ones are refused without echoing them whole', async () => {
    const ok = await post(`/grains/Edges/a/${LONGEST}`, { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(ok.json.result).toBe('longest');
    const longer = await post(`/grains/Edges/a/${LONGEST}m`, { 'content-type': 'application/json' });
    expect(longer.status).toBe(404);
    expect(longer.json.error.code).toBe('method_not_found');
    expect(longer.json.error.message).toContain(`"${LONGEST}"`);
    expect(longer.json.error.message).not.toContain(`${LONGEST}m`);
  });

  it('an unknown type is grain_not_found and an unknown method method_not_found, both 404', async () => {
    const type = await post('/grains/Nope/a/ok', { 'content-type': 'application/json' });
    expect(type.status).toBe(404);
    expect(type.json.error.code).toBe('grain_not_found');
    const method = await post('/grains/Edges/a/nope', { 'content-type': 'application/json' });
    expect(method.status).toBe(404);
    expect(method.json.error.code).toBe('method_not_found');
  });
});
