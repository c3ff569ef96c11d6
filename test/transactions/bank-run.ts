/**
 * The bank workload and its checks, shared by the TestCluster run (bank.ts) and the
 * multi-process run (processes.test.ts).
 */
import { expect } from 'vitest';
import { TransactionAbortedError, type GrainClient } from 'granary';
import { Account, Bank, Ledger, type LedgerEntry } from '../../grains/index.js';

export type Outcome = 'ok' | 'aborted' | 'unknown';

export interface BankRun {
  outcome: Map<string, Outcome>;
  insufficient: number;
}

export interface BankRunOptions {
  clients: GrainClient[];
  keys: string[];
  transfers: number;
  /** Indexes of the transfers before which `crash` runs (from inside the load). */
  crashAt: Set<number>;
  crash(): Promise<void>;
  /** Timeout of client-coordinated transfers. */
  timeoutMs?: number;
}

/**
 * Random transfers from every client until `transfers` were attempted: even ones coordinated
 * by the client (withdraw, deposit, ledger entry), odd ones by a Bank grain. Each records
 * its outcome: acknowledged, aborted (`TransactionAbortedError`), or unknown (anything else,
 * e.g. the Bank's silo died under the call).
 */
export async function runBank(o: BankRunOptions): Promise<BankRun> {
  const outcome = new Map<string, Outcome>();
  let insufficient = 0;
  let next = 0;
  const n = o.keys.length;
  const worker = async (client: GrainClient, w: number) => {
    for (;;) {
      const i = next++;
      if (i >= o.transfers) return;
      if (o.crashAt.has(i)) await o.crash();
      const from = o.keys[Math.floor(Math.random() * n)]!;
      let to = o.keys[Math.floor(Math.random() * (n - 1))]!;
      if (to === from) to = o.keys[n - 1]!;
      const amount = 1 + Math.floor(Math.random() * 60);
      const id = `t${i}`;
      try {
        if (i % 2 === 0) {
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
        if (err instanceof TransactionAbortedError) {
          outcome.set(id, 'aborted');
          if (err.message.includes('insufficient funds')) insufficient++;
        } else {
          outcome.set(id, 'unknown');
        }
      }
    }
  };
  await Promise.all(o.clients.map((c, w) => worker(c, w)));
  return { outcome, insufficient };
}

/**
 * The invariants: total conserved, nothing negative, the ledger explains every balance (each
 * recorded transfer moved its money exactly once, nothing moved unrecorded), every
 * acknowledged transfer is in the ledger, no aborted one is.
 */
export function verifyBank(label: string, run: BankRun, keys: string[], initial: number, final: number[], ledger: LedgerEntry[], transfers: number): void {
  const counts = { ok: 0, aborted: 0, unknown: 0 };
  for (const v of run.outcome.values()) counts[v]++;
  // eslint-disable-next-line no-console
  console.log(`[${label}] bank: ${JSON.stringify(counts)}, insufficient funds ${run.insufficient}, ledger ${ledger.length}`);
  expect(run.outcome.size).toBe(transfers);
  expect(run.insufficient).toBeGreaterThan(0);
  expect(counts.ok).toBeGreaterThan(transfers / 10);
  expect(final.reduce((x, y) => x + y, 0)).toBe(keys.length * initial);
  for (const b of final) expect(b).toBeGreaterThanOrEqual(0);
  const ids = new Set<string>();
  const expected = new Map(keys.map((k) => [k, initial]));
  for (const e of ledger) {
    expect(ids.has(e.id), `transfer ${e.id} recorded once`).toBe(false);
    ids.add(e.id);
    expected.set(e.from, expected.get(e.from)! - e.amount);
    expected.set(e.to, expected.get(e.to)! + e.amount);
  }
  expect(final).toEqual(keys.map((k) => expected.get(k)));
  for (const [id, v] of run.outcome) {
    if (v === 'ok') expect(ids.has(id), `acknowledged ${id} is in the ledger`).toBe(true);
    if (v === 'aborted') expect(ids.has(id), `aborted ${id} is not in the ledger`).toBe(false);
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
