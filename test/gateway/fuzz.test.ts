/**
 * Bad requests against a live gateway: each kind gets the right 4xx with a JSON error body,
 * and none of them changes anything (no storage write, no new activation, the probe grain's
 * value unchanged, no prototype pollution). Every bad request is sent before any test
 * looks, so each test passes alone and in any order, and the "nothing changed" test checks
 * the state after all of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo } from 'granary';
import { Counter } from '../../grains/index.js';
import { Probe } from './grains.js';
import { countedStorage, raw, type RawResponse } from './helpers.js';

let silo: Silo;
let port: number;
const storage = countedStorage();
/** Storage writes and activations once the probe grain holds 5, before any bad request. */
let baseline: { writes: number; clears: number; activations: number };
const answers = new Map<string, RawResponse>();

beforeAll(async () => {
  silo = await Silo.start({ grains: [Probe, Counter], storage, gateway: { port: 0, host: '127.0.0.1' } });
  port = silo.gateway!.port;
  await silo.getGrain(Probe, 'fuzz').add(5);
  baseline = { writes: storage.writes, clears: storage.clears, activations: silo.activationCount() };
  // The state the bad requests must leave alone exists: one write, one activation.
  expect(baseline).toEqual({ writes: 1, clears: 0, activations: 1 });
  for (const c of cases) {
    answers.set(c.name, await raw(port, c.method ?? 'POST', c.path ?? ADD, { headers: c.headers, body: c.body, chunks: c.chunks }));
  }
});

afterAll(async () => {
  await silo?.stop();
});

const JSON_CT = { 'content-type': 'application/json' };
const RICH_CT = { 'content-type': 'application/vnd.granary+json' };
const ADD = '/grains/Probe/fuzz/add';
const big = (bytes: number) => `{"args":["${'x'.repeat(bytes)}"]}`;

interface Case {
  name: string;
  method?: string;
  path?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  chunks?: (string | Buffer)[];
  status: number;
  code: string;
}

const cases: Case[] = [
  // Bodies that are not {"args": [...]}.
  { name: 'malformed JSON', headers: JSON_CT, body: '{"args": [1,', status: 400, code: 'invalid_request' },
  { name: 'JSON array body', headers: JSON_CT, body: '[1]', status: 400, code: 'invalid_request' },
  { name: 'JSON string body', headers: JSON_CT, body: '"add 1"', status: 400, code: 'invalid_request' },
  { name: 'JSON null body', headers: JSON_CT, body: 'null', status: 400, code: 'invalid_request' },
  { name: 'JSON number body', headers: JSON_CT, body: '42', status: 400, code: 'invalid_request' },
  { name: 'args is a number', headers: JSON_CT, body: '{"args": 5}', status: 400, code: 'invalid_request' },
  { name: 'args is an object', headers: JSON_CT, body: '{"args": {"0": 1, "length": 1}}', status: 400, code: 'invalid_request' },
  { name: 'args is a string', headers: JSON_CT, body: '{"args": "1"}', status: 400, code: 'invalid_request' },
  { name: 'args is null', headers: JSON_CT, body: '{"args": null}', status: 400, code: 'invalid_request' },
  { name: 'unexpected extra field', headers: JSON_CT, body: '{"args": [1], "method": "clearState"}', status: 400, code: 'invalid_request' },
  { name: '__proto__ key carrying args', headers: JSON_CT, body: '{"__proto__": {"args": [1]}}', status: 400, code: 'invalid_request' },
  { name: 'constructor.prototype pollution attempt', headers: JSON_CT, body: '{"constructor": {"prototype": {"polluted": 1}}, "args": [1]}', status: 400, code: 'invalid_request' },
  { name: 'empty body', headers: JSON_CT, body: '', status: 400, code: 'invalid_request' },
  { name: 'invalid UTF-8 body', headers: JSON_CT, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: 'invalid_request' },
  { name: 'arguments nested 200 000 deep', headers: JSON_CT, body: `{"args":[${'['.repeat(200_000)}${']'.repeat(200_000)}]}`, status: 400, code: 'invalid_argument' },
  { name: 'NaN literal', headers: JSON_CT, body: '{"args": [NaN]}', status: 400, code: 'invalid_request' },
  { name: 'argument of the wrong type (grain validates)', headers: JSON_CT, body: '{"args": ["five"]}', status: 400, code: 'invalid_argument' },
  { name: 'codec body with an unknown tag', headers: RICH_CT, body: '{"args":[{"$":"bogus"}]}', status: 400, code: 'invalid_request' },
  { name: 'codec body with a broken BigInt', headers: RICH_CT, body: '{"args":[{"$":"big","v":"12x"}]}', status: 400, code: 'invalid_request' },
  // The red team's allocation attacks: refused before the decoder allocates for them.
  { name: 'codec bytes given as an array-like of 100 M', headers: RICH_CT, body: '{"args":[{"$":"bytes","v":{"length":100000000}}]}', status: 400, code: 'invalid_request' },
  { name: 'codec BigInt of 100 000 digits', headers: RICH_CT, body: `{"args":[{"$":"big","v":"${'7'.repeat(100_000)}"}]}`, status: 400, code: 'invalid_request' },
  { name: 'codec map whose entries are not pairs', headers: RICH_CT, body: '{"args":[{"$":"map","v":{"length":1000000}}]}', status: 400, code: 'invalid_request' },
  // Size.
  { name: 'body over 1 MiB with content-length', headers: JSON_CT, body: big(1_100_000), status: 413, code: 'payload_too_large' },
  { name: 'chunked body over 1 MiB', headers: { ...JSON_CT, 'transfer-encoding': 'chunked' }, chunks: ['{"args":["', ...Array.from({ length: 20 }, () => 'y'.repeat(64 * 1024)), '"]}'], status: 413, code: 'payload_too_large' },
  // Media types.
  { name: 'no content-type', body: '{"args":[1]}', status: 415, code: 'unsupported_media_type' },
  { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: '{"args":[1]}', status: 415, code: 'unsupported_media_type' },
  { name: 'form-urlencoded', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'args=1', status: 415, code: 'unsupported_media_type' },
  { name: 'multipart', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--', status: 415, code: 'unsupported_media_type' },
  { name: 'JSON in latin1', headers: { 'content-type': 'application/json; charset=iso-8859-1' }, body: '{"args":[1]}', status: 415, code: 'unsupported_media_type' },
  // HTTP methods.
  { name: 'GET on a grain route', method: 'GET', status: 405, code: 'method_not_allowed' },
  { name: 'PUT on a grain route', method: 'PUT', headers: JSON_CT, body: '{"args":[1]}', status: 405, code: 'method_not_allowed' },
  { name: 'DELETE on a grain route', method: 'DELETE', status: 405, code: 'method_not_allowed' },
  { name: 'PATCH on a grain route', method: 'PATCH', headers: JSON_CT, body: '{"args":[1]}', status: 405, code: 'method_not_allowed' },
  { name: 'OPTIONS on a grain route', method: 'OPTIONS', status: 405, code: 'method_not_allowed' },
  { name: 'POST on /healthz', path: '/healthz', headers: JSON_CT, body: '{}', status: 405, code: 'method_not_allowed' },
  { name: 'DELETE on /metrics', method: 'DELETE', path: '/metrics', status: 405, code: 'method_not_allowed' },
  // Paths.
  { name: 'missing method segment', path: '/grains/Probe/fuzz', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'extra segment', path: '/grains/Probe/fuzz/add/more', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'trailing slash', path: '/grains/Probe/fuzz/add/', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'empty type segment', path: '/grains//fuzz/add', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'empty key segment', path: '/grains/Probe//add', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'dot segments', path: '/grains/Probe/../../add', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'double leading slash', path: '//grains/Probe/fuzz/add', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'unknown route', path: '/admin', headers: JSON_CT, body: '{}', status: 404, code: 'not_found' },
  { name: 'encoded "/" in the type', path: '/grains/Pro%2Fbe/fuzz/add', headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'broken percent-encoding', path: '/grains/Probe/%E0%A4%A/add', headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'lone surrogate in the key', path: '/grains/Probe/%ED%A0%80/add', headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'type name too long', path: `/grains/${'T'.repeat(300)}/fuzz/add`, headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'key too long', path: `/grains/Probe/${'k'.repeat(2000)}/add`, headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  // Names that must not be reachable.
  { name: 'method constructor', path: '/grains/Probe/fuzz/constructor', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'method __proto__', path: '/grains/Probe/fuzz/__proto__', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'method writeState', path: '/grains/Probe/fuzz/writeState', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'method clearState', path: '/grains/Probe/fuzz/clearState', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'private method _secret', path: '/grains/Probe/fuzz/_secret', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'lifecycle onActivate', path: '/grains/Probe/fuzz/onActivate', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'Object.prototype member', path: '/grains/Probe/fuzz/hasOwnProperty', headers: JSON_CT, body: '{"args":["x"]}', status: 404, code: 'method_not_found' },
  { name: 'unicode method name', path: '/grains/Probe/fuzz/%E2%9C%93', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'unicode type name', path: '/grains/%F0%9F%8C%BE/fuzz/add', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'grain_not_found' },
  { name: 'type __proto__', path: '/grains/__proto__/fuzz/add', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'grain_not_found' },
  // Headers.
  { name: 'negative timeout header', headers: { ...JSON_CT, 'x-granary-timeout-ms': '-5' }, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'non-numeric timeout header', headers: { ...JSON_CT, 'x-granary-timeout-ms': 'soon' }, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'context name with broken percent-encoding', headers: { ...JSON_CT, 'x-granary-ctx-%e0%a4': '1' }, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'context JSON header that is not JSON', headers: { ...JSON_CT, 'x-granary-ctx': '{user: 1}' }, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'context JSON header that is an array', headers: { ...JSON_CT, 'x-granary-ctx': '[1]' }, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  {
    name: 'too many context headers',
    headers: { ...JSON_CT, ...Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`x-granary-ctx-k${i}`, String(i)])) },
    body: '{"args":[1]}', status: 400, code: 'invalid_request',
  },
];

describe('gateway fuzz: bad requests', () => {
  it(`has at least 30 kinds of bad request (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = answers.get(c.name)!;
    expect(r.status).toBe(c.status);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json?.error?.code).toBe(c.code);
    expect(typeof r.json.error.message).toBe('string');
    expect(r.json.error.message.length).toBeGreaterThan(0);
    if (c.status === 405) expect(r.headers.allow).toBeTruthy();
  });

  it('left no state change behind', async () => {
    expect(answers.size).toBe(cases.length);
    expect(storage.writes).toBe(baseline.writes);
    expect(storage.clears).toBe(baseline.clears);
    expect(silo.activationCount()).toBe(baseline.activations);
    expect(await silo.getGrain(Probe, 'fuzz').value()).toBe(5);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('args');
    // And the gateway still serves good calls.
    const ok = await raw(port, 'POST', ADD, { headers: JSON_CT, body: '{"args":[1]}' });
    expect(ok.json).toEqual({ result: 6 });
  });
});
