/** Grains for the observability tests: a front that calls a back grain, and a back that throws. */
import { Grain } from '../../index.js';

export class Back extends Grain<{ n: number }> {
  static readonly grainType = 'Back';
  protected override initialState() { return { n: 0 }; }
  async work(): Promise<number> {
    this.state.n++;
    await this.writeState();
    return this.state.n;
  }
  async fail(message: string): Promise<never> {
    throw new RangeError(message);
  }
}

export class Front extends Grain {
  static readonly grainType = 'Front';
  async relay(key: string): Promise<number> {
    return this.getGrain<Back>('Back', key).work();
  }
  /** Does not catch the back grain's exception: it passes up to the caller. */
  async relayFail(key: string, message: string): Promise<never> {
    return this.getGrain<Back>('Back', key).fail(message);
  }
  /** Catches it: nothing reaches the caller from here. */
  async swallow(key: string): Promise<string> {
    try {
      await this.getGrain<Back>('Back', key).fail('swallowed');
    } catch {
      return 'caught';
    }
    return 'not thrown';
  }
}
