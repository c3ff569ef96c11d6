/**
 * The cluster conformance suite: the foundation's cluster behaviour, run unchanged against
 * every cluster provider (in-memory, NATS). A provider is done when this suite passes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RequestContext, TestCluster, type ClusterProvider, type StorageProvider } from 'granary';
import { Counter } from '../../grains/index.js';
import { ContextProbe, Lifecycle, Pinger, Serial, lifecycleLog, testGrains } from '../fixtures/grains.js';

export interface ClusterUnderTest {
  /** A fresh, isolated cluster (its own namespace) for one test. */
  provider(): ClusterProvider;
  /** Optional storage for the cluster (default: memory). */
  storage?(): StorageProvider;
}

const grains = [Counter, ...testGrains];

/** Which silo hosts `key` now (index into cluster.silos), or -1. */
export function hostOf(cluster: TestCluster, key: string): number {
  return cluster.silos.findIndex((s) => s.catalog.get(key)?.status === 1);
}

export function clusterConformance(name: string, cut: () => ClusterUnderTest): void {
  describe(`cluster conformance: ${name}`, () => {
    let cluster: TestCluster | undefined;
    const start = async (silos: number) => {
      const c = cut();
      cluster = await TestCluster.start({ silos, grains, cluster: c.provider(), storage: c.storage?.() });
      return cluster;
    };
    afterEach(async () => {
      await cluster?.stop();
      cluster = undefined;
    });

    it('3 silos × concurrent first calls per key → exactly one activation per key', async () => {
      const c = await start(3);
      const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
      const callers = [c.client, ...c.silos];
      const calls: Promise<number>[] = [];
      for (const k of keys) {
        for (let j = 0; j < 8; j++) calls.push(callers[j % callers.length]!.getGrain(Counter, k).add(1));
      }
      const results = await Promise.all(calls);
      expect(results.length).toBe(keys.length * 8);
      expect(c.activationCount('Counter')).toBe(keys.length);
      for (const k of keys) {
        expect(c.silos.filter((s) => s.catalog.get(`Counter/${k}`) !== undefined)).toHaveLength(1);
        expect(await c.client.getGrain(Counter, k).get()).toBe(8);
      }
      // Every increment got a distinct answer per key: the calls never overlapped.
      const perKey = new Map<string, number[]>();
      keys.forEach((k, i) => perKey.set(k, results.slice(i * 8, i * 8 + 8).sort((a, b) => a - b)));
      for (const v of perKey.values()) expect(v).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('50 concurrent calls on one grain never interleave', async () => {
      const c = await start(2);
      const g = c.client.getGrain(Serial, 'one');
      const viaSilo = c.silos[1]!.getGrain(Serial, 'one');
      await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? g : viaSilo).slowAdd(1, 1)));
      expect(await g.stats()).toEqual({ n: 50, maxInside: 1 });
    });

    it('request context flows client → grain → grain across silos, and not back', async () => {
      const c = await start(3);
      let crossed = 0;
      for (let i = 0; i < 12; i++) {
        const a = c.client.getGrain(ContextProbe, `a${i}`);
        const [seenByNext, seenHere] = await RequestContext.run({ user: 'alice', n: i }, async () => {
          const r = await a.setAndForward('extra', { deep: [1, 'two'] }, `b${i}`);
          // The grain's `set` does not flow back to its caller.
          expect(RequestContext.get('extra')).toBeUndefined();
          expect(RequestContext.get('user')).toBe('alice');
          return r;
        });
        expect(seenByNext).toEqual({ deep: [1, 'two'] });
        expect(seenHere).toEqual({ deep: [1, 'two'] });
        expect(await RequestContext.run({ user: 'alice', n: i }, () => a.chain('user', 3))).toBe('alice');
        expect(await RequestContext.run({ n: i }, () => a.snapshot())).toEqual({ n: i });
        if (hostOf(c, `ContextProbe/a${i}`) !== hostOf(c, `ContextProbe/b${i}`)) crossed++;
      }
      expect(crossed).toBeGreaterThan(0); // random placement over 3 silos: some pairs span silos
      // No context outside run.
      expect(await c.client.getGrain(ContextProbe, 'plain').read('user')).toBeUndefined();
    });

    it('a call cycle A → B → A runs (call-chain reentrancy) across silos, and a self-call too', async () => {
      const c = await start(3);
      for (let i = 0; i < 6; i++) {
        expect(await c.client.getGrain(Pinger, `x${i}`).ping(`y${i}`)).toBe(`y${i}:pong(x${i}#1)`);
      }
      expect(await c.client.getGrain(Pinger, 'me').self()).toBe('pong(me#1)');
      expect(await c.client.getGrain(Pinger, 'deep').recurse(20)).toBe(20);
    });

    it('calls arriving while a grain deactivates are re-routed, never lost', async () => {
      const c = await start(3);
      const key = 'bye';
      const g = c.client.getGrain(Lifecycle, key);
      await g.set(1);
      const burst: Promise<unknown>[] = [g.slowBye(5)];
      for (let i = 0; i < 30; i++) burst.push(i % 3 === 0 ? g.set(i + 2) : g.get());
      const results = await Promise.allSettled(burst);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      await c.settle();
      const after = await g.get();
      expect(after.value).toBe(29); // the last set (i = 27) wins; nothing was dropped
      expect(after.activations).toBeGreaterThanOrEqual(2);
      expect(c.activationCount('Lifecycle')).toBe(1);
    });

    it('a crashed silo loses no written state: its grains re-activate elsewhere on the next call', async () => {
      const c = await start(3);
      const keys = Array.from({ length: 20 }, (_, i) => `c${i}`);
      for (const k of keys) await c.client.getGrain(Counter, k).add(5);
      const victim = c.silos.findIndex((s) => s.activationCount('Counter') > 0);
      const onVictim = keys.filter((k) => c.silos[victim]!.catalog.get(`Counter/${k}`) !== undefined);
      expect(onVictim.length).toBeGreaterThan(0);
      await c.killSilo(victim);
      for (const k of keys) expect(await c.client.getGrain(Counter, k).add(1)).toBe(6);
      expect(c.activationCount('Counter')).toBe(keys.length);
    });

    it('a graceful stop deactivates its grains and the cluster carries on', async () => {
      const c = await start(2);
      lifecycleLog.length = 0;
      const keys = ['s1', 's2', 's3', 's4', 's5', 's6'];
      for (const k of keys) await c.silos[0]!.getGrain(Lifecycle, k).set(7);
      expect(c.silos[0]!.activationCount('Lifecycle')).toBe(keys.length); // prefer-local placement
      await c.stopSilo(0);
      for (const k of keys) expect(lifecycleLog).toContain(`deactivate:${k}:shutdown`);
      for (const k of keys) expect((await c.client.getGrain(Lifecycle, k).get()).value).toBe(7);
      expect(c.silos[0]!.activationCount('Lifecycle')).toBe(keys.length);
    });

    it('a stale directory cache after a grain moved is corrected transparently', async () => {
      const c = await start(2);
      const [s0, s1] = [c.silos[0]!, c.silos[1]!];
      await s0.getGrain(Counter, 'mover').add(1); // placed on s0 (prefer-local)
      expect(await c.client.getGrain(Counter, 'mover').add(1)).toBe(2);
      // The grain deactivates on s0, then s1 activates it: it moved.
      await s0.catalog.deactivate(s0.catalog.get('Counter/mover')!, 'requested');
      expect(await s1.getGrain(Counter, 'mover').add(1)).toBe(3);
      expect(hostOf(c, 'Counter/mover')).toBe(1);
      // The client still believes "s0": the call reaches s0, which forwards to s1.
      expect(await c.client.getGrain(Counter, 'mover').add(1)).toBe(4);
      expect(c.activationCount('Counter')).toBe(1);
      expect(s0.catalog.get('Counter/mover')).toBeUndefined();
      // ...and s0's answer taught the client the new home: the next call goes straight there.
      expect(await c.client.getGrain(Counter, 'mover').add(1)).toBe(5);
    });

    it('idle grains deactivate on the fake clock and come back with their state', async () => {
      const c = await start(2);
      lifecycleLog.length = 0;
      const g = c.client.getGrain(Lifecycle, 'idle');
      await g.set(41);
      expect(c.activationCount('Lifecycle')).toBe(1);
      await c.advanceTime(59_000);
      expect(c.activationCount('Lifecycle')).toBe(1);
      await c.advanceTime(3_000);
      expect(c.activationCount('Lifecycle')).toBe(0);
      expect(lifecycleLog).toContain('deactivate:idle:idle');
      expect(await g.get()).toEqual({ value: 41, activations: 2 });
    });
  });
}
