/**
 * The bank invariant in a TestCluster: 20 accounts, 8 concurrent clients, random transfers
 * (some fail for insufficient funds), half coordinated by the clients, half by a Bank grain;
 * silos are killed and replaced mid-run (see bank-run.ts for the checks).
 */
import { it } from 'vitest';
import { GrainClient } from 'granary';
import { transactionDefaults } from './imports.js';
import { Account } from '../../grains/index.js';
import { readBank, runBank, verifyBank } from './bank-run.js';
import type { SuiteContext } from './support.js';

export interface BankOptions {
  transfers: number;
  clients?: number;
  accounts?: number;
  /** Kill (and replace) a silo at these fractions of the run. */
  crashesAt?: number[];
}

export function bankInvariant(s: SuiteContext, o: BankOptions): void {
  const clients = o.clients ?? 8;
  const accounts = o.accounts ?? 20;
  const crashesAt = o.crashesAt ?? [0.2, 0.4, 0.6, 0.8];
  it(`bank invariant: ${accounts} accounts, ${clients} clients, ${o.transfers} transfers, ${crashesAt.length} silo crashes`, async () => {
    transactionDefaults.timeoutMs = 5_000;
    const c = await s.start(3);
    const keys = Array.from({ length: accounts }, (_, i) => s.key(`acct${i}`));
    const initial = 100;
    await c.client.transaction(async () => {
      for (const k of keys) await c.client.getGrain(Account, k).deposit(initial);
    });
    const conns = await Promise.all(Array.from({ length: clients }, () => GrainClient.connect({ cluster: c.provider, clock: c.clock })));
    // Time moves on (5x real time), so transactions whose coordinator died reach their deadline.
    let running = true;
    const pump = (async () => {
      while (running) {
        await c.clock.advance(50);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const run = await runBank({
      clients: conns,
      keys,
      transfers: o.transfers,
      crashAt: new Set(crashesAt.map((f) => Math.floor(o.transfers * f))),
      async crash(random) {
        await c.killSilo(Math.floor(random() * c.silos.length));
        await c.startSilo();
      },
    });
    running = false;
    await pump;
    // Whatever is left pending passes its deadline and resolves through its record.
    await c.advanceTime(5_000 + 1_000);
    const { final, ledger } = await readBank(c.client, keys, () => c.advanceTime(1_000));
    verifyBank(s.name, run, keys, initial, final, ledger, o.transfers);
    await Promise.all(conns.map((cl) => cl.close()));
  }, 180_000);
}
