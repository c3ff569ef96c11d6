/**
 * The bank under chaos: loops of random transfers between accounts (even ones coordinated by
 * the client, odd ones by a `Bank` grain), each recorded in the `from` account's ledger in the
 * same transaction, until stopped; then the invariants, as a list of what is violated.
 */
import { SiloUnavailableError, TimeoutError, TransactionAbortedError, TransactionInDoubtError, type GrainClient } from 'granary';
import { Account, Bank, Ledger, type LedgerEntry } from '../../grains/index.js';
import type { Outcomes } from '../support/chaos-load.js';

export interface BankLoadOptions {
  clients: GrainClient[];
  loops: number;
  accounts: string[];
  outcomes: Outcomes;
  /** Seeded: picks the accounts and amounts. */
  random: () => number;
  /** Timeout of client-coordinated transfers. */
  timeoutMs: number;
}

type Settled = 'ok' | 'aborted' | 'failed';

/** A clean abort (nothing applied, the caller is told so): not a failed call. */
const isFailure = (err: unknown): boolean => !(err instanceof TransactionAbortedError) && !outcomeUnknown(err);

/**
 * A Bank grain's transfer re-sent after its silo died is not run again, because its first run
 * may have committed (docs/exactly-once.md, "Calls that still fail"): a call that cannot be
 * retried safely, so not a failed call that could be; whether it committed is the ledger's to say.
 */
const outcomeUnknown = (err: unknown): boolean => (err instanceof SiloUnavailableError && (err.data as { reason?: unknown } | undefined)?.reason === 'transaction_not_rerun')
  // A client-coordinated transfer whose manager died after the commit may have begun: its
  // outcome is unknown to the caller (docs/transactions.md, "In doubt"), so it cannot be retried
  // safely either.
  || err instanceof TransactionInDoubtError
  // A transfer that outran its caller's deadline (lock waits behind a killed silo's prepared
  // transactions, a NATS restart): it may still commit, so it cannot be retried safely. The
  // counters have no such excuse: any failure of theirs counts.
  || err instanceof TimeoutError;

export class BankLoad {
  /** Each transfer's outcome: `failed` ones may or may not have committed (the ledger says). */
  readonly settled = new Map<string, Settled>();
  /** Why each transfer aborted or failed, and who coordinated it (for the violations' messages). */
  private readonly why = new Map<string, string>();
  /** Why transfers aborted, by the start of the message. */
  readonly abortReasons = new Map<string, number>();
  /** Transfers whose outcome the caller cannot know (a Bank-grain transfer re-sent after a crash and not run again, or in doubt): the ledger's to say. */
  outcomeUnknown = 0;
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: BankLoadOptions) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.o.loops }, (_, l) => this.loop(l));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(l: number): Promise<void> {
    const client = this.o.clients[l % this.o.clients.length]!;
    const n = this.o.accounts.length;
    for (let i = 0; this.running; i++) {
      const id = `t${l}-${i}`;
      const from = this.o.accounts[Math.floor(this.o.random() * n)]!;
      let to = this.o.accounts[Math.floor(this.o.random() * (n - 1))]!;
      if (to === from) to = this.o.accounts[n - 1]!;
      const amount = 1 + Math.floor(this.o.random() * 60);
      const byClient = i % 2 === 0;
      const r = await this.o.outcomes.track(byClient ? 'transfer (client)' : 'transfer (Bank grain)', id, () => byClient
        ? client.transaction(async () => {
          await client.getGrain(Account, from).withdraw(amount);
          await client.getGrain(Account, to).deposit(amount);
          await client.getGrain(Ledger, from).record({ id, from, to, amount });
        }, { timeoutMs: this.o.timeoutMs })
        : client.getGrain(Bank, `bank${l}`).transfer(from, to, amount, id), isFailure);
      if (!r.ok) this.why.set(id, `${byClient ? 'client-coordinated' : 'by the Bank grain'}, ${(r.error as Error)?.name}: ${String((r.error as Error)?.message ?? r.error).slice(0, 200)}`);
      if (r.ok) this.settled.set(id, 'ok');
      else if (outcomeUnknown(r.error)) {
        this.settled.set(id, 'failed');
        this.outcomeUnknown++;
      } else if (!isFailure(r.error)) {
        this.settled.set(id, 'aborted');
        // Grouped by what happened, not by which transaction or account.
        const why = String((r.error as Error).message).replace(/transaction \S+/g, 'transaction …').replace(/\bt\d+-\d+\b/g, 't…').replace(/acct\d+/g, 'acct…').replace(/\b[0-9A-HJKMNP-TV-Z]{26}\b/g, '…').slice(0, 160);
        this.abortReasons.set(why, (this.abortReasons.get(why) ?? 0) + 1);
      } else {
        this.settled.set(id, 'failed');
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }

  counts(): Record<Settled, number> {
    const c = { ok: 0, aborted: 0, failed: 0 };
    for (const v of this.settled.values()) c[v]++;
    return c;
  }

  /**
   * What is violated of: total conserved, no negative balance, each transfer in the ledger at
   * most once, the ledger explains every balance, every acknowledged transfer is in the ledger
   * and no aborted one is. Empty: all hold.
   */
  violations(initial: number, final: number[], ledger: LedgerEntry[]): string[] {
    const out: string[] = [];
    const keys = this.o.accounts;
    const total = final.reduce((a, b) => a + b, 0);
    if (total !== keys.length * initial) out.push(`total ${total}, expected ${keys.length * initial} (money created or destroyed)`);
    final.forEach((b, i) => { if (b < 0) out.push(`${keys[i]} has a negative balance ${b}`); });
    const ids = new Set<string>();
    const expected = new Map(keys.map((k) => [k, initial]));
    for (const e of ledger) {
      if (ids.has(e.id)) out.push(`transfer ${e.id} is in the ledger twice`);
      ids.add(e.id);
      expected.set(e.from, expected.get(e.from)! - e.amount);
      expected.set(e.to, expected.get(e.to)! + e.amount);
    }
    keys.forEach((k, i) => { if (final[i] !== expected.get(k)) out.push(`${k}: balance ${final[i]}, the ledger explains ${expected.get(k)}`); });
    for (const [id, v] of this.settled) {
      if (v === 'ok' && !ids.has(id)) out.push(`acknowledged transfer ${id} is not in the ledger`);
      if (v === 'aborted' && ids.has(id)) out.push(`aborted transfer ${id} is in the ledger (it committed; its caller was told it aborted: ${this.why.get(id)})`);
    }
    return out;
  }
}
