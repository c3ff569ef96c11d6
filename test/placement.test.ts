import { afterEach, describe, expect, it } from 'vitest';
import { Grain, Silo, TestCluster } from 'granary';
import { place, type SiloInfo } from 'granary/internal';

class Hashed extends Grain { static placement = 'hash' as const; async where(): Promise<string> { return this.key; } }
class Spread extends Grain { static placement = 'random' as const; async where(): Promise<string> { return this.key; } }
class Local extends Grain { async where(): Promise<string> { return this.key; } }

const silo = (id: string, types: string[], status: 'active' | 'draining' = 'active'): SiloInfo => ({ id, types, startedAt: 0, status });

let cluster: TestCluster | undefined;
afterEach(async () => { await cluster?.stop(); cluster = undefined; });

describe('placement', () => {
  it('hash placement is stable for a key and spreads keys', () => {
    const live = [silo('a', ['T']), silo('b', ['T']), silo('c', ['T'])];
    const picks = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const first = place({ strategy: 'hash', type: 'T', grainKey: `T/k${i}`, live })!.id;
      expect(place({ strategy: 'hash', type: 'T', grainKey: `T/k${i}`, live: [...live].reverse() })!.id).toBe(first);
      picks.set(first, (picks.get(first) ?? 0) + 1);
    }
    for (const id of ['a', 'b', 'c']) expect(picks.get(id)).toBeGreaterThan(50);
    // Removing a silo moves only the keys that were on it.
    let moved = 0;
    for (let i = 0; i < 300; i++) {
      const before = place({ strategy: 'hash', type: 'T', grainKey: `T/k${i}`, live })!.id;
      const after = place({ strategy: 'hash', type: 'T', grainKey: `T/k${i}`, live: live.slice(0, 2) })!.id;
      if (before !== 'c' && before !== after) moved++;
    }
    expect(moved).toBe(0);
  });

  it('only silos hosting the type, preferring active over draining; preferLocal picks self', () => {
    const live = [silo('a', ['T']), silo('b', ['U']), silo('c', ['T'], 'draining')];
    for (let i = 0; i < 20; i++) expect(place({ strategy: 'random', type: 'T', grainKey: `T/${i}`, live })!.id).toBe('a');
    expect(place({ strategy: 'random', type: 'U', grainKey: 'U/1', live })!.id).toBe('b');
    expect(place({ strategy: 'random', type: 'V', grainKey: 'V/1', live })).toBeUndefined();
    expect(place({ strategy: 'preferLocal', type: 'T', grainKey: 'T/1', self: live[0], live })!.id).toBe('a');
    expect(place({ strategy: 'preferLocal', type: 'U', grainKey: 'U/1', self: live[0], live })!.id).toBe('b');
    expect(place({ strategy: 'random', type: 'T', grainKey: 'T/1', live: [silo('c', ['T'], 'draining')] })!.id).toBe('c');
  });

  it('static placement is honoured in a cluster', async () => {
    cluster = await TestCluster.start({ silos: 3, grains: [Hashed, Spread, Local] });
    const from = cluster.silos[0]!;
    for (let i = 0; i < 30; i++) {
      await from.getGrain(Local, `l${i}`).where();
      await from.getGrain(Spread, `s${i}`).where();
      await from.getGrain(Hashed, `h${i}`).where();
    }
    expect(from.activationCount('Local')).toBe(30);
    expect(cluster.silos.filter((s) => s.activationCount('Spread') > 0).length).toBeGreaterThan(1);
    const live = cluster.silos.map((s) => ({ id: s.id, types: ['Hashed'], startedAt: 0, status: 'active' as const }));
    for (let i = 0; i < 30; i++) {
      const expected = place({ strategy: 'hash', type: 'Hashed', grainKey: `Hashed/h${i}`, live })!.id;
      expect(cluster.silos.find((s) => s.catalog.get(`Hashed/h${i}`))!.id).toBe(expected);
    }
  });
});

describe('idle collector cost', () => {
  it('a sweep examines the activations that fall due, not all of them', async () => {
    class Short extends Grain { static idleTimeoutMs = 1_000; async hi() { return 1; } }
    class Long extends Grain { static idleTimeoutMs = 3_600_000; async hi() { return 1; } }
    const tc = await TestCluster.start({ silos: 1, grains: [Short, Long] });
    cluster = tc;
    const s = tc.silos[0]!;
    await Promise.all(Array.from({ length: 2_000 }, (_, i) => s.getGrain(Long, `l${i}`).hi()));
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.getGrain(Short, `s${i}`).hi()));
    tc.clock.jump(2_000);
    expect(s.catalog.collectIdle()).toBe(20);
    await tc.settle();
    expect(s.activationCount('Short')).toBe(0);
    expect(s.activationCount('Long')).toBe(2_000);
  });

  it('a silo on the system clock collects too', async () => {
    class Quick extends Grain { static idleTimeoutMs = 50; async hi() { return 1; } }
    const real = await Silo.start({ grains: [Quick], collectionQuantumMs: 20 });
    try {
      await real.getGrain(Quick, 'q').hi();
      expect(real.activationCount()).toBe(1);
      // Idle after 50 ms, swept every 20 ms on the real clock (the cap only catches "never").
      await expect.poll(() => real.activationCount(), { timeout: 20_000, interval: 20 }).toBe(0);
    } finally {
      await real.stop();
    }
  });
});
