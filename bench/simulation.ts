/**
 * Deterministic simulation (TestCluster with a seed): how fast simulated time runs, and how
 * long one seed of the bank invariant takes.
 *
 *  - Simulated seconds per wall second: a 3-silo cluster, 8 clients, an open loop of 1,000
 *    calls per simulated second (one `Counter.add` per simulated ms over 100 keys, messages
 *    delayed 0–5 ms) for 5 simulated seconds, then until quiet. The limit is real time
 *    (1×): a simulation slower than that would be no faster than a real cluster.
 *  - One seed of the bank invariant: 2,000 transfers between 20 accounts from 8 clients
 *    under dropped messages, storage errors and delays, with silo crashes; wall time of the
 *    whole seed (set-up, transfers, recovery wait, read-back). Target ≤ 2 s per seed.
 * Rounds alternate the two (ABAB…), seeds 1..ROUNDS.
 */
import { Grain, InvalidArgumentError, TransactionAbortedError, type TransactionalState } from 'granary';
import { TestCluster } from 'granary/testing';
import { figure, fmtMs, heading } from './support.js';

const ROUNDS = 3;

class Counter extends Grain<{ value: number }> {
  static grainType = 'Counter';
  protected override initialState() { return { value: 0 }; }
  async add(n: number): Promise<number> {
    const value = (this.state.value += n);
    await this.writeState();
    return value;
  }
}

/** The sample bank (grains/account.ts), declared here so the bench imports granary only once. */
class Account extends Grain {
  static grainType = 'Account';
  static transactions = { deposit: 'join', withdraw: 'join', balance: 'createOrJoin' } as const;
  private readonly bal: TransactionalState<number> = this.transactionalState('balance', () => 0);
  async deposit(n: number) { await this.bal.update((b) => b + n); }
  async withdraw(n: number) { await this.bal.update((b) => { if (b < n) throw new Error('insufficient funds'); return b - n; }); }
  async balance(): Promise<number> { return this.bal.read(); }
}

class Ledger extends Grain {
  static grainType = 'Ledger';
  static transactions = { record: 'join' } as const;
  private readonly log: TransactionalState<Record<string, number>> = this.transactionalState('entries', () => ({}));
  async record(id: string, amount: number): Promise<void> {
    await this.log.update((log) => {
      if (Object.prototype.hasOwnProperty.call(log, id)) throw new InvalidArgumentError(`transfer ${id} is already recorded`);
      return { ...log, [id]: amount };
    });
  }
}

class Bank extends Grain {
  static grainType = 'Bank';
  static reentrant = true;
  async transfer(from: string, to: string, amount: number, id: string): Promise<void> {
    await this.transaction(async () => {
      await this.getGrain(Account, from).withdraw(amount);
      await this.getGrain(Account, to).deposit(amount);
      await this.getGrain(Ledger, from).record(id, amount);
    });
  }
  async total(keys: string[]): Promise<number> {
    return this.transaction(async () => (await Promise.all(keys.map((k) => this.getGrain(Account, k).balance()))).reduce((a, b) => a + b, 0));
  }
}

async function simulatedSpeed(seed: number): Promise<number> {
  const cluster = await TestCluster.start({ silos: 3, grains: [Counter], seed, faults: { messageDelayMs: [0, 5] } });
  try {
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => cluster.newClient(`u${i}`)));
    const wall = performance.now();
    const start = cluster.clock.now();
    for (let i = 0; i < 5_000; i++) {
      void users[i % users.length]!.getGrain(Counter, `k${i % 100}`).add(1).catch(() => undefined);
      await cluster.sleep(1);
    }
    await cluster.runUntilQuiet();
    const failed = cluster.history.filter((e) => !e.ok).length;
    if (failed > 0) throw new Error(`${failed} calls failed without faults; ${cluster.seedNote}`);
    return (cluster.clock.now() - start) / (performance.now() - wall);
  } finally {
    await cluster.stop();
  }
}

async function bankSeed(seed: number): Promise<number> {
  const wall = performance.now();
  const cluster = await TestCluster.start({ silos: 3, grains: [Account, Ledger, Bank], seed, responseTimeoutMs: 2_000 });
  try {
    const keys = Array.from({ length: 20 }, (_, i) => `a${i}`);
    for (const k of keys) await cluster.client.transaction(() => cluster.client.getGrain(Account, k).deposit(100));
    cluster.setFaults({ messageDelayMs: [0, 20], messageDropRate: 0.01, storageErrorRate: 0.02, storageDelayMs: [0, 5] });
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => cluster.newClient(`u${i}`)));
    let next = 0;
    let aborted = 0;
    await Promise.all(users.map(async (u, ui) => {
      while (next < 2_000) {
        const i = next++;
        if (ui === 0 && cluster.random.chance(0.005)) {
          await cluster.killSilo(cluster.random.int(0, cluster.silos.length - 1));
          await cluster.startSilo();
        }
        const from = cluster.random.pick(keys);
        const to = keys[(keys.indexOf(from) + cluster.random.int(1, keys.length - 1)) % keys.length]!;
        try { await u.getGrain(Bank, `b${i % 4}`).transfer(from, to, cluster.random.int(1, 40), `t${i}`); } catch (err) { if (err instanceof TransactionAbortedError) aborted++; }
      }
    }));
    cluster.setFaults({});
    await cluster.heal();
    await cluster.runUntilQuiet();
    await cluster.sleep(15_000);
    let total: number | undefined;
    for (let attempt = 0; total === undefined && attempt < 10; attempt++) {
      total = await cluster.client.getGrain(Bank, 'audit').total(keys).catch(async () => { await cluster.sleep(2_000); return undefined; });
    }
    if (total !== 2_000) throw new Error(`money not conserved: ${total} instead of 2000; ${cluster.seedNote}`);
    return performance.now() - wall;
  } finally {
    await cluster.stop();
  }
}

heading('deterministic simulation (TestCluster with a seed)');
const speed: number[] = [];
const bank: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  speed.push(await simulatedSpeed(round));
  bank.push(await bankSeed(round));
}
figure('simulated s per wall s (3 silos, 1k calls/s)', speed, { fmt: (x) => `${x.toFixed(2)}×`, target: { atLeast: 1 }, note: 'limit: real time (1×)' });
figure('bank invariant seed, 2,000 transfers', bank, { fmt: fmtMs, target: { atMost: 2_000 } });
