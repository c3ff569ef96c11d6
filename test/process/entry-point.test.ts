/**
 * The container entry point as a real process (the Dockerfile's CMD, run from the repo
 * root): configuration from the environment, JSON logs, health, a grain call over the
 * gateway, graceful SIGTERM within the drain bound, and exit code 2 on bad values.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSilo, dockerfileCommand, post, type SiloProcess } from './silo-process.js';

const started: SiloProcess[] = [];
const dirs: string[] = [];

async function silo(env: Record<string, string>, options?: { waitReady?: boolean }): Promise<SiloProcess> {
  const p = await spawnSilo(env, options);
  started.push(p);
  return p;
}

/** Resolves once the silo has activated `n` grains of `type`: a call to a fresh key has arrived. */
async function activated(p: SiloProcess, type: string, n: number): Promise<void> {
  const line = new RegExp(`^granary_activations\\{type="${type}"\\} ${n}$`, 'm');
  for (let i = 0; i < 1500 && !line.test(await (await fetch(p.url + '/metrics')).text()); i++) await new Promise((r) => setTimeout(r, 20));
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'granary-proc-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('container entry point', () => {
  it('the Dockerfile runs node dist/silo/main.js', () => {
    expect(dockerfileCommand()).toEqual(['node', 'dist/silo/main.js']);
  });

  it('starts on the embedded defaults, serves health, readiness, metrics and calls, and stops on SIGTERM', async () => {
    const p = await silo({ GRANARY_DATA_DIR: tempDir(), GRANARY_DRAIN_TIMEOUT_MS: '5000' });
    expect((await fetch(p.url + '/healthz')).status).toBe(200);
    expect((await fetch(p.url + '/readyz')).status).toBe(200);
    expect(await post(p.url, '/grains/Counter/a/add', { args: [2] })).toEqual({ status: 200, body: { result: 2 } });
    expect(await post(p.url, '/grains/Counter/a/whoAsked', {}, { 'x-granary-ctx-user': 'zoe' })).toEqual({ status: 200, body: { result: 'zoe' } });
    const metrics = await (await fetch(p.url + '/metrics')).text();
    expect(metrics).toMatch(/^granary_calls_total\{source="gateway",type="Counter",method="add",outcome="ok"\} 1$/m);

    // Exit 0 is a stop within the drain bound: one cut at the bound exits 1 (tested below).
    expect((await p.signal('SIGTERM')).code).toBe(0);
    expect(p.nonJson).toEqual([]);
    for (const l of p.logs) {
      expect(typeof l.time).toBe('string');
      expect(['debug', 'info', 'warn', 'error']).toContain(l.level);
    }
    const msgs = p.logs.map((l) => l.msg);
    expect(msgs).toContain('silo ready');
    expect(msgs).toContain('stopping');
    expect(msgs.at(-1)).toBe('stopped');
  });

  it('hosts the grain classes GRANARY_GRAINS exports; a call in flight at SIGTERM still answers', async () => {
    const p = await silo({ GRANARY_GRAINS: './test/process/fixtures/slow-grains.mjs', GRANARY_STORAGE: 'memory', GRANARY_DRAIN_TIMEOUT_MS: '8000' });
    expect(p.logs.find((l) => l.msg === 'silo ready')?.grains).toEqual(['Slow', 'Stubborn']);
    expect(await post(p.url, '/grains/Slow/a/count', {})).toEqual({ status: 200, body: { result: 0 } });
    expect((await post(p.url, '/grains/Counter/a/get', {})).status).toBe(404);
    const inflight = post(p.url, '/grains/Slow/b/sleep', { args: [3000] });
    await activated(p, 'Slow', 2); // Slow/b is active: the call has arrived
    const stop = p.signal('SIGTERM');
    expect(await inflight).toEqual({ status: 200, body: { result: 'awake' } });
    expect((await stop).code).toBe(0); // within the drain bound (a cut exits 1)
  });

  it('a call that never ends cannot hold the process past GRANARY_DRAIN_TIMEOUT_MS', async () => {
    const p = await silo({ GRANARY_GRAINS: './test/process/fixtures/slow-grains.mjs', GRANARY_STORAGE: 'memory', GRANARY_DRAIN_TIMEOUT_MS: '1500' });
    const hanging = post(p.url, '/grains/Slow/a/sleep', { args: [600_000] }).catch((err: Error) => err);
    await activated(p, 'Slow', 1); // the call has arrived
    const { code } = await p.signal('SIGTERM');
    // The silo's own bounds (gateway grace, turn drain) end it inside the process bound: a
    // clean exit (the process bound's cut exits 1).
    expect(code).toBe(0);
    expect(p.logs.some((l) => l.msg === 'deactivation failed' && /still running/.test(String((l.err as { message?: string })?.message)))).toBe(true);
    expect(await hanging).toBeInstanceOf(Error);
  });

  it('a stop that hangs anyway is cut at GRANARY_DRAIN_TIMEOUT_MS: exit 1 with an error line', async () => {
    const p = await silo({ GRANARY_GRAINS: './test/process/fixtures/slow-grains.mjs', GRANARY_STORAGE: 'memory', GRANARY_DRAIN_TIMEOUT_MS: '1000' });
    expect(await post(p.url, '/grains/Stubborn/a/touch', {})).toEqual({ status: 200, body: { result: 'touched' } });
    const { code, ms } = await p.signal('SIGTERM');
    expect(code).toBe(1);
    // Not before the bound (a timer does not fire early); that it was the bound's cut, not
    // anything else, the error line says (Stubborn never finishes deactivating by itself).
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(p.logs.some((l) => l.level === 'error' && /GRANARY_DRAIN_TIMEOUT_MS/.test(l.msg))).toBe(true);
  });

  it('warns about GRANARY_* variables it does not know', async () => {
    const p = await silo({ GRANARY_STORAGE: 'memory', GRANARY_NAT_URL: 'nats://typo:4222' });
    expect(p.logs.some((l) => l.level === 'warn' && l.variable === 'GRANARY_NAT_URL')).toBe(true);
    expect((await p.signal('SIGTERM')).code).toBe(0);
  });

  it('a port already in use fails the start with a clear message (exit 1)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const p = await silo({ GRANARY_STORAGE: 'memory', GRANARY_PORT: String(busy) }, { waitReady: false });
      const { code } = await p.exited;
      expect(code).toBe(1);
      const failure = p.logs.find((l) => l.msg === 'silo failed to start');
      expect(String(failure?.detail)).toMatch(new RegExp(`port ${busy} .*already in use.*GRANARY_PORT`));
    } finally {
      blocker.close();
    }
  });
});

describe('bad configuration → exit 2 with one line naming the variable', () => {
  const bad: [string, Record<string, string>][] = [
    ['GRANARY_PORT', { GRANARY_PORT: 'eighty' }],
    ['GRANARY_PORT', { GRANARY_PORT: '70000' }],
    ['GRANARY_IDLE_TIMEOUT_MS', { GRANARY_IDLE_TIMEOUT_MS: '-1' }],
    ['GRANARY_DRAIN_TIMEOUT_MS', { GRANARY_DRAIN_TIMEOUT_MS: '1.5' }],
    ['GRANARY_NATS_URL', { GRANARY_NATS_URL: 'http://127.0.0.1:4222' }],
    ['GRANARY_CLUSTER', { GRANARY_CLUSTER: 'has spaces' }],
    ['GRANARY_LOG_LEVEL', { GRANARY_LOG_LEVEL: 'loud' }],
    ['GRANARY_DYNAMODB_CREATE_TABLE', { GRANARY_DYNAMODB_CREATE_TABLE: 'yes' }],
    ['GRANARY_DYNAMODB_ENDPOINT', { GRANARY_DYNAMODB_ENDPOINT: 'localhost:8000' }],
    ['GRANARY_DYNAMODB_TABLE', { GRANARY_DYNAMODB_TABLE: 'x' }],
    ['GRANARY_STORAGE', { GRANARY_STORAGE: 'disk' }],
    ['GRANARY_AUTH_TOKEN', { GRANARY_AUTH_TOKEN: 'short' }],
    ['GRANARY_RATE_LIMIT_BURST', { GRANARY_RATE_LIMIT_BURST: '5' }],
    ['AWS_REGION', { AWS_REGION: 'Mars Central' }],
    ['GRANARY_GRAINS', { GRANARY_GRAINS: './test/process/fixtures/missing.mjs' }],
    ['GRANARY_GRAINS', { GRANARY_GRAINS: './test/process/fixtures/no-grains.mjs' }],
  ];

  it.each(bad)('%s %j', async (variable, env) => {
    const p = await silo({ GRANARY_STORAGE: 'memory', ...env }, { waitReady: false });
    const { code } = await p.exited;
    expect(code).toBe(2);
    const lines = p.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { level: string; msg: string; variable: string };
    expect(line.level).toBe('error');
    expect(line.variable).toBe(variable);
    expect(line.msg).toContain(variable);
    expect(p.logs.some((l) => l.msg === 'silo ready')).toBe(false);
  });
});
