/**
 * Granary's own invariants as seeded simulations: each scenario runs one seed and returns
 * what it found (`problems` empty when every invariant held). The suite runs a CI budget of
 * seeds (invariants.test.ts); `npm run sim -- --seeds 10000` runs more.
 */
import { TransactionAbortedError } from '../../runtime/index.js';
import { Status } from '../../runtime/activation.js';
import { checkLinearizable, TestCluster, type LinearizabilityModel, type SimulationFaults } from '../../testing.js';
import { Account, Bank, Counter, Ledger } from '../../grains/index.js';

export interface ScenarioResult {
  seed: number;
  /** Invariants that failed, each a readable paragraph naming the seed. */
  problems: string[];
  /** Figures for the log: calls made, simulated ms, faults seen. */
  stats: Record<string, number>;
}

/** The sequential specification of the sample Counter. */
export const counterModel: LinearizabilityModel<number> = {
  init: () => 0,
  step: (s, method, args) => (method === 'add' ? [s + (args[0] as number), s + (args[0] as number)] : [s, s]),
};

/** Faults every scenario runs under. */
export const chaosFaults: SimulationFaults = {
  messageDelayMs: [0, 20],
  messageDropRate: 0.01,
  // Requests delivered twice: calls carry ids, and a second delivery gets the first's outcome.
  messageDuplicateRate: 0.02,
  storageErrorRate: 0.02,
  storageDelayMs: [0, 5],
};

/**
 * One step of chaos, chosen by the cluster's seed: a silo crashes and a new one starts (1 in
 * 4), the silos split in two (1 in 4), one pauses for 0.1–1.5 s (1 in 5), or all heal.
 */
async function chaosStep(cluster: TestCluster): Promise<void> {
  const r = cluster.random.next();
  if (r < 0.25 && cluster.silos.length > 1) {
    await cluster.killSilo(cluster.random.int(0, cluster.silos.length - 1));
    await cluster.startSilo();
  } else if (r < 0.5 && cluster.silos.length > 1) {
    const cut = cluster.random.int(1, cluster.silos.length - 1);
    const all = cluster.silos.map((_, i) => i);
    await cluster.partition(all.slice(0, cut), all.slice(cut));
  } else if (r < 0.7) {
    await cluster.pauseSilo(cluster.random.int(0, cluster.silos.length - 1), cluster.random.int(100, 1_500));
  } else {
    await cluster.heal();
  }
}

/**
 * Chaos steps every 20–200 ms of simulated time while `active()`; `after` runs after each.
 * Resolves with the number of steps taken.
 */
export async function chaosWhile(cluster: TestCluster, active: () => boolean, after?: (step: number) => void): Promise<number> {
  let steps = 0;
  while (active()) {
    await cluster.sleep(cluster.random.int(20, 200));
    if (!active()) break;
    await chaosStep(cluster);
    steps++;
    after?.(steps);
  }
  return steps;
}

/** The sample Counter, idle after 300 ms: it deactivates and comes back many times in a run. */
class ChurningCounter extends Counter {
  static override idleTimeoutMs = 300;
}

/**
 * Silos crash and come back, partition and heal, pause, while clients call counters.
 * Between steps: no grain is active on two silos at once. At the end: the counters'
 * history is linearizable (a second activation would serve stale reads or lose updates).
 */
export async function singleActivation(seed: number, options: { clients?: number; calls?: number; faults?: SimulationFaults } = {}): Promise<ScenarioResult> {
  // Short idle timeouts and a fine collector: grains deactivate and come back mid-run, so
  // activation, deactivation and directory races happen under the faults too.
  const cluster = await TestCluster.start({
    silos: 3, grains: [ChurningCounter], seed, faults: options.faults ?? chaosFaults, responseTimeoutMs: 1_000,
    collectionQuantumMs: 50,
  });
  const problems: string[] = [];
  const keys = ['k0', 'k1', 'k2', 'k3'];
  const start = cluster.clock.now();
  let chaos = 0;
  const checkSingle = (when: string) => {
    for (const key of keys) {
      const holders = cluster.silos.filter((s) => {
        const act = s.catalog.get(`Counter/${key}`);
        return act !== undefined && act.status === Status.Valid;
      });
      if (holders.length > 1) problems.push(`Counter/${key} is active on ${holders.length} silos ${when}; ${cluster.seedNote}`);
    }
  };
  try {
    const users = await Promise.all(Array.from({ length: options.clients ?? 4 }, (_, i) => cluster.newClient(`u${i}`)));
    let running = users.length;
    const chaosLoop = chaosWhile(cluster, () => running > 0, (step) => checkSingle(`after chaos step ${step}`));
    await Promise.all(users.map(async (u) => {
      for (let i = 0; i < (options.calls ?? 15); i++) {
        const ref = u.getGrain(ChurningCounter, cluster.random.pick(keys));
        try {
          if (cluster.random.chance(0.7)) await ref.add(cluster.random.int(1, 3));
          else await ref.get();
        } catch { /* a failed call is in the history: maybe applied */ }
        checkSingle(`after a call by ${u === users[0] ? 'u0' : 'a client'}`);
      }
      running--;
    }));
    chaos = await chaosLoop;
    await cluster.heal();
    await cluster.runUntilQuiet();
    checkSingle('at the end');
    const lin = checkLinearizable(cluster.history, { grain: 'Counter', model: counterModel });
    if (!lin.ok) problems.push(`${lin.explanation}\n${cluster.seedNote}`);
    return {
      seed, problems,
      stats: { calls: cluster.history.length, failed: cluster.history.filter((e) => !e.ok).length, chaos, simulatedMs: cluster.clock.now() - start },
    };
  } finally {
    await cluster.stop();
  }
}

/**
 * Transfers between accounts under faults, crashes, partitions and pauses. At the end: money is conserved
 * (the total, read in a transaction, is what was deposited), no balance is negative, each
 * account's balance is its deposit plus what its ledger entries say it received minus what
 * it sent, a transfer that reported success is in the ledger, and an aborted one is not.
 */
export async function bankInvariant(seed: number, options: { transfers?: number; accounts?: number; clients?: number; crashes?: boolean; faults?: SimulationFaults } = {}): Promise<ScenarioResult> {
  const cluster = await TestCluster.start({ silos: 3, grains: [Account, Ledger, Bank], seed, faults: {}, responseTimeoutMs: 2_000 });
  const problems: string[] = [];
  const start = cluster.clock.now();
  const n = options.accounts ?? 6;
  const keys = Array.from({ length: n }, (_, i) => `acct${i}`);
  const initial = 100;
  const outcome = new Map<string, 'ok' | 'aborted' | 'unknown'>();
  const sent = new Map<string, { from: string; to: string; amount: number }>();
  try {
    // Set-up without faults: every account gets its deposit, exactly once.
    for (const k of keys) await cluster.client.transaction(() => cluster.client.getGrain(Account, k).deposit(initial));
    cluster.setFaults(options.faults ?? chaosFaults);
    const transfers = options.transfers ?? 40;
    const clients = options.clients ?? 4;
    const users = await Promise.all(Array.from({ length: clients }, (_, i) => cluster.newClient(`u${i}`)));
    let next = 0;
    let crashes = 0;
    let disruptions = 0;
    await Promise.all(users.map(async (u, ui) => {
      while (next < transfers) {
        const i = next++;
        const id = `t${i}`;
        const from = cluster.random.pick(keys);
        let to = cluster.random.pick(keys);
        if (to === from) to = keys[(keys.indexOf(from) + 1) % n]!;
        const amount = cluster.random.int(1, 40);
        sent.set(id, { from, to, amount });
        if (options.crashes !== false && ui === 0 && cluster.random.chance(0.03) && cluster.silos.length > 1) {
          crashes++;
          await cluster.killSilo(cluster.random.int(0, cluster.silos.length - 1));
          await cluster.startSilo();
        }
        if (ui === 1 && cluster.random.chance(0.05)) {
          // A partition, a pause longer or shorter than the call timeout, or the end of both.
          const r = cluster.random.next();
          const all = cluster.silos.map((_, s) => s);
          if (r < 0.3) { const cut = cluster.random.int(1, all.length - 1); await cluster.partition(all.slice(0, cut), all.slice(cut)); }
          else if (r < 0.6) await cluster.pauseSilo(cluster.random.int(0, all.length - 1), cluster.random.int(100, 4_000));
          else await cluster.heal();
          disruptions++;
        }
        try {
          await u.getGrain(Bank, cluster.random.pick(['b0', 'b1'])).transfer(from, to, amount, id);
          outcome.set(id, 'ok');
        } catch (err) {
          outcome.set(id, err instanceof TransactionAbortedError ? 'aborted' : 'unknown');
        }
      }
    }));
    cluster.setFaults({});
    await cluster.heal();
    await cluster.runUntilQuiet();
    // A participant whose commit or abort message was lost keeps its locks until the
    // transaction's deadline plus the recovery grace (10 s + 2 s), then settles it itself.
    await cluster.sleep(15_000);
    await cluster.runUntilQuiet();

    // Read back, retrying reads that lose a race with recovery.
    const read = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      for (let attempt = 0; attempt < 10; attempt++) {
        try { return await fn(); } catch (err) { if (attempt === 9) problems.push(`reading ${what} failed: ${(err as Error).message}; ${cluster.seedNote}`); await cluster.sleep(2_000); }
      }
      return undefined;
    };
    const total = await read('the total', () => cluster.client.getGrain(Bank, 'audit').total(keys));
    if (total !== undefined && total !== initial * n) problems.push(`money is not conserved: the accounts hold ${total}, ${initial * n} was deposited; ${cluster.seedNote}`);
    const expected = new Map(keys.map((k) => [k, initial]));
    const inLedger = new Set<string>();
    for (const k of keys) {
      const entries = await read(`the ledger of ${k}`, () => cluster.client.getGrain(Ledger, k).entries());
      for (const e of entries ?? []) {
        inLedger.add(e.id);
        expected.set(e.from, expected.get(e.from)! - e.amount);
        expected.set(e.to, expected.get(e.to)! + e.amount);
      }
    }
    for (const k of keys) {
      const balance = await read(`the balance of ${k}`, () => cluster.client.transaction(() => cluster.client.getGrain(Account, k).balance()));
      if (balance === undefined) continue;
      if (balance < 0) problems.push(`${k} has a negative balance ${balance}; ${cluster.seedNote}`);
      if (balance !== expected.get(k)) problems.push(`${k} holds ${balance}, but its deposit and the ledger say ${expected.get(k)}; ${cluster.seedNote}`);
    }
    for (const [id, o] of outcome) {
      if (o === 'ok' && !inLedger.has(id)) problems.push(`transfer ${id} ${JSON.stringify(sent.get(id))} reported success but is not in the ledger; ${cluster.seedNote}`);
      if (o === 'aborted' && inLedger.has(id)) problems.push(`transfer ${id} ${JSON.stringify(sent.get(id))} was reported aborted but is in the ledger; ${cluster.seedNote}`);
    }
    const count = (o: string) => [...outcome.values()].filter((v) => v === o).length;
    return { seed, problems, stats: { ok: count('ok'), aborted: count('aborted'), unknown: count('unknown'), crashes, disruptions, simulatedMs: cluster.clock.now() - start } };
  } finally {
    await cluster.stop();
  }
}
