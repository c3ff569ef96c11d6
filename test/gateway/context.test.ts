/**
 * Request context over HTTP, end to end through a live silo gateway: the `x-granary-ctx`
 * JSON header keeps names exactly (what `GrainClient.http` sends), per-name
 * `x-granary-ctx-<name>` headers arrive lower-cased unless percent-encoded, mixing the two
 * or sending non-ASCII bytes is logged once per name, and bad JSON is a 400 saying how to
 * fix it. A second silo hosts `Remote`, so the context also crosses the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, RequestContext, Silo, memoryCluster, type Logger } from 'granary';
import { Probe, Remote } from './grains.js';
import { call } from './helpers.js';

interface Warning { msg: string; fields: Record<string, unknown> | undefined }

/** A logger that keeps its warnings (with the fields of its `child` chain). */
function captureLogger(into: Warning[], base: Record<string, unknown> = {}): Logger {
  const ignore = () => undefined;
  return {
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (msg, fields) => { into.push({ msg, fields: { ...base, ...fields } }); },
    child: (fields) => captureLogger(into, { ...base, ...fields }),
  };
}

const gatewayWarnings: Warning[] = [];
let front: Silo;
let back: Silo;
let port: number;
let url: string;

beforeAll(async () => {
  const cluster = memoryCluster();
  front = await Silo.start({
    grains: [Probe], cluster,
    gateway: { port: 0, host: '127.0.0.1', logger: { warn: (msg, fields) => { gatewayWarnings.push({ msg, fields }); } } },
  });
  back = await Silo.start({ grains: [Remote], cluster });
  port = front.gateway!.port;
  url = front.gateway!.url;
});

afterAll(async () => {
  await front?.stop();
  await back?.stop();
});

const warningsAbout = (subject: string) => gatewayWarnings.filter((w) => w.fields?.subject === subject);

describe('GrainClient.http sends the context as one JSON header', () => {
  it('names keep their case, on the gateway silo and across the cluster', async () => {
    const sent: Headers[] = [];
    const client = GrainClient.http(url, {
      fetch: (input, init) => { sent.push(new Headers(init?.headers)); return fetch(input, init); },
    });
    try {
      const ctx = { userId: 'u-1', tenantId: 't-1' };
      expect(await RequestContext.run(ctx, () => client.getGrain(Probe, 'ctx-client').ctx('userId'))).toBe('u-1');
      expect(await RequestContext.run(ctx, () => client.getGrain(Remote, 'ctx-client').userId())).toBe('u-1');
      expect(await RequestContext.run(ctx, () => client.getGrain(Probe, 'ctx-client').ctxAll())).toEqual(ctx);
      for (const h of sent) {
        expect(JSON.parse(h.get('x-granary-ctx')!)).toEqual(ctx);
        expect([...h.keys()].filter((k) => k.startsWith('x-granary-ctx-'))).toEqual([]);
      }
      // No context, no header.
      await client.getGrain(Probe, 'ctx-client').ctxAll();
      expect(sent.at(-1)!.has('x-granary-ctx')).toBe(false);
    } finally {
      await client.close();
    }
  });
});

describe('x-granary-ctx from any HTTP client', () => {
  it('raw fetch: a JSON object of context values, names exact, JSON values', async () => {
    const res = await fetch(`${url}/grains/Probe/ctx-fetch/ctx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-granary-ctx': '{"userId":"u-7","tenant":{"id":7},"caf\\u00e9":true}' },
      body: JSON.stringify({ args: ['userId'] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: 'u-7' });
    const all = await call(port, '/grains/Probe/ctx-fetch/ctxAll', {}, { 'x-granary-ctx': '{"userId":"u-7","tenant":{"id":7},"caf\\u00e9":true}' });
    expect(all.json.result).toEqual({ userId: 'u-7', tenant: { id: 7 }, café: true });
    const remote = await call(port, '/grains/Remote/ctx-fetch/userId', {}, { 'x-granary-ctx': '{"userId":"u-8"}' });
    expect(remote.json).toEqual({ result: 'u-8' });
  });

  it('a standard traceparent header joins the JSON context', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await call(port, '/grains/Probe/ctx-trace/ctxAll', {}, { 'x-granary-ctx': '{"userId":"u-9"}', traceparent });
    expect(r.json.result).toEqual({ userId: 'u-9', traceparent });
  });

  it.each([
    ['not JSON', '{userId: "u-1"}', /not valid JSON/],
    ['two headers joined', '{"a":1}, {"b":2}', /not valid JSON/],
    ['an array', '["userId","u-1"]', /must be a JSON object.*got an array/],
    ['a string', '"u-1"', /must be a JSON object.*got a string/],
    ['null', 'null', /must be a JSON object.*got null/],
    ['an empty name', '{"":1}', /name is empty/],
  ])('%s → 400 invalid_request saying how to send it', async (_what, value, message) => {
    const r = await call(port, '/grains/Probe/ctx-bad/ctxAll', {}, { 'x-granary-ctx': value });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_request');
    expect(r.json.error.message).toMatch(message);
    expect(r.json.error.message).toContain('x-granary-ctx: {"userId":"u-1"}');
  });

  it('more than 64 values → 400', async () => {
    const ctx = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    const r = await call(port, '/grains/Probe/ctx-many/ctxAll', {}, { 'x-granary-ctx': JSON.stringify(ctx) });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/too many request-context values \(65; at most 64\)/);
  });
});

describe('x-granary-ctx-<name> headers', () => {
  it('names arrive lower-cased (documented), unless percent-encoded; alone they warn nothing', async () => {
    const r = await call(port, '/grains/Probe/ctx-names/ctxAll', {}, { 'x-granary-ctx-sessionId': '"s-1"', 'x-granary-ctx-order%49d': '"o-1"' });
    expect(r.json.result).toEqual({ sessionid: 's-1', orderId: 'o-1' });
    expect((await call(port, '/grains/Probe/ctx-names/ctx', { args: ['sessionId'] }, { 'x-granary-ctx-sessionId': '"s-1"' })).json).toEqual({ result: null });
    expect(warningsAbout('sessionid')).toEqual([]);
    expect(warningsAbout('orderId')).toEqual([]);
  });

  it('beside the JSON header: the JSON value wins for a name, and each per-name key is logged once', async () => {
    const headers = { 'x-granary-ctx': '{"accountId":"from-json","region":"eu"}', 'x-granary-ctx-accountId': '"from-header"', 'x-granary-ctx-region': '"us"', 'x-granary-ctx-shard': '3' };
    const first = await call(port, '/grains/Probe/ctx-mixed/ctxAll', {}, headers);
    expect(first.json.result).toEqual({ accountId: 'from-json', accountid: 'from-header', region: 'eu', shard: 3 });
    await call(port, '/grains/Probe/ctx-mixed/ctxAll', {}, headers);
    for (const key of ['accountid', 'region', 'shard']) {
      const ws = warningsAbout(key);
      expect(ws.length, key).toBe(1);
      expect(ws[0]!.msg).toMatch(new RegExp(`context "${key}" came from header x-granary-ctx-${key} beside x-granary-ctx`));
    }
  });

  it('a value with non-ASCII bytes is taken as it arrived and logged once', async () => {
    const headers = { 'x-granary-ctx-city': Buffer.from('"Zürich"', 'utf8').toString('latin1') };
    const r = await call(port, '/grains/Probe/ctx-bytes/ctx', { args: ['city'] }, headers);
    expect(r.status).toBe(200);
    await call(port, '/grains/Probe/ctx-bytes/ctx', { args: ['city'] }, headers);
    const ws = warningsAbout('x-granary-ctx-city');
    expect(ws.length).toBe(1);
    expect(ws[0]!.msg).toMatch(/non-ASCII/);
  });

  it('a gateway given no logger of its own warns through its silo\'s logger', async () => {
    const siloWarnings: Warning[] = [];
    const silo = await Silo.start({ grains: [Probe], logger: captureLogger(siloWarnings), gateway: { port: 0, host: '127.0.0.1' } });
    try {
      const r = await call(silo.gateway!.port, '/grains/Probe/ctx-log/ctxAll', {}, { 'x-granary-ctx': '{"a":1}', 'x-granary-ctx-b': '2' });
      expect(r.json.result).toEqual({ a: 1, b: 2 });
      const ws = siloWarnings.filter((w) => w.fields?.subject === 'b');
      expect(ws.length).toBe(1);
      expect(ws[0]!.fields).toMatchObject({ component: 'gateway', silo: silo.id });
    } finally {
      await silo.stop();
    }
  });
});
