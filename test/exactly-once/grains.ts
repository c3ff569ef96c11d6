/** Grains for the exactly-once tests: a counter, a grain that calls one, and large results. */
import { Grain } from 'granary';

export class Tally extends Grain<{ n: number; runs: number }> {
  static grainType = 'Tally';
  protected override initialState() { return { n: 0, runs: 0 }; }
  /** Counts its runs in state too: a replay repeats no write, so `runs` says how often a write landed. */
  async add(by: number): Promise<number> {
    this.state.n += by;
    this.state.runs++;
    await this.writeState();
    return this.state.n;
  }
  async get(): Promise<{ n: number; runs: number }> { return this.state; }
  /** Writes, then answers with more than the recorded-result limit. */
  async addBig(by: number, size: number): Promise<string> {
    this.state.n += by;
    await this.writeState();
    return 'x'.repeat(size);
  }
  async reset(): Promise<number> {
    await this.clearState();
    return this.state.n;
  }
  /** Two writes in one call. */
  async addTwice(by: number): Promise<number> {
    this.state.n += by;
    await this.writeState();
    this.state.n += by;
    await this.writeState();
    return this.state.n;
  }
  async fail(by: number): Promise<never> {
    this.state.n += by;
    await this.writeState();
    throw new Error(`failed after adding ${by}`);
  }
}

/** Calls a Tally, then writes its own state: a call that has effects on two grains. */
export class Relay extends Grain<{ forwarded: number }> {
  static grainType = 'Relay';
  protected override initialState() { return { forwarded: 0 }; }
  async forward(target: string, by: number): Promise<number> {
    const n = await this.getGrain(Tally, target).add(by);
    this.state.forwarded++;
    await this.writeState();
    return n;
  }
  async forwarded(): Promise<number> { return this.state.forwarded; }
}
