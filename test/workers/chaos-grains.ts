/**
 * A counter whose `add` stays in its object a little before and after its state write, so a
 * reset mid-call lands in either window: before the write (nothing committed: a re-sent call
 * must apply once) or after it (committed, not yet answered: a re-sent call must not apply
 * again). A plain `Counter` spends most of a call on the wire, where a reset misses it.
 */
import { Grain } from 'granary';

export type AddPhase = 'before its write' | 'after its write';

/** The `add` running in this isolate per grain key, and where it is (for the test's reset route). */
const running = new Map<string, AddPhase>();

/** Where the `add` of LingeringCounter `key` is, if one runs in this isolate now. */
export function addRunning(key: string): AddPhase | undefined {
  return running.get(key);
}

export class LingeringCounter extends Grain<{ value: number }> {
  static grainType = 'LingeringCounter';
  /** This instance's identity (no workload: no seed), so a test can tell a reset object from a kept one. */
  private readonly born = crypto.randomUUID();
  protected override initialState() { return { value: 0 }; }

  async add(n: number): Promise<number> {
    running.set(this.key, 'before its write');
    try {
      await new Promise((r) => setTimeout(r, 10));
      this.state.value += n;
      await this.writeState();
      running.set(this.key, 'after its write');
      await new Promise((r) => setTimeout(r, 30));
      return this.state.value;
    } finally {
      running.delete(this.key);
    }
  }
  async get(): Promise<number> { return this.state.value; }
  async incarnation(): Promise<string> { return this.born; }
}
