/**
 * The entry point's signal contract (docs/deploy.md, Lifecycle): SIGINT stops it gracefully
 * like SIGTERM (calls in flight answer, exit 0), and a second signal during the graceful stop
 * exits at once with code 1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { post, spawnSilo, type SiloProcess } from './silo-process.js';

const started: SiloProcess[] = [];
const SLOW_GRAINS = './test/process/fixtures/slow-grains.mjs';

async function silo(env: Record<string, string>): Promise<SiloProcess> {
  const p = await spawnSilo(env);
  started.push(p);
  return p;
}

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
});

/** Resolves once the silo's metrics show `n` live activations of `type`. */
async function activations(p: SiloProcess, type: string, n: number): Promise<void> {
  const line = new RegExp(`^granary_activations\\{type="${type}"\\} ${n}$`, 'm');
  while (!line.test(await (await fetch(p.url + '/metrics')).text())) await new Promise((r) => setTimeout(r, 20));
}

describe('signals', () => {
  it('SIGINT stops the silo gracefully, like SIGTERM: a call in flight answers, exit 0', async () => {
    const p = await silo({ GRANARY_GRAINS: SLOW_GRAINS, GRANARY_STORAGE: 'memory', GRANARY_DRAIN_TIMEOUT_MS: '20000' });
    const inflight = post(p.url, '/grains/Slow/a/sleep', { args: [1_500] });
    await activations(p, 'Slow', 1);
    const stop = p.signal('SIGINT');
    expect(await inflight).toEqual({ status: 200, body: { result: 'awake' } });
    const { code } = await stop;
    expect(code).toBe(0);
    expect(p.child.signalCode).toBeNull();
    expect(p.logs.find((l) => l.msg === 'stopping')?.signal).toBe('SIGINT');
    expect(p.logs.at(-1)?.msg).toBe('stopped');
  });

  it('a second signal during the graceful stop exits at once with code 1', async () => {
    // Stubborn never finishes deactivating, and the drain bound is far away: only the second
    // signal can end this stop within the test.
    const p = await silo({ GRANARY_GRAINS: SLOW_GRAINS, GRANARY_STORAGE: 'memory', GRANARY_DRAIN_TIMEOUT_MS: '3600000' });
    expect(await post(p.url, '/grains/Stubborn/a/touch', {})).toEqual({ status: 200, body: { result: 'touched' } });
    p.child.kill('SIGTERM');
    await p.waitForLog((l) => l.msg === 'stopping');
    p.child.kill('SIGINT');
    const { code, signal } = await p.exited;
    expect(signal).toBeNull();
    expect(code).toBe(1);
    expect(p.logs.some((l) => l.level === 'warn' && /second signal/.test(l.msg) && l.signal === 'SIGINT')).toBe(true);
    expect(p.logs.some((l) => l.msg === 'stopped')).toBe(false);
  });
});
