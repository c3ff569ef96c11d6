/**
 * The bank workload and its checks, shared by the TestCluster run (bank.ts) and the
 * multi-process run (processes.test.ts).
 */
import { expect } from 'vitest';
import { TransactionAbortedError, type GrainClient } from 'granary';
import { Account, Bank, Ledger, type LedgerEntry } from '../../grains/index.js';
import { seedNote, workloadRandom } from '../support/random.js';

export type Outcome = 'ok' | 'aborted' | 'unknown';

export interface BankRun {
  /** The seed setting that repeats the same transfers and crash victims (`GRANARY_TEST_SEED=…`). */
  seed: string;
  outcome: Map<string, Outcome>;
  insufficient: number;
  /** Transfers that failed with an error no scenario of this run explains (the run fails on any). */
  unexpected: { id: string; coordinator: Coordinator; error: string }[];
}

type Coordinator = 'client' | 'bank';

/**
 * The errors a transfer may legitimately end with, besides `TransactionAbortedError` (a
 * conflict, insufficient funds, a participant lost before the commit point: nothing applied),
 * by error code, with why. Their outcome is unknown: the ledger says whether they committed.
 */
const UNKNOWN_OUTCOME: Record<Coordinator, Record<string, string>> = {
  // `client.transaction` turns every failure inside fn into an abort and settles a lost
  // commit through the participants; only when none of them can be reached is it in doubt.
  client: {
    transaction_in_doubt: 'the manager was killed during the commit and no participant could settle the outcome in time',
  },
  bank: {
    // The call to the Bank grain (the coordinator) was in flight when its silo was killed:
    // the transfer may or may not have committed.
    silo_unavailable: 'the Bank grain\'s silo was killed while the call to it was in flight',
    // As for the client, seen through the Bank's call (the class does not cross the wire, the code does).
    transaction_in_doubt: 'the Bank lost its manager during the commit and could not settle the outcome',
  },
};

export interface BankRunOptions {
  clients: GrainClient[];
  keys: string[];
  transfers: number;
  /** Indexes of the transfers before which `crash` runs (from inside the load). */
  crashAt: Set<number>;
  /** Kills (and replaces) a silo; `random` is seeded, so the victims repeat with the seed. */
  crash(random: () => number): Promise<void>;
  /** Timeout of client-coordinated transfers. */
  timeoutMs?: number;
}

interface Transfer { id: string; from: string; to: string; amount: number }

/** The transfers of the file's seed, in index order (so the workload does not depend on the schedule). */
function plan(keys: string[], transfers: number): Transfer[] {
  const random = workloadRandom('bank: transfers');
  const n = keys.length;
  return Array.from({ length: transfers }, (_, i) => {
    const from = keys[Math.floor(random() * n)]!;
    let to = keys[Math.floor(random() * (n - 1))]!;
    if (to === from) to = keys[n - 1]!;
    return { id: `t${i}`, from, to, amount: 1 + Math.floor(random() * 60) };
  });
}

/**
 * Random transfers from every client until `transfers` were attempted: even ones coordinated
 * by the client (withdraw, deposit, ledger entry), odd ones by a Bank grain. Each records
 * its outcome: acknowledged, aborted (`TransactionAbortedError`), or unknown (an error listed
 * in `UNKNOWN_OUTCOME`); any other error is collected in `unexpected`. The seed fixes which
 * transfers are made and which silos crash; the interleaving is the machine's.
 */
export async function runBank(o: BankRunOptions): Promise<BankRun> {
  const seed = seedNote();
  const work = plan(o.keys, o.transfers);
  const crashRandom = workloadRandom('bank: crash victims');
  const outcome = new Map<string, Outcome>();
  const unexpected: BankRun['unexpected'] = [];
  let insufficient = 0;
  let next = 0;
  const worker = async (client: GrainClient, w: number) => {
    for (;;) {
      const i = next++;
      if (i >= o.transfers) return;
      if (o.crashAt.has(i)) await o.crash(crashRandom);
      const { id, from, to, amount } = work[i]!;
      const coordinator: Coordinator = i % 2 === 0 ? 'client' : 'bank';
      try {
        if (coordinator === 'client') {
          await client.transaction(async () => {
            await client.getGrain(Account, from).withdraw(amount);
            await client.getGrain(Account, to).deposit(amount);
            await client.getGrain(Ledger, from).record({ id, from, to, amount });
          }, o.timeoutMs === undefined ? undefined : { timeoutMs: o.timeoutMs });
        } else {
          await client.getGrain(Bank, `bank${w}`).transfer(from, to, amount, id);
        }
        outcome.set(id, 'ok');
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        if (err instanceof TransactionAbortedError) {
          outcome.set(id, 'aborted');
          if (err.message.includes('insufficient funds')) insufficient++;
        } else if (typeof code === 'string' && code in UNKNOWN_OUTCOME[coordinator]) {
          outcome.set(id, 'unknown');
        } else {
          outcome.set(id, 'unknown');
          unexpected.push({ id, coordinator, error: `${(err as Error)?.name} (code ${String(code)}): ${(err as Error)?.message ?? String(err)}` });
        }
      }
    }
  };
  await Promise.all(o.clients.map((c, w) => worker(c, w)));
  return { seed, outcome, insufficient, unexpected };
}

/**
 * The invariants: total conserved, nothing negative, the ledger explains every balance (each
 * recorded transfer moved its money exactly once, nothing moved unrecorded), every
 * acknowledged transfer is in the ledger, no aborted one is.
 */
export function verifyBank(label: string, run: BankRun, keys: string[], initial: number, final: number[], ledger: LedgerEntry[], transfers: number): void {
  const counts = { ok: 0, aborted: 0, unknown: 0 };
  for (const v of run.outcome.values()) counts[v]++;
  const seed = run.seed;
  // eslint-disable-next-line no-console
  console.log(`[${label}] bank (${seed}): ${JSON.stringify(counts)}, insufficient funds ${run.insufficient}, ledger ${ledger.length}`);
  expect(run.unexpected, `errors no scenario of this run explains (${seed})`).toEqual([]);
  expect(run.outcome.size).toBe(transfers);
  expect(run.insufficient, seed).toBeGreaterThan(0);
  expect(counts.ok, seed).toBeGreaterThan(transfers / 10);
  expect(final.reduce((x, y) => x + y, 0), `total conserved (${seed})`).toBe(keys.length * initial);
  for (const b of final) expect(b, `no negative balance (${seed})`).toBeGreaterThanOrEqual(0);
  const ids = new Set<string>();
  const expected = new Map(keys.map((k) => [k, initial]));
  for (const e of ledger) {
    expect(ids.has(e.id), `transfer ${e.id} recorded once (${seed})`).toBe(false);
    ids.add(e.id);
    expected.set(e.from, expected.get(e.from)! - e.amount);
    expected.set(e.to, expected.get(e.to)! + e.amount);
  }
  expect(final, `the ledger explains every balance (${seed})`).toEqual(keys.map((k) => expected.get(k)));
  for (const [id, v] of run.outcome) {
    if (v === 'ok') expect(ids.has(id), `acknowledged ${id} is in the ledger (${seed})`).toBe(true);
    if (v === 'aborted') expect(ids.has(id), `aborted ${id} is not in the ledger (${seed})`).toBe(false);
  }
}

/** Balances in one read-only transaction (a consistent snapshot), retried while locks clear. */
export async function readBank(client: GrainClient, keys: string[], wait: () => Promise<void>, tries = 40): Promise<{ final: number[]; ledger: LedgerEntry[] }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const final = await client.transaction(() => Promise.all(keys.map((k) => client.getGrain(Account, k).balance())));
      const ledger = (await Promise.all(keys.map((k) => client.getGrain(Ledger, k).entries()))).flat();
      return { final, ledger };
    } catch (err) {
      if (!(err instanceof TransactionAbortedError) || attempt >= tries) throw err;
      await wait();
    }
  }
}
