/**
 * The container entry passes its overload limits on (GRANARY_MAX_ACTIVATIONS, …): a silo
 * process that may keep 3 activations sheds idle ones past that and keeps their state, and a
 * bad value stops it with exit 2 naming the variable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { raw } from '../gateway/helpers.js';
import { spawnSilo, type SiloProcess } from './silo-process.js';

const started: SiloProcess[] = [];
afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
});

const add = (p: SiloProcess, key: string) =>
  raw(p.port, 'POST', `/grains/Counter/${key}/add`, { headers: { 'content-type': 'application/json' }, body: '{"args":[1]}' });

describe('overload limits of the container entry', () => {
  it('GRANARY_MAX_ACTIVATIONS=3: the fourth counter sheds an idle one; every count survives', async () => {
    const p = await spawnSilo({ GRANARY_STORAGE: 'memory', GRANARY_MAX_ACTIVATIONS: '3' });
    started.push(p);
    for (const k of ['a', 'b', 'c', 'd', 'e']) expect((await add(p, k)).json).toEqual({ result: 1 });
    const metrics = (await raw(p.port, 'GET', '/metrics')).text;
    const shed = Number(/^granary_activations_shed_total (\d+)$/m.exec(metrics)?.[1]);
    expect(shed).toBeGreaterThanOrEqual(2);
    const live = [...metrics.matchAll(/^granary_activations\{type="Counter"\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(live[0]).toBeLessThanOrEqual(3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) expect((await add(p, k)).json).toEqual({ result: 2 });
    expect((await p.signal('SIGTERM')).code).toBe(0);
  });

  it('a bad value exits 2 naming the variable', async () => {
    const p = await spawnSilo({ GRANARY_STORAGE: 'memory', GRANARY_MAX_CONCURRENT_ACTIVATIONS: 'lots' }, { waitReady: false });
    started.push(p);
    expect((await p.exited).code).toBe(2);
    expect(p.stderr + p.logs.map((l) => JSON.stringify(l)).join('\n')).toMatch(/GRANARY_MAX_CONCURRENT_ACTIVATIONS/);
  });
});
