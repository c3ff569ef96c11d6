/** Grains only the Workers tests need (besides the shared fixtures and samples). */
import { Grain } from 'granary';
import { Account } from '../../grains/index.js';

/** Calls back into itself from `onActivate`: the call can never run (DeadlockError at once). */
export class Cyclic extends Grain {
  override async onActivate(): Promise<void> {
    await this.getGrain(Echo, this.key).callBack();
  }
  async hello(): Promise<string> { return 'hi'; }
}

export class Echo extends Grain {
  async callBack(): Promise<string> { return this.getGrain(Cyclic, this.key).hello(); }
}

/** A hand-counted activation id: tells a fresh activation from a kept one. */
export class Incarnation extends Grain<{ n: number }> {
  private readonly born = crypto.randomUUID(); // an identity, not a workload: no seed
  protected override initialState() { return { n: 0 }; }
  async whoAmI(): Promise<string> { return this.born; }
  async bump(): Promise<number> { this.state.n++; await this.writeState(); return this.state.n; }
}

/** Funds accounts (a transaction with one participant: it commits in the account's own state). */
export class Mint extends Grain {
  static reentrant = true;
  async fund(account: string, amount: number): Promise<number> {
    return this.transaction(async () => {
      await this.getGrain(Account, account).deposit(amount);
      return this.getGrain(Account, account).balance();
    });
  }
}

/** State of a chosen size. */
export class Blob extends Grain<{ data: string }> {
  protected override initialState() { return { data: '' }; }
  async fill(bytes: number): Promise<number> {
    this.state.data = 'x'.repeat(bytes);
    await this.writeState();
    return this.state.data.length;
  }
  async size(): Promise<number> { return this.state.data.length; }
}

export const workerTestGrains = [Cyclic, Echo, Incarnation, Mint, Blob];
