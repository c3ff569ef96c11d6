/** Grains for the transaction tests: one per behaviour under test. */
import { Grain, type TransactionalState } from 'granary';
import { currentScope } from 'granary/internal';

/** One method per transaction option, each adding to (or reading) one transactional state. */
export class Probe extends Grain {
  static transactions = {
    joinAdd: 'join',
    createAdd: 'create',
    createOrJoinAdd: 'createOrJoin',
    supportedAdd: 'supported',
    notAllowedPing: 'notAllowed',
    suppressAdd: 'suppress',
    suppressCall: 'suppress',
    suppressSeesTxn: 'suppress',
    supportedCall: 'supported',
    createThrow: 'create',
    value: 'createOrJoin',
    updateThenThrow: 'join',
    orphan: 'join',
  } as const;
  private readonly n: TransactionalState<number> = this.transactionalState('n', () => 0);

  async joinAdd(k: number): Promise<void> { await this.n.update((v) => v + k); }
  async createAdd(k: number): Promise<void> { await this.n.update((v) => v + k); }
  async createOrJoinAdd(k: number): Promise<void> { await this.n.update((v) => v + k); }
  async supportedAdd(k: number): Promise<void> { await this.n.update((v) => v + k); }
  async notAllowedPing(): Promise<string> { return 'pong'; }
  async suppressAdd(k: number): Promise<void> { await this.n.update((v) => v + k); }
  /** Calls `other.joinAdd`: under `suppress` that call carries no transaction. */
  async suppressCall(other: string, k: number): Promise<void> { await this.getGrain(Probe, other).joinAdd(k); }
  async suppressSeesTxn(): Promise<boolean> { return currentScope()?.ext?.txn !== undefined; }
  async supportedCall(other: string, k: number): Promise<void> { await this.getGrain(Probe, other).joinAdd(k); }
  /** No option: behaves as `supported`. */
  async seesTxn(): Promise<boolean> { return currentScope()?.ext?.txn !== undefined; }
  /** No option, touches the state: only works inside a transaction. */
  async plainRead(): Promise<number> { return this.n.read(); }
  async createThrow(k: number): Promise<void> {
    await this.n.update((v) => v + k);
    throw new Error('create failed');
  }
  async value(): Promise<number> { return this.n.read(); }
  async updateThenThrow(k: number): Promise<void> {
    await this.n.update((v) => v + k);
    throw new Error('after update');
  }
  /** Starts a call inside the transaction and returns without awaiting it. */
  async orphan(other: string, k: number): Promise<void> {
    void this.getGrain(Probe, other).joinAdd(k).catch(() => undefined);
  }
}

/** Two transactional states in one grain: one writer, two items, so commit is two-phase. */
export class Pair extends Grain {
  static transactions = { move: 'createOrJoin', both: 'createOrJoin' } as const;
  private readonly x = this.transactionalState('x', () => 10);
  private readonly y = this.transactionalState('y', () => 0);

  async move(k: number): Promise<void> {
    await this.x.update((v) => v - k);
    await this.y.update((v) => v + k);
  }
  async both(): Promise<[number, number]> { return [await this.x.read(), await this.y.read()]; }
}

/** An account that may go negative: for the write-skew test (the check is the caller's). */
export class Overdraft extends Grain {
  static transactions = { add: 'join', balance: 'createOrJoin' } as const;
  private readonly bal = this.transactionalState('balance', () => 50);
  async add(k: number): Promise<void> { await this.bal.update((v) => v + k); }
  async balance(): Promise<number> { return this.bal.read(); }
}
