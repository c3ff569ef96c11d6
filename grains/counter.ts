import { z } from 'zod';
import { Grain, RequestContext } from '../runtime/index.js';

export interface CounterState { value: number }

/** The counter of the API contract: state, a conditional write, request context. */
export class Counter extends Grain<CounterState> {
  static grainType = 'Counter';
  static idleTimeoutMs = 60_000;
  /** `add` takes a whole number: `add("x")` is refused before the grain runs. */
  static schemas = { add: [z.number().int()] };

  protected override initialState(): CounterState { return { value: 0 }; }

  async add(n: number): Promise<number> {
    this.state.value += n;
    await this.writeState();
    return this.state.value;
  }
  async get(): Promise<number> { return this.state.value; }
  async whoAsked(): Promise<unknown> { return RequestContext.get('user'); }
}
