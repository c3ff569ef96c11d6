/** Grains with literal type names and their registry, for the type-level tests in refs.ts. */
import { Grain, defineGrains } from 'granary';

export class Tally extends Grain<{ n: number }> {
  static readonly grainType = 'Tally';
  protected override initialState() { return { n: 0 }; }
  async add(n: number): Promise<number> { return (this.state.n += n); }
}

export class Wallet extends Grain {
  static grainType = 'Wallet' as const;
  async balance(): Promise<number> { return 0; }
}

export const registry = defineGrains([Tally, Wallet]);
