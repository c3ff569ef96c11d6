/**
 * The example of docs/testing-your-grains.md: a grain marked reentrant reads its state,
 * awaits another grain, then writes what it read plus its change. Two calls interleave at
 * the await and one update is lost; a seeded simulation with the linearizability checker
 * finds it, and the same test passes once the grain is fixed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Grain } from '../../runtime/index.js';
import { checkLinearizable, TestCluster, type LinearizabilityModel } from '../../testing.js';

/** Where each change is noted, durably: the caller's turn waits for a storage write. */
class AuditLog extends Grain<{ lines: string[] }> {
  static grainType = 'AuditLog';
  protected override initialState() { return { lines: [] as string[] }; }
  async note(line: string): Promise<void> {
    this.state.lines.push(line);
    await this.writeState();
  }
}

/** The bug: reentrant, and `before` is stale by the time it is written back. */
class Tally extends Grain<{ value: number }> {
  static grainType = 'Tally';
  static reentrant = true;
  protected override initialState() { return { value: 0 }; }
  async add(n: number): Promise<number> {
    const before = this.state.value;
    await this.getGrain(AuditLog, this.key).note(`add ${n}`);
    this.state.value = before + n;
    await this.writeState();
    return this.state.value;
  }
  async get(): Promise<number> { return this.state.value; }
}

/**
 * The fix: change the state after the await, and answer with the value this call made (by
 * the time `writeState` resolves, another call may have changed `state` again). Or drop
 * `reentrant`.
 */
class FixedTally extends Tally {
  static override grainType = 'FixedTally';
  override async add(n: number): Promise<number> {
    await this.getGrain(AuditLog, this.key).note(`add ${n}`);
    const value = (this.state.value += n);
    await this.writeState();
    return value;
  }
}

const tallyModel: LinearizabilityModel<number> = {
  init: () => 0,
  step: (value, method, args) => (method === 'add' ? [value + (args[0] as number), value + (args[0] as number)] : [value, value]),
};

async function run(grain: typeof Tally, seed: number): Promise<ReturnType<typeof checkLinearizable>> {
  const cluster = await TestCluster.start({ silos: 2, grains: [grain, AuditLog], seed, faults: { messageDelayMs: [0, 20], storageDelayMs: [1, 10] } });
  try {
    const users = await Promise.all(['ann', 'bob', 'cy'].map((name) => cluster.newClient(name)));
    await Promise.all(users.map(async (user) => {
      for (let i = 0; i < 10; i++) await user.getGrain<Tally>(grain.grainType!, 't').add(1);
    }));
    await cluster.runUntilQuiet();
    if (process.env.DEBUG_TALLY) console.log(cluster.history.map((e) => `${e.client} ${e.method} ${e.ok ? e.value : e.error?.message} ${e.start}..${e.end}`).join('\n'));
    return checkLinearizable(cluster.history, { grain: grain.grainType!, model: tallyModel });
  } finally {
    await cluster.stop();
  }
}

describe('a reentrancy bug, found by simulation', () => {
  let seed = 1;
  afterEach(() => { seed++; });

  it('the reentrant read-await-write grain loses updates, and the checker says where', async () => {
    const r = await run(Tally, 2026);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.grain).toBe('Tally/t');
    expect(r.explanation).toMatch(/add\(1\) → \d+/);
    expect(r.explanation).toMatch(/could not be placed/);
    console.log(r.explanation);
  });

  it('the fixed grain passes the same simulation, for many seeds', async () => {
    for (let s = 1; s <= 20; s++) {
      const r = await run(FixedTally, s);
      expect(r.ok, r.ok ? '' : `seed ${s}: ${r.explanation}`).toBe(true);
    }
  });
});
