/**
 * The bank of the API contract: `Account` exactly as API.md shows it, a `Ledger` that
 * records each transfer once, and a `Bank` that moves money between accounts in one
 * transaction it coordinates itself (`this.transaction`).
 */
import { z } from 'zod';
import { Grain, InvalidArgumentError, type TransactionalState } from '../runtime/index.js';

/** Money is a whole, non-negative amount (cents): no strings, no negative deposits. */
const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const accountKey = z.string().min(1).max(1024);
/** A transfer id names a ledger entry: a bounded string. */
const transferId = z.string().min(1).max(128);

export class Account extends Grain {
  static transactions = { deposit: 'join', withdraw: 'join', balance: 'createOrJoin' } as const;
  static schemas = { deposit: [amount], withdraw: [amount], balance: [] };
  private readonly bal: TransactionalState<number> = this.transactionalState('balance', () => 0);

  async deposit(n: number) { await this.bal.update(b => b + n); }
  async withdraw(n: number) {
    await this.bal.update(b => { if (b < n) throw new Error('insufficient funds'); return b - n; });
  }
  async balance(): Promise<number> { return this.bal.read(); }
}

export interface LedgerEntry {
  id: string;
  from: string;
  to: string;
  amount: number;
}

/** Transfers recorded in the same transaction that moves the money: each one exactly once. */
export class Ledger extends Grain {
  static transactions = { record: 'join', entries: 'createOrJoin' } as const;
  static schemas = {
    record: [z.object({ id: transferId, from: accountKey, to: accountKey, amount: amount.positive() })],
    entries: [],
  };
  private readonly log: TransactionalState<Record<string, LedgerEntry>> = this.transactionalState('entries', () => ({}));

  async record(entry: LedgerEntry): Promise<void> {
    await this.log.update((log) => {
      if (Object.prototype.hasOwnProperty.call(log, entry.id)) {
        throw new InvalidArgumentError(`transfer ${entry.id} is already in the ledger of ${this.key}`, { code: 'duplicate_transfer' });
      }
      // An own property whatever the id (`__proto__` included: never the prototype).
      Object.defineProperty(log, entry.id, { value: entry, enumerable: true, writable: true, configurable: true });
      return log;
    });
  }
  async entries(): Promise<LedgerEntry[]> { return Object.values(await this.log.read()); }
}

/** Moves money between accounts; stateless, so calls interleave (`reentrant`). */
export class Bank extends Grain {
  static reentrant = true;
  static schemas = {
    transfer: [accountKey, accountKey, amount.positive(), transferId.optional()],
    total: [z.array(accountKey).max(1_000)],
  };

  /**
   * Withdraws from `from` and deposits to `to` atomically; with `transferId`, records the
   * transfer in `from`'s ledger in the same transaction. Rejects with
   * `TransactionAbortedError` (e.g. cause "insufficient funds") and changes nothing.
   */
  async transfer(from: string, to: string, amount: number, transferId?: string): Promise<void> {
    if (!(amount > 0)) throw new InvalidArgumentError(`transfer amount must be positive (got ${amount})`);
    await this.transaction(async () => {
      await this.getGrain(Account, from).withdraw(amount);
      await this.getGrain(Account, to).deposit(amount);
      if (transferId !== undefined) await this.getGrain(Ledger, from).record({ id: transferId, from, to, amount });
    });
  }

  /** The total of several accounts, read in one transaction (a consistent snapshot). */
  async total(accounts: string[]): Promise<number> {
    return this.transaction(async () => {
      const balances = await Promise.all(accounts.map((a) => this.getGrain(Account, a).balance()));
      return balances.reduce((s, b) => s + b, 0);
    });
  }
}
