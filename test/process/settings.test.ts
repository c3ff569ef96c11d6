/**
 * The entry point's runtime settings, each through a real process configured by environment
 * only (docs/deploy.md, Environment): GRANARY_IDLE_TIMEOUT_MS, GRANARY_RESPONSE_TIMEOUT_MS and
 * GRANARY_LOG_LEVEL. Each test fails if main.ts stops passing its setting on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { post, spawnSilo, type SiloProcess } from './silo-process.js';

const started: SiloProcess[] = [];

async function silo(env: Record<string, string>, waitReady = true): Promise<SiloProcess> {
  const p = await spawnSilo(env, { waitReady });
  started.push(p);
  return p;
}

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
});

async function metrics(url: string): Promise<string> {
  return (await fetch(url + '/metrics')).text();
}

describe('runtime settings from the environment', () => {
  it('GRANARY_IDLE_TIMEOUT_MS: a grain of a type that sets no idle timeout is deactivated after it', async () => {
    // ChatRoom declares no idleTimeoutMs (Counter does), so the silo default applies.
    const p = await silo({ GRANARY_STORAGE: 'memory', GRANARY_IDLE_TIMEOUT_MS: '500' });
    expect((await post(p.url, '/grains/ChatRoom/idle/join', { args: ['ann'] })).status).toBe(200);
    expect(await metrics(p.url)).toMatch(/^granary_activations\{type="ChatRoom"\} 1$/m);
    // The default (15 minutes) would keep it far longer than this test waits.
    while (!/^granary_deactivations_total 1$/m.test(await metrics(p.url))) await new Promise((r) => setTimeout(r, 50));
    // (A type with no live activation has no gauge line.)
    expect(await metrics(p.url)).not.toMatch(/^granary_activations\{type="ChatRoom"\} [1-9]/m);
    // It comes back with its state on the next call.
    expect(await post(p.url, '/grains/ChatRoom/idle/members', {})).toEqual({ status: 200, body: { result: ['ann'] } });
    expect((await p.signal('SIGTERM')).code).toBe(0);
  });

  it('GRANARY_RESPONSE_TIMEOUT_MS: a call that does not answer in time is 504 timeout', async () => {
    const p = await silo({ GRANARY_GRAINS: './test/process/fixtures/slow-grains.mjs', GRANARY_STORAGE: 'memory', GRANARY_RESPONSE_TIMEOUT_MS: '300' });
    // The default (30 s) would let this 10 s call finish, well past vitest's limit.
    const r = await post(p.url, '/grains/Slow/late/sleep', { args: [10_000] });
    expect(r.status).toBe(504);
    expect(r.body.error.code).toBe('timeout');
    expect((await post(p.url, '/grains/Slow/quick/sleep', { args: [1] })).status).toBe(200);
  });

  it('GRANARY_LOG_LEVEL=warn: no info lines, warnings still come', async () => {
    const port = await freePort();
    const p = await silo({ GRANARY_STORAGE: 'memory', GRANARY_LOG_LEVEL: 'warn', GRANARY_PORT: String(port), GRANARY_TYPO: 'x' }, false);
    // "silo ready" is an info line, so readiness is asked over HTTP instead.
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
      const ready = await fetch(url + '/readyz').then((r) => r.status === 200, () => false);
      if (ready) break;
      if (p.child.exitCode !== null) throw new Error(`the silo exited: ${p.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await post(url, '/grains/Counter/quiet/add', { args: [1] })).toEqual({ status: 200, body: { result: 1 } });
    expect((await p.signal('SIGTERM')).code).toBe(0);
    expect(p.logs.some((l) => l.level === 'warn' && l.variable === 'GRANARY_TYPO')).toBe(true);
    expect(p.logs.filter((l) => l.level === 'info' || l.level === 'debug')).toEqual([]);
  });
});
