/**
 * The HTTP gateway of a live silo (real Node HTTP server on a free port): routes, status
 * codes, error bodies, rich values, deadlines, request context, health, readiness, metrics.
 * A second silo in the same cluster hosts a type the gateway's silo does not.
 * Each test uses grain keys of its own and compares counters before and after, so the
 * tests pass in any order (`--sequence.shuffle.tests`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo, memoryCluster } from 'granary';
import { decode, encode } from 'granary/internal';
import { createGatewayApp, siloBackend } from '../../silo/gateway/index.js';
import { Counter } from '../../grains/index.js';
import { Probe, Remote } from './grains.js';
import { Held, held } from './held.js';
import { call, countedStorage, raw } from './helpers.js';

let front: Silo;
let back: Silo;
let port: number;
const storage = countedStorage();

beforeAll(async () => {
  const cluster = memoryCluster();
  front = await Silo.start({ grains: [Probe, Counter, Held], cluster, storage, gateway: { port: 0, host: '127.0.0.1' } });
  back = await Silo.start({ grains: [Remote], cluster, storage });
  port = front.gateway!.port;
});

afterAll(async () => {
  await front?.stop();
  await back?.stop();
});

/** The value of one Prometheus sample line (0 when the series is absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('grain calls', () => {
  it('POST /grains/:type/:key/:method with {"args": [...]} answers 200 {"result": …}', async () => {
    const r = await call(port, '/grains/Probe/a/add', { args: [2] });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json).toEqual({ result: 2 });
    expect((await call(port, '/grains/Probe/a/add', { args: [3] })).json).toEqual({ result: 5 });
    expect((await call(port, '/grains/Probe/a/value', {})).json).toEqual({ result: 5 });
  });

  it('keys are percent-decoded path segments, "/" and unicode included', async () => {
    expect((await call(port, `/grains/Probe/${encodeURIComponent('a/b ✓')}/add`, { args: [7] })).json).toEqual({ result: 7 });
    expect(await front.getGrain(Probe, 'a/b ✓').value()).toBe(7);
  });

  it('plain JSON results map rich values to their nearest JSON', async () => {
    const r = await call(port, '/grains/Probe/x/rich', { args: [] });
    expect(r.status).toBe(200);
    expect(r.json.result).toEqual({
      when: '2024-01-02T03:04:05.000Z', big: (2n ** 70n).toString(), map: [['a', 1]], set: [1, 2], bytes: 'AQL/', nothing: null, inf: null,
    });
  });

  it('application/vnd.granary+json carries the codec form both ways', async () => {
    const args = [new Date(5), new Map([[1, 2]]), new Set(['s']), new Uint8Array([9]), 10n];
    const r = await raw(port, 'POST', '/grains/Probe/x/kinds', {
      headers: { 'content-type': 'application/vnd.granary+json' },
      body: `{"args":${encode(args)}}`,
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/vnd\.granary\+json/);
    expect((decode(r.text) as { result: unknown }).result).toEqual(['Date', 'Map', 'Set', 'Uint8Array', 'bigint']);

    const rich = await raw(port, 'POST', '/grains/Probe/x/rich', { headers: { 'content-type': 'application/vnd.granary+json' }, body: '{"args":[]}' });
    const result = (decode(rich.text) as { result: Record<string, unknown> }).result;
    expect(result.when).toEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
    expect(result.big).toBe(2n ** 70n);
    expect(result.map).toEqual(new Map([['a', 1]]));
    expect(result.inf).toBe(Infinity);
  });

  it('prototype keys inside arguments stay plain data and pollute nothing', async () => {
    const r = await call(port, '/grains/Probe/x/protoOf', '{"args":[{"__proto__":{"polluted":1},"a":1}]}');
    expect(r.status).toBe(200);
    expect(r.json.result).toEqual({ own: ['__proto__', 'a'], plainProto: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('errors', () => {
  it('a grain exception is 500 with code, name and message, and no stack', async () => {
    const r = await call(port, '/grains/Probe/e/fail', { args: ['boom'] });
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: { code: 'grain_error', name: 'RangeError', message: 'boom' } });
    expect(r.text).not.toMatch(/stack|at .*\.ts:\d+/);
    // The activation stays usable.
    expect((await call(port, '/grains/Probe/e/add', { args: [1] })).status).toBe(200);
  });

  it.each([
    ['conflict', 409, 'inconsistent_state'],
    ['unavailable', 503, 'silo_unavailable'],
    ['invalid', 400, 'transaction_required'],
  ])('%s → %i %s', async (method, status, code) => {
    const r = await call(port, `/grains/Probe/e/${method}`, {});
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(typeof r.json.error.message).toBe('string');
  });

  it('an InvalidArgumentError from the grain is 400', async () => {
    const r = await call(port, '/grains/Probe/e/add', { args: ['one'] });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_argument');
  });

  it('unknown type → 404 grain_not_found; unknown or hidden method → 404 method_not_found', async () => {
    await front.getGrain(Probe, 'hidden').add(5);
    const t = await call(port, '/grains/Nope/hidden/add', { args: [] });
    expect(t.status).toBe(404);
    expect(t.json.error.code).toBe('grain_not_found');
    for (const m of ['nope', 'constructor', '__proto__', 'writeState', '_secret', 'onActivate', 'toString', 'hasOwnProperty', 'readState', 'clearState']) {
      const r = await call(port, `/grains/Probe/hidden/${m}`, { args: [] });
      expect(r.status, m).toBe(404);
      expect(r.json.error.code, m).toBe('method_not_found');
    }
    expect((await call(port, '/grains/Probe/hidden/value', {})).json.result).toBe(5);
  });

  it('types hosted by another silo are reachable, and their unknown methods are 404 too', async () => {
    expect((await call(port, '/grains/Remote/reach/bump', {})).json).toEqual({ result: 1 });
    expect((await call(port, '/grains/Remote/reach/bump', {})).json).toEqual({ result: 2 });
    const missing = await call(port, '/grains/Remote/r/nope', {});
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('method_not_found');
    const hidden = await call(port, '/grains/Remote/r/writeState', {});
    expect(hidden.status).toBe(404);
    const failed = await call(port, '/grains/Remote/r/fail', {});
    expect(failed.status).toBe(500);
    expect(failed.json.error).toEqual({ code: 'grain_error', name: 'TypeError', message: 'remote failure' });
  });

  it('x-granary-timeout-ms past → 504 timeout, without waiting for the grain', async () => {
    const gate = held('deadline');
    // The grain returns only when released below: the 504 cannot have waited for it.
    const r = await call(port, '/grains/Held/deadline/hold', {}, { 'x-granary-timeout-ms': '150' });
    expect(r.status).toBe(504);
    expect(r.json.error.code).toBe('timeout');
    expect(r.json.error.message).toContain('150 ms');
    await gate.started;
    gate.release();
    // A deadline that is not reached changes nothing.
    const ok = await call(port, '/grains/Probe/deadline/value', {}, { 'x-granary-timeout-ms': '300000' });
    expect(ok.json).toEqual({ result: 0 });
  });
});

describe('request context', () => {
  it('x-granary-ctx-<name> headers become RequestContext values (JSON when it parses)', async () => {
    const headers = {
      'x-granary-ctx-user': 'alice',
      'x-granary-ctx-n': '42',
      'x-granary-ctx-obj': '{"a":[1,2]}',
      'x-granary-ctx-quoted': '"7"',
      'x-granary-ctx-user%49d': '"u-1"',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    };
    const r = await call(port, '/grains/Probe/c/ctxAll', {}, headers);
    expect(r.status).toBe(200);
    expect(r.json.result).toEqual({
      user: 'alice', n: 42, obj: { a: [1, 2] }, quoted: '7', userId: 'u-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
  });

  it('the context reaches grains on other silos', async () => {
    const r = await call(port, '/grains/Remote/c/who', {}, { 'x-granary-ctx-user': '"bob"' });
    expect(r.json).toEqual({ result: 'bob' });
  });

  it('an invalid traceparent is ignored; a bad context name is 400', async () => {
    const r = await call(port, '/grains/Probe/c/ctxAll', {}, { traceparent: 'garbage' });
    expect(r.json.result).toEqual({});
    const bad = await call(port, '/grains/Probe/c/ctxAll', {}, { 'x-granary-ctx-%zz': '1' });
    expect(bad.status).toBe(400);
  });
});

describe('health, readiness, metrics', () => {
  it('GET /healthz and /readyz answer 200 while running', async () => {
    const h = await raw(port, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.json).toEqual({ status: 'ok' });
    const r = await raw(port, 'GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ready' });
  });

  it('GET /metrics is Prometheus text with calls, latency, activations, storage errors', async () => {
    await call(port, '/grains/Probe/m/add', { args: [1] });
    await call(port, '/grains/Probe/m/fail', { args: ['x'] });
    await call(port, '/grains/Probe/m/bogus', {});
    const r = await raw(port, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = r.text;
    expect(text).toMatch(/^granary_calls_total\{source="gateway",type="Probe",method="add",outcome="ok"\} \d+$/m);
    expect(text).toMatch(/^granary_calls_total\{source="gateway",type="Probe",method="fail",outcome="grain_error"\} \d+$/m);
    // Made-up names never become label values (bounded series).
    expect(text).not.toContain('bogus');
    expect(text).toMatch(/^granary_call_duration_seconds_bucket\{source="gateway",type="Probe",method="add",le="\+Inf"\} \d+$/m);
    expect(text).toMatch(/^granary_call_duration_seconds_count\{source="gateway",type="Probe",method="add"\} \d+$/m);
    expect(text).toMatch(/^granary_activations\{type="Probe"\} \d+$/m);
    expect(text).toMatch(/^granary_activations_total \d+$/m);
    expect(text).toMatch(/^granary_deactivations_total \d+$/m);
    expect(text).toMatch(/^granary_storage_errors_total\{operation="read"\} \d+$/m);
    expect(text).toMatch(/^granary_silo_ready 1$/m);
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [0-9.e+-]+)$/);
  });

  it('calls that arrive from other silos are counted as inbound there', async () => {
    const bumps = 'granary_calls_total{source="inbound",type="Remote",method="bump",outcome="ok"}';
    const fails = 'granary_calls_total{source="inbound",type="Remote",method="fail",outcome="grain_error"}';
    const before = back.renderMetrics();
    expect((await call(port, '/grains/Remote/inbound/bump', {})).status).toBe(200);
    expect((await call(port, '/grains/Remote/inbound/fail', {})).status).toBe(500);
    const after = back.renderMetrics();
    expect(sample(after, bumps)).toBe(sample(before, bumps) + 1);
    expect(sample(after, fails)).toBe(sample(before, fails) + 1);
  });

  it('storage failures are counted', async () => {
    const reads = 'granary_storage_errors_total{operation="read"}';
    const before = sample(front.renderMetrics(), reads);
    storage.failReadsFor = 'broken';
    const r = await call(port, '/grains/Probe/broken/value', {});
    storage.failReadsFor = undefined;
    expect(r.status).toBeGreaterThanOrEqual(500);
    expect(sample(front.renderMetrics(), reads)).toBe(before + 1);
  });

  it('readiness is false while the silo drains', async () => {
    const silo = await Silo.start({ grains: [Held] });
    const app = createGatewayApp(siloBackend(silo));
    expect((await app.request('/readyz')).status).toBe(200);
    const gate = held('drain');
    const running = silo.getGrain(Held, 'drain').hold();
    await gate.started;
    // The turn is still running, so the stop is still draining while we ask.
    const stopping = silo.stop();
    const during = await app.request('/readyz');
    expect(during.status).toBe(503);
    expect(((await during.json()) as { error: { code: string } }).error.code).toBe('not_ready');
    expect((await app.request('/healthz')).status).toBe(200);
    gate.release();
    await expect(running).resolves.toBe('released');
    await stopping;
    expect((await app.request('/readyz')).status).toBe(503);
  });

  it('stopping the silo closes its gateway after the calls in flight answered', async () => {
    const silo = await Silo.start({ grains: [Held], gateway: { port: 0, host: '127.0.0.1' } });
    const p = silo.gateway!.port;
    const gate = held('in-flight');
    const inflight = call(p, '/grains/Held/in-flight/hold', {});
    await gate.started;
    const stopping = silo.stop();
    gate.release();
    await stopping;
    expect((await inflight).json).toEqual({ result: 'released' });
    await expect(raw(p, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});
