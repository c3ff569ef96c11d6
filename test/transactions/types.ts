/**
 * Type-level tests for the transaction API (`tsc` checks this file; every `@ts-expect-error`
 * line must be an error).
 */
import { Grain, GrainClient, type TransactionalState, type TransactionAbortedError } from 'granary';
import { Account, Bank } from '../../grains/index.js';

declare const client: GrainClient;

export async function transactionTypes(): Promise<void> {
  const a = client.getGrain(Account, 'a');
  const v: void = await a.deposit(1);
  const b: number = await a.balance();
  void [v, b];
  const r: number = await client.transaction(async () => {
    await a.withdraw(1);
    return a.balance();
  }, { timeoutMs: 5_000, lockWaitMs: 100 });
  void r;
  // @ts-expect-error Grain's own members are not callable through a reference
  await a.transaction(async () => 1);
  // @ts-expect-error Grain's own members are not callable through a reference
  await a.transactionalState('x', () => 0);
  // @ts-expect-error private state is not part of the reference
  await a.bal;
  // @ts-expect-error wrong argument type
  await a.deposit('1');
  // @ts-expect-error only 'create' | 'createOrJoin' start a transaction from code
  await client.transaction(async () => 1, { option: 'join' });
  await client.getGrain(Bank, 'x').transfer('a', 'b', 1, 't1');
}

/** What a grain author writes: typed state, typed read and update. */
export class Typed extends Grain {
  private readonly s: TransactionalState<{ n: number }> = this.transactionalState('s', () => ({ n: 0 }));
  async get(): Promise<number> { return (await this.s.read()).n; }
  async bump(): Promise<void> {
    await this.s.update((x) => ({ n: x.n + 1 }));
    // @ts-expect-error update returns the new value of the same type
    await this.s.update((x) => x.n);
    const k: number = await this.s.performUpdate((x) => { x.n++; return x.n; });
    void k;
  }
}

export type Aborted = TransactionAbortedError;
