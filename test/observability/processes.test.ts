/**
 * Observability across real silo processes (the Dockerfile's CMD) on a real nats-server:
 * Front on one process, Back on the other. Each process registers the OpenTelemetry SDK
 * (`node --import fixtures/tracing-setup.mjs`) with an exporter posting its spans to a
 * receiver in this test. Checked: one trace across both processes continuing the caller's
 * traceparent; a grain exception logged once, on the process that threw it, with its trace
 * id; the management routes answering for both from either; the `granary` CLI against them.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer } from '../support/nats-server.js';
import { REPO, spawnSilo, type SiloProcess } from '../process/silo-process.js';

interface ReceivedSpan {
  name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string;
  attributes: Record<string, unknown>; status: { code: number; message?: string }; pid: number;
}

const FIXTURES = join(REPO, 'test', 'observability', 'fixtures');
const TOKEN = 'obs-token-12345';

/** Runs `node dist/silo/cli.js args…`; resolves to exit code, stdout and stderr. */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO, 'dist', 'silo', 'cli.js'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('observability across silo processes on NATS', () => {
  let nats: NatsServer;
  let receiver: http.Server;
  const spans: ReceivedSpan[] = [];
  let front: SiloProcess;
  let back: SiloProcess;

  beforeAll(async () => {
    nats = await NatsServer.start();
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => { spans.push(...(JSON.parse(body) as ReceivedSpan[])); res.end('{}'); });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const env = (grains: string) => ({
      GRANARY_NATS_URL: nats.url, GRANARY_CLUSTER: `obs${process.pid}`, GRANARY_STORAGE: 'memory', GRANARY_AUTH_TOKEN: TOKEN,
      GRANARY_GRAINS: join(FIXTURES, grains), GRANARY_LOG_LEVEL: 'info',
      NODE_OPTIONS: `--import=${join(FIXTURES, 'tracing-setup.mjs')}`,
      OBS_SPANS_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/spans`,
    });
    [front, back] = await Promise.all([spawnSilo(env('front-grains.mjs')), spawnSilo(env('back-grains.mjs'))]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([front?.signal('SIGTERM'), back?.signal('SIGTERM')]);
    receiver?.close();
    await nats?.stop();
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const until = async <T>(get: () => T | undefined, what: string, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = get();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('one trace crosses both processes, continuing the caller\'s traceparent', async () => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${front.url}/grains/Front/p1/relay`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ args: ['q1'] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-`));
    const inTrace = () => spans.filter((s) => s.traceId === traceId);
    const serverBack = await until(() => inTrace().find((s) => s.name === 'Back/work' && s.kind === 1), 'the SERVER span of Back/work');
    const clientBack = await until(() => inTrace().find((s) => s.name === 'Back/work' && s.kind === 2), 'the CLIENT span of Back/work');
    const serverFront = await until(() => inTrace().find((s) => s.name === 'Front/relay' && s.kind === 1), 'the SERVER span of Front/relay');
    const gatewayClient = await until(() => inTrace().find((s) => s.name === 'Front/relay' && s.kind === 2), 'the gateway\'s CLIENT span');
    await until(() => inTrace().find((s) => s.name === 'storage write'), 'the storage write span');
    expect(gatewayClient.parentSpanId).toBe('00f067aa0ba902b7');
    expect(serverFront.parentSpanId).toBe(gatewayClient.spanId);
    expect(serverBack.pid).toBe(back.child.pid);
    expect(clientBack.pid).toBe(front.child.pid);
    expect(serverBack.parentSpanId).toBe(clientBack.spanId);
    expect(clientBack.parentSpanId).toBe(serverFront.spanId);
    expect(serverBack.attributes).toMatchObject({ 'rpc.system': 'granary', 'rpc.service': 'Back', 'rpc.method': 'work', 'granary.grain.key': 'q1' });
    expect(typeof serverBack.attributes['granary.silo.id']).toBe('string');
  });

  it('a grain exception is logged once, at warn, by the process that threw it, with the trace id', async () => {
    const traceId = '6bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${front.url}/grains/Front/p2/relayFail`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ args: ['q2', 'no such thing'] }),
    });
    expect(res.status).toBe(500);
    const line = await back.waitForLog((l) => l.msg === 'grain call failed' && l.message === 'no such thing');
    expect(line).toMatchObject({ level: 'warn', type: 'Back', key: 'q2', method: 'fail', error: 'RangeError', trace_id: traceId });
    expect(String(line.stack)).toContain('fail');
    await new Promise((r) => setTimeout(r, 300));
    expect(back.logs.filter((l) => l.msg === 'grain call failed' && l.message === 'no such thing')).toHaveLength(1);
    expect(front.logs.filter((l) => l.msg === 'grain call failed')).toHaveLength(0);
    const failed = await until(() => spans.find((s) => s.traceId === traceId && s.name === 'Back/fail' && s.kind === 1), 'the failed span');
    expect(failed.status).toMatchObject({ code: 2, message: 'no such thing' });
  });

  it('the management routes answer for both silos from either', async () => {
    const silos = (await (await fetch(`${back.url}/admin/silos`, { headers: auth })).json()) as { silos: { id: string; activations: number }[] };
    expect(silos.silos).toHaveLength(2);
    expect(silos.silos.every((s) => typeof s.activations === 'number' && s.activations >= 1)).toBe(true);
    const grains = (await (await fetch(`${front.url}/admin/grains?type=Back`, { headers: auth })).json()) as { grains: { key: string; silo: string }[] };
    expect(grains.grains.map((g) => g.key)).toEqual(expect.arrayContaining(['q1', 'q2']));
    const one = (await (await fetch(`${front.url}/admin/grains/Back/q1`, { headers: auth })).json()) as { active: boolean; silo: string };
    expect(one.active).toBe(true);
    expect(grains.grains.every((g) => g.silo === one.silo)).toBe(true);
    const off = await fetch(`${front.url}/admin/grains/Back/q1/deactivate`, { method: 'POST', headers: auth });
    expect(await off.json()).toMatchObject({ type: 'Back', key: 'q1', deactivated: true });
    expect((await fetch(`${front.url}/admin/silos`)).status).toBe(401);
    // Over NATS the transport counts the requests it awaits.
    const metrics = await (await fetch(`${front.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/^granary_transport_requests_in_flight \d+$/m);
  });

  it('the granary CLI lists, calls and deactivates through a gateway', async () => {
    const base = ['--url', front.url, '--token', TOKEN];
    const silos = await cli(['silos', ...base]);
    expect(silos.code).toBe(0);
    expect((JSON.parse(silos.out) as { silos: unknown[] }).silos).toHaveLength(2);
    const called = await cli(['call', 'Front/p3', 'relay', 'q3', ...base]);
    expect(called).toMatchObject({ code: 0 });
    expect(JSON.parse(called.out)).toBe(1);
    const failed = await cli(['call', 'Front/p4', 'relayFail', 'q4', '"bad input"', ...base]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.err)).toMatchObject({ error: { code: 'grain_error', message: 'bad input', status: 500 } });
    const grains = await cli(['grains', '--type', 'Back', '--limit', '2', ...base]);
    expect(JSON.parse(grains.out)).toMatchObject({ grains: [{ type: 'Back' }, { type: 'Back' }], next: expect.any(String) });
    const grain = await cli(['grain', 'Back/q3', ...base]);
    expect(JSON.parse(grain.out)).toMatchObject({ type: 'Back', key: 'q3', active: true });
    const off = await cli(['deactivate', 'Back/q3', ...base]);
    expect(JSON.parse(off.out)).toMatchObject({ deactivated: true });
    const help = await cli(['grains', '--help']);
    expect(help).toMatchObject({ code: 0 });
    expect(help.out).toContain('usage: granary grains');
    const bad = await cli(['grain', 'no-slash', ...base]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('expected the grain as <Type>/<key>');
    const unauthorised = await cli(['silos', '--url', front.url]);
    expect(unauthorised.code).toBe(1);
    expect(JSON.parse(unauthorised.err).error.status).toBe(401);
    const down = await cli(['silos', '--url', 'http://127.0.0.1:1']);
    expect(down.code).toBe(3);
  });

  it('granary tail follows a stream through the gateway, one JSON line per item', async () => {
    const publish = (item: unknown) => fetch(`${front.url}/streams/chat/room-1`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ item }),
    }).then(async (r) => { expect(r.status).toBe(200); return ((await r.json()) as { seq: number }).seq; });
    const first = await publish({ text: 'hello' });
    const child = spawn(process.execPath, [join(REPO, 'dist', 'silo', 'cli.js'), 'tail', 'chat/room-1', '--from', String(first), '--url', front.url, '--token', TOKEN], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    try {
      await until(() => (out.includes('hello') ? true : undefined), 'the first item');
      const second = await publish({ text: 'again' });
      await until(() => (out.includes('again') ? true : undefined), 'the second item');
      expect(out.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
        { seq: first, item: { text: 'hello' } },
        { seq: second, item: { text: 'again' } },
      ]);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('GRANARY_LOG_FORMAT=pretty on a silo process', () => {
  it('writes readable lines, a grain exception with its stack below it', async () => {
    const silo = await spawnSilo({ GRANARY_STORAGE: 'memory', GRANARY_LOG_FORMAT: 'pretty', GRANARY_GRAINS: join(FIXTURES, 'back-grains.mjs') }, { waitReady: false });
    try {
      const ready = async () => {
        const end = Date.now() + 15_000;
        for (;;) {
          const line = silo.nonJson.find((l) => / INFO  silo ready /.test(l));
          if (line !== undefined) return line;
          if (Date.now() > end) throw new Error(`no pretty "silo ready" line; stdout: ${silo.nonJson.join('\n')}; stderr: ${silo.stderr}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const line = await ready();
      expect(silo.logs).toEqual([]); // no JSON lines at all
      const url = /url=(\S+)/.exec(line)![1]!;
      const res = await fetch(`${url}/grains/Back/p/fail`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args":["pretty please"]}' });
      expect(res.status).toBe(500);
      const end = Date.now() + 10_000;
      while (!silo.nonJson.some((l) => l.includes('grain call failed')) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      const at = silo.nonJson.findIndex((l) => l.includes('grain call failed'));
      expect(silo.nonJson[at]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  grain call failed  .*type=Back key=p method=fail error=RangeError message="pretty please"/);
      expect(silo.nonJson[at + 1]).toMatch(/^ {4}RangeError: pretty please$/);
    } finally {
      await silo.signal('SIGTERM');
    }
  });
});
