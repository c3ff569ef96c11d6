/**
 * The built Worker in miniflare (workerd), configured from wrangler.toml: the portable
 * behaviour suite through `GrainClient.http(workerUrl)`, then what the gateway promises over
 * raw HTTP (routes, status codes, error bodies, context headers, bad input), and what is
 * particular to Durable Objects (timers, the per-call deadline watchdog).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, InvalidArgumentError, type GrainError } from 'granary';
import { decode } from 'granary/internal';
import { Lifecycle } from '../fixtures/grains.js';
import { Probe } from '../gateway/grains.js';
import { raw, type RawResponse } from '../gateway/helpers.js';
import { describeGrainBehaviour, httpClient } from './behaviour-suite.js';
import { Blob } from './grains.js';
import { buildWorker, startWorker, tempDir, type RunningWorker } from './worker-host.js';

const build = tempDir('granary-worker-test-');
let worker: RunningWorker;
let client: GrainClient;
let port: number;

beforeAll(async () => {
  await buildWorker('test/workers/worker-entry.ts', `${build.dir}/worker.js`);
  worker = await startWorker({ scriptPath: `${build.dir}/worker.js` });
  port = Number(new URL(worker.url).port);
  client = httpClient(worker.url);
});

afterAll(async () => {
  await client?.close();
  await worker?.dispose();
  build.remove();
});

describeGrainBehaviour('Worker', () => client);

const JSON_CT = { 'content-type': 'application/json' };
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  raw(port, 'POST', path, { headers: { ...JSON_CT, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('Worker gateway over raw HTTP', () => {
  it('POST /grains/:type/:key/:method answers 200 {"result": …} in plain JSON', async () => {
    const r = await post('/grains/Counter/raw/add', { args: [4] });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json).toEqual({ result: 4 });
    expect((await post('/grains/Counter/raw/get', {})).json).toEqual({ result: 4 });
    // A key with "/" and unicode, percent-encoded in the path.
    expect((await post(`/grains/Counter/${encodeURIComponent('a/b ✓')}/add`, { args: [7] })).json).toEqual({ result: 7 });
    expect(await client.getGrain<{ get(): Promise<number> }>('Counter', 'a/b ✓').get()).toBe(7);
  });

  it('GET /openapi.json describes the hosted types\' callable methods with their argument schemas', async () => {
    const r = await raw(port, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    expect(r.json.paths['/grains/Counter/{key}/add'].post.requestBody.content['application/json'].schema.properties.args)
      .toMatchObject({ type: 'array', prefixItems: [{ type: 'integer' }] });
    expect(Object.keys(r.json.paths).some((p) => p.endsWith('/onActivate') || p.endsWith('/writeState'))).toBe(false);
  });

  it('errors carry the silo gateway\'s status codes and bodies', async () => {
    const cases: [string, unknown, number, string][] = [
      ['/grains/Probe/e/fail', { args: ['nope'] }, 500, 'grain_error'],
      ['/grains/Probe/e/conflict', {}, 409, 'inconsistent_state'],
      ['/grains/Probe/e/unavailable', {}, 503, 'silo_unavailable'],
      ['/grains/Probe/e/invalid', {}, 400, 'transaction_required'],
      ['/grains/Probe/e/add', { args: ['five'] }, 400, 'invalid_argument'],
      ['/grains/Probe/e/nope', {}, 404, 'method_not_found'],
      ['/grains/Nope/e/add', {}, 404, 'grain_not_found'],
    ];
    for (const [path, body, status, code] of cases) {
      const r = await post(path, body);
      expect([path, r.status, r.json?.error?.code]).toEqual([path, status, code]);
      expect(typeof r.json.error.message).toBe('string');
      expect(r.text).not.toMatch(/\n\s+at /); // no stack
    }
    const fail = await post('/grains/Probe/e/fail', { args: ['bad range'] });
    expect(fail.json.error).toEqual({ code: 'grain_error', name: 'RangeError', message: 'bad range' });
  });

  it('traceparent, tracestate and x-granary-ctx-* headers become the request context, object to object', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const headers = { traceparent, tracestate: 'vendor=x', 'x-granary-ctx-user%49d': '42', 'x-granary-ctx-team': 'blue' };
    const all = await post('/grains/Probe/ctx/ctxAll', {}, headers);
    expect(all.json.result).toEqual({ traceparent, tracestate: 'vendor=x', userId: 42, team: 'blue' });
    // ContextProbe/c1 → c1> → c1>> : the context crossed two more Durable Objects.
    expect((await post('/grains/ContextProbe/c1/chain', { args: ['traceparent', 2] }, headers)).json.result).toBe(traceparent);
    expect((await post('/grains/ContextProbe/c1/chain', { args: ['userId', 2] }, headers)).json.result).toBe(42);
    // No headers: no context.
    expect((await post('/grains/Probe/ctx/ctxAll', {})).json.result).toEqual({});
  });

  it('the codec media type carries rich values both ways', async () => {
    const r = await raw(port, 'POST', '/grains/Probe/rich/rich', { headers: { 'content-type': 'application/vnd.granary+json' }, body: '{"args":[]}' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/vnd\.granary\+json/);
    const result = (decode(r.text) as { result: Record<string, unknown> }).result;
    expect(result.big).toBe(2n ** 70n);
    expect(result.when).toEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
    expect(result.inf).toBe(Infinity);
  });

  it('x-granary-timeout-ms bounds the wait: 504', async () => {
    // A 504 at all is the header's bound: without it the 3 s sleep would end and answer 200.
    const r = await post('/grains/Probe/slow/sleep', { args: [3_000] }, { 'x-granary-timeout-ms': '200' });
    expect(r.status).toBe(504);
    expect(r.json.error.code).toBe('timeout');
  });

  it('GET /healthz, /readyz and /metrics', async () => {
    expect((await raw(port, 'GET', '/healthz')).json).toEqual({ status: 'ok' });
    expect((await raw(port, 'GET', '/readyz')).json).toEqual({ status: 'ready' });
    // A call of this test's own, so the line below is there whichever tests ran before.
    expect((await post('/grains/Counter/metrics-probe/add', { args: [1] })).json).toEqual({ result: 1 });
    const m = await raw(port, 'GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain/);
    expect(m.text).toMatch(/^granary_calls_total\{source="gateway",type="Counter",method="add",outcome="ok"\} \d+$/m);
  });

  it('a state larger than Durable Object storage keeps is refused with a clear InvalidArgumentError', async () => {
    const blob = client.getGrain(Blob, 'big');
    expect(await blob.fill(1_500_000)).toBe(1_500_000);
    const err = await blob.fill(2_500_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as GrainError).message).toMatch(/Blob\/big is 2\.50 MB .*about 2 MB.*GRANARY_STORAGE="dynamodb"/);
    expect((err as GrainError).data).toMatchObject({ grain: 'Blob/big', stateName: 'state' });
  });

  it('grain timers run as turns while the object is in memory', async () => {
    const g = client.getGrain(Lifecycle, 'ticker');
    await g.startTicking(40);
    await expect.poll(() => g.tickCount(), { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(3);
  });
});

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

const ADD = '/grains/Probe/fuzz/add';
const RICH_CT = { 'content-type': 'application/vnd.granary+json' };

/** Bad input of every kind the silo gateway refuses; the Worker must refuse it the same way. */
const badInput: Case[] = [
  { name: 'malformed JSON', headers: JSON_CT, body: '{"args": [1,', status: 400, code: 'invalid_request' },
  { name: 'JSON array body', headers: JSON_CT, body: '[1]', status: 400, code: 'invalid_request' },
  { name: 'args is an object', headers: JSON_CT, body: '{"args": {"0": 1, "length": 1}}', status: 400, code: 'invalid_request' },
  { name: 'unexpected extra field', headers: JSON_CT, body: '{"args": [1], "method": "clearState"}', status: 400, code: 'invalid_request' },
  { name: '__proto__ key carrying args', headers: JSON_CT, body: '{"__proto__": {"args": [1]}}', status: 400, code: 'invalid_request' },
  { name: 'empty body', headers: JSON_CT, body: '', status: 400, code: 'invalid_request' },
  { name: 'invalid UTF-8 body', headers: JSON_CT, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: 'invalid_request' },
  { name: 'arguments nested 200 000 deep', headers: JSON_CT, body: `{"args":[${'['.repeat(200_000)}${']'.repeat(200_000)}]}`, status: 400, code: 'invalid_argument' },
  { name: 'argument of the wrong type (grain validates)', headers: JSON_CT, body: '{"args": ["five"]}', status: 400, code: 'invalid_argument' },
  { name: 'codec body with an unknown tag', headers: RICH_CT, body: '{"args":[{"$":"bogus"}]}', status: 400, code: 'invalid_request' },
  { name: 'body over 1 MiB with content-length', headers: JSON_CT, body: `{"args":["${'x'.repeat(1_100_000)}"]}`, status: 413, code: 'payload_too_large' },
  { name: 'chunked body over 1 MiB', headers: { ...JSON_CT, 'transfer-encoding': 'chunked' }, chunks: ['{"args":["', ...Array.from({ length: 20 }, () => 'y'.repeat(64 * 1024)), '"]}'], status: 413, code: 'payload_too_large' },
  { name: 'no content-type', body: '{"args":[1]}', status: 415, code: 'unsupported_media_type' },
  { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: '{"args":[1]}', status: 415, code: 'unsupported_media_type' },
  { name: 'JSON in latin1', headers: { 'content-type': 'application/json; charset=iso-8859-1' }, body: '{"args":[1]}', status: 415, code: 'unsupported_media_type' },
  { name: 'GET on a grain route', method: 'GET', status: 405, code: 'method_not_allowed' },
  { name: 'POST on /healthz', path: '/healthz', headers: JSON_CT, body: '{}', status: 405, code: 'method_not_allowed' },
  { name: 'missing method segment', path: '/grains/Probe/fuzz', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'extra segment', path: '/grains/Probe/fuzz/add/more', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'not_found' },
  { name: 'unknown route', path: '/admin', headers: JSON_CT, body: '{}', status: 404, code: 'not_found' },
  { name: 'encoded "/" in the type', path: '/grains/Pro%2Fbe/fuzz/add', headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'broken percent-encoding', path: '/grains/Probe/%E0%A4%A/add', headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'key too long', path: `/grains/Probe/${'k'.repeat(2000)}/add`, headers: JSON_CT, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  { name: 'method constructor', path: '/grains/Probe/fuzz/constructor', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'method writeState', path: '/grains/Probe/fuzz/writeState', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'private method _secret', path: '/grains/Probe/fuzz/_secret', headers: JSON_CT, body: '{"args":[]}', status: 404, code: 'method_not_found' },
  { name: 'Object.prototype member', path: '/grains/Probe/fuzz/hasOwnProperty', headers: JSON_CT, body: '{"args":["x"]}', status: 404, code: 'method_not_found' },
  { name: 'type __proto__', path: '/grains/__proto__/fuzz/add', headers: JSON_CT, body: '{"args":[1]}', status: 404, code: 'grain_not_found' },
  { name: 'non-numeric timeout header', headers: { ...JSON_CT, 'x-granary-timeout-ms': 'soon' }, body: '{"args":[1]}', status: 400, code: 'invalid_request' },
  {
    name: 'too many context headers',
    headers: { ...JSON_CT, ...Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`x-granary-ctx-k${i}`, String(i)])) },
    body: '{"args":[1]}', status: 400, code: 'invalid_request',
  },
];

describe('Worker gateway: bad input gets the silo gateway\'s 4xx', () => {
  beforeAll(async () => {
    expect(await client.getGrain(Probe, 'fuzz').add(5)).toBe(5);
  });

  it.each(badInput.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r: RawResponse = await raw(port, c.method ?? 'POST', c.path ?? ADD, { headers: c.headers, body: c.body, chunks: c.chunks });
    expect(r.status).toBe(c.status);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json?.error?.code).toBe(c.code);
    expect(r.json.error.message.length).toBeGreaterThan(0);
    if (c.status === 405) expect(r.headers.allow).toBeTruthy();
  });

  it('changed nothing: the probe still holds 5 and serves good calls', async () => {
    expect(await client.getGrain(Probe, 'fuzz').value()).toBe(5);
    const ok = await raw(port, 'POST', ADD, { headers: JSON_CT, body: '{"args":[1]}' });
    expect(ok.json).toEqual({ result: 6 });
    const e = await client.getGrain(Probe, 'fuzz').add(Number.NaN).catch((x: GrainError) => x.code);
    expect(e).toBe('invalid_argument');
  });
});
