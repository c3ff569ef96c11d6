import { afterEach, describe, expect, it } from 'vitest';
import { checkLinearizable, TestCluster, type HistoryEvent, type LinearizabilityModel } from '../../testing.js';
import { Grain, grainId, parseStoredPayload } from '../../runtime/index.js';
import { Account, Bank, Counter, Ledger } from '../../grains/index.js';

const counterModel: LinearizabilityModel<number> = {
  init: () => 0,
  step: (s, method, args) => (method === 'add' ? [s + (args[0] as number), s + (args[0] as number)] : [s, s]),
};

let cluster: TestCluster | undefined;
afterEach(async () => { await cluster?.stop(); cluster = undefined; });

/** `clients` clients each making `calls` calls on keys a and b (adds and gets), all at once. */
async function counterWorkload(tc: TestCluster, clients: number, calls: number): Promise<void> {
  const users = await Promise.all(Array.from({ length: clients }, (_, i) => tc.newClient(`u${i}`)));
  await Promise.all(users.map(async (u) => {
    for (let i = 0; i < calls; i++) {
      const ref = u.getGrain(Counter, tc.random.pick(['a', 'b']));
      try {
        if (tc.random.chance(0.7)) await ref.add(tc.random.int(1, 3));
        else await ref.get();
      } catch { /* recorded as failed in the history */ }
    }
  }));
}

describe('TestCluster.history', () => {
  it('records every client call with its outcome and clock times', async () => {
    cluster = await TestCluster.start({ silos: 2, grains: [Counter] });
    const c = cluster.client.getGrain(Counter, 'h');
    await c.add(2);
    await expect(c.add('x' as never)).rejects.toThrow();
    expect(cluster.history).toHaveLength(2);
    const [ok, bad] = cluster.history as [HistoryEvent, HistoryEvent];
    expect(ok).toMatchObject({ client: 'client', grain: 'Counter', key: 'h', method: 'add', args: [2], ok: true, value: 2 });
    expect(ok.start).toBe(cluster.clock.now());
    expect(bad).toMatchObject({ ok: false, method: 'add', error: { name: 'InvalidArgumentError' } });
  });

  it('a real Counter run with concurrent clients is linearizable', async () => {
    cluster = await TestCluster.start({ silos: 3, grains: [Counter] });
    await counterWorkload(cluster, 6, 30);
    expect(cluster.history).toHaveLength(180);
    const r = checkLinearizable(cluster.history, { grain: 'Counter', model: counterModel });
    expect(r.ok, r.ok ? '' : r.explanation).toBe(true);
  });
});

describe('TestCluster.start({ seed })', () => {
  async function run(seed: number, faults?: Parameters<typeof TestCluster.start>[0]['faults']): Promise<HistoryEvent[]> {
    const tc = await TestCluster.start({ silos: 3, grains: [Counter], seed, faults, responseTimeoutMs: 2_000 });
    try {
      await counterWorkload(tc, 4, 15);
      await tc.runUntilQuiet();
      return tc.history;
    } finally {
      await tc.stop();
    }
  }

  it('the same seed gives the same history, event for event; another seed another', async () => {
    const faults = { messageDelayMs: [0, 30], messageDropRate: 0.02, storageErrorRate: 0.02, storageDelayMs: [0, 10] } as const;
    const a = await run(42, faults);
    const b = await run(42, faults);
    expect(a.filter((e) => e.ok).length).toBeGreaterThan(a.length / 2);
    expect(b).toEqual(a);
    expect(a.some((e) => e.end > e.start)).toBe(true);
    const c = await run(43, faults);
    expect(c).not.toEqual(a);
  });

  it('call ids come from the seed too (some errors name them, and the stored call record holds them)', async () => {
    const recorded = async (seed: number) => {
      const tc = await TestCluster.start({ silos: 2, grains: [Counter], seed });
      try {
        for (let i = 0; i < 3; i++) await tc.client.getGrain(Counter, 'ids').add(1);
        const stored = await tc.storage.read(grainId('Counter', 'ids'), 'state');
        return parseStoredPayload(stored!.payload!).log!.ids();
      } finally {
        await tc.stop();
      }
    };
    const a = await recorded(7);
    expect(a).toHaveLength(3);
    expect(await recorded(7)).toEqual(a);
    expect(await recorded(8)).not.toEqual(a);
  });
});

/** Calls a Counter from inside a grain, so a partition between silos shows. */
class Relay extends Grain {
  static grainType = 'Relay';
  async add(key: string, n: number): Promise<number> { return this.getGrain(Counter, key).add(n); }
}

/** Index in `cluster.silos` of the silo where `id` is active. */
function hostOf(tc: TestCluster, id: string): number {
  return tc.silos.findIndex((s) => s.catalog.get(id) !== undefined);
}

describe('simulated faults', () => {
  it('refuses bad fault settings, and partition/pause without a seed', async () => {
    await expect(TestCluster.start({ grains: [Counter], seed: 1, faults: { messageDropRate: 2 } })).rejects.toThrow(/messageDropRate must be a share from 0 to 1/);
    await expect(TestCluster.start({ grains: [Counter], seed: 1, faults: { storageDelayMs: [5, 1] } })).rejects.toThrow(/storageDelayMs must be \[min, max\]/);
    await expect(TestCluster.start({ grains: [Counter], seed: -1 })).rejects.toThrow(/seed is a whole number/);
    cluster = await TestCluster.start({ grains: [Counter] });
    await expect(cluster.partition([0], [1])).rejects.toThrow(/needs a simulated network: start the cluster with TestCluster.start\(\{ seed \}\)/);
  });

  it('partition(a, b) cuts silos apart (clients still reach all); heal() joins them', async () => {
    cluster = await TestCluster.start({ silos: 2, grains: [Counter, Relay], seed: 7, responseTimeoutMs: 1_000 });
    // Find a relay and a counter on different silos.
    let relay = '';
    for (let i = 0; relay === ''; i++) {
      await cluster.client.getGrain(Relay, `r${i}`).add('c', 0);
      if (hostOf(cluster, `Relay/r${i}`) !== hostOf(cluster, 'Counter/c')) relay = `r${i}`;
    }
    const a = hostOf(cluster, `Relay/${relay}`);
    await cluster.partition([a], [1 - a]);
    await expect(cluster.client.getGrain(Relay, relay).add('c', 1)).rejects.toThrow(/did not answer within 1000 ms/);
    expect(await cluster.client.getGrain(Counter, 'c').get()).toBeGreaterThanOrEqual(0);
    await cluster.heal();
    const before = await cluster.client.getGrain(Counter, 'c').get();
    expect(await cluster.client.getGrain(Relay, relay).add('c', 1)).toBe(before + 1);
  });

  it('pauseSilo(i, ms): the silo answers nothing until the pause ends, then answers', async () => {
    cluster = await TestCluster.start({ silos: 2, grains: [Counter], seed: 8, responseTimeoutMs: 30_000 });
    const c = cluster.client.getGrain(Counter, 'p');
    await c.add(1);
    await cluster.pauseSilo(hostOf(cluster, 'Counter/p'), 5_000);
    const start = cluster.clock.now();
    expect(await c.add(1)).toBe(2);
    expect(cluster.clock.now() - start).toBeGreaterThanOrEqual(5_000);
  });

  it('runUntilQuiet() lets calls nobody awaits finish, in simulated time', async () => {
    cluster = await TestCluster.start({ silos: 3, grains: [Counter], seed: 9, faults: { messageDelayMs: [10, 100], storageDelayMs: [5, 50] } });
    for (let i = 0; i < 10; i++) void cluster.client.getGrain(Counter, `q${i % 3}`).add(1);
    await cluster.runUntilQuiet();
    expect(cluster.history).toHaveLength(10);
    expect(cluster.history.every((e) => e.ok)).toBe(true);
    expect(cluster.clock.now() - Math.min(...cluster.history.map((e) => e.start))).toBeGreaterThanOrEqual(15);
  });

  it('runUntilQuiet() that cannot finish within maxMs fails naming the seed', async () => {
    cluster = await TestCluster.start({ silos: 2, grains: [Counter], seed: 11, responseTimeoutMs: 60_000 });
    await cluster.client.getGrain(Counter, 'z').add(1);
    await cluster.pauseSilo(hostOf(cluster, 'Counter/z'), 30_000);
    const call = cluster.client.getGrain(Counter, 'z').add(1);
    await expect(cluster.runUntilQuiet({ maxMs: 1_000 })).rejects.toThrow(/not quiet after 1000 ms of simulated time \(1 client calls in flight\); simulation seed 11 \(repeat it with TestCluster.start\(\{ seed: 11/);
    expect(await call).toBe(2);
  });

  it('sleep(ms) waits in simulated time; setFaults() changes the faults from then on', async () => {
    cluster = await TestCluster.start({ silos: 2, grains: [Counter], seed: 12, responseTimeoutMs: 500 });
    const t = cluster.clock.now();
    await cluster.sleep(600_000);
    expect(cluster.clock.now() - t).toBeGreaterThanOrEqual(600_000);
    cluster.setFaults({ messageDropRate: 1 });
    await expect(cluster.client.getGrain(Counter, 's').add(1)).rejects.toThrow(/did not answer within 500 ms/);
    cluster.setFaults({});
    expect(await cluster.client.getGrain(Counter, 's2').add(1)).toBe(1);
    expect(() => cluster!.setFaults({ messageDelayMs: [1, -1] as never })).toThrow(/messageDelayMs must be/);
  });

  it('dropped messages and storage errors fail calls (the seed named), and the history stays linearizable', async () => {
    cluster = await TestCluster.start({ silos: 3, grains: [Counter], seed: 10, responseTimeoutMs: 1_000, faults: { messageDropRate: 0.1, storageErrorRate: 0.1 } });
    await counterWorkload(cluster, 4, 25);
    await cluster.runUntilQuiet();
    const failed = cluster.history.filter((e) => !e.ok);
    expect(failed.some((e) => e.error!.name === 'TimeoutError')).toBe(true);
    expect(failed.some((e) => /injected storage fault \(simulation seed 10\)/.test(e.error!.message))).toBe(true);
    const r = checkLinearizable(cluster.history, { grain: 'Counter', model: counterModel });
    expect(r.ok, r.ok ? '' : r.explanation).toBe(true);
  });

  it('every request delivered twice: each call runs once, and a transaction a grain commits stays committed', async () => {
    // A grain-coordinated transaction's `$txn.finish` arrives twice at its manager; the second
    // copy once found the transaction gone and told the participants `aborted` after commit.
    cluster = await TestCluster.start({ silos: 3, grains: [Account, Ledger, Bank, Counter], seed: 5, faults: { messageDuplicateRate: 1, messageDelayMs: [0, 10] } });
    const tc = cluster;
    for (const k of ['x', 'y']) await tc.client.transaction(() => tc.client.getGrain(Account, k).deposit(100));
    expect(await tc.client.getGrain(Counter, 'twice').add(1)).toBe(1);
    const committed: string[] = [];
    for (let i = 0; i < 10; i++) {
      const [from, to] = i % 2 === 0 ? ['x', 'y'] : ['y', 'x'];
      await tc.client.getGrain(Bank, 'b').transfer(from, to, i + 1, `t${i}`);
      committed.push(`t${i}`);
    }
    await tc.runUntilQuiet();
    tc.setFaults({});
    expect(await tc.client.getGrain(Counter, 'twice').get()).toBe(1);
    const ledger = [...await tc.client.getGrain(Ledger, 'x').entries(), ...await tc.client.getGrain(Ledger, 'y').entries()];
    expect(ledger.map((e) => e.id).sort()).toEqual(committed.sort());
    const balance = (k: string) => tc.client.transaction(() => tc.client.getGrain(Account, k).balance());
    // x sent 1+3+5+7+9 = 25 and received 2+4+6+8+10 = 30.
    expect([await balance('x'), await balance('y')]).toEqual([105, 95]);
  });

  it('transactions repeat too: the same seed gives the same bank history', async () => {
    const once = async () => {
      const tc = await TestCluster.start({ silos: 3, grains: [Account, Ledger, Bank], seed: 77, faults: { messageDelayMs: [0, 10], storageDelayMs: [0, 3] } });
      try {
        for (const k of ['x', 'y', 'z']) await tc.client.transaction(() => tc.client.getGrain(Account, k).deposit(50));
        await Promise.all([0, 1, 2].map(async (u) => {
          const client = await tc.newClient(`u${u}`);
          for (let i = 0; i < 5; i++) {
            const [from, to] = [tc.random.pick(['x', 'y', 'z']), tc.random.pick(['x', 'y', 'z'])];
            await client.getGrain(Bank, 'b').transfer(from, from === to ? 'w' : to, tc.random.int(1, 20), `t${u}-${i}`).catch(() => undefined);
          }
        }));
        await tc.runUntilQuiet();
        return tc.history;
      } finally {
        await tc.stop();
      }
    };
    const a = await once();
    expect(a.map((e) => e.method)).toEqual([...Array(3).fill('deposit'), ...Array(15).fill('transfer')]);
    expect(await once()).toEqual(a);
  });
});
