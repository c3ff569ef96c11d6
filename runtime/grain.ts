/**
 * The base class of every grain. A grain instance is created by the runtime for one
 * activation; it reaches its runtime through `GrainRuntime`, which the activation provides.
 * Features add members of their own by declaration merging (`transactionalState` and
 * `transaction` come from runtime/features/transactions), reaching the activation through
 * `runtimeOf(grain)`.
 */
import { GRAIN_BRAND, grainBrand } from './grain-brand.js';
import type { GrainClass } from './grain-type.js';
import type { GrainId } from './identity.js';
import type { GrainRef } from './ref.js';

/** Why an activation ends; `overload`: its silo sheds idle activations past its bound (least recently used first). */
export type DeactivationReason = 'idle' | 'requested' | 'shutdown' | 'error' | 'overload' | 'fenced';

export interface TimerOptions {
  /** First tick after this many milliseconds (default: `periodMs`). */
  dueMs?: number;
  /** Then every `periodMs`; omitted: one tick only. */
  periodMs?: number;
}

export interface Disposable {
  dispose(): void;
}

/** What a grain needs from its activation. */
export interface GrainRuntime {
  readonly id: GrainId;
  writeState(): Promise<void>;
  readState(): Promise<void>;
  clearState(): Promise<void>;
  ref(type: string | GrainClass, key: string): unknown;
  deactivateOnIdle(): void;
  delayDeactivation(ms: number): void;
  registerTimer(fn: () => unknown, options: TimerOptions): Disposable;
}

const RUNTIME: unique symbol = Symbol('granary.runtime');

let constructing: GrainRuntime | undefined;

/** Creates a grain instance bound to `runtime` (field initialisers can already use it). */
export function instantiateGrain<G extends Grain<unknown>>(cls: new () => G, runtime: GrainRuntime): G {
  constructing = runtime;
  try {
    return new cls();
  } finally {
    constructing = undefined;
  }
}

export function runtimeOf(grain: Grain<unknown>): GrainRuntime {
  return grain[RUNTIME];
}

export abstract class Grain<S = Record<string, never>> {
  /** Granary's brand (see grain-brand.ts): how any copy of Granary recognises a grain class. */
  static readonly [GRAIN_BRAND] = grainBrand(import.meta.url);
  readonly id: GrainId;
  /** Loaded from storage before `onActivate`; `initialState()` when nothing is stored. */
  state!: S;
  private readonly [RUNTIME]: GrainRuntime;

  constructor() {
    const rt = constructing;
    if (!rt) {
      throw new TypeError(`${new.target.name} is a grain: the runtime activates it. Use getGrain(${new.target.name}, key) to call it.`);
    }
    this[RUNTIME] = rt;
    this.id = rt.id;
  }

  get key(): string {
    return this.id.key;
  }

  /** The state of a grain that has nothing stored yet. */
  protected initialState(): S {
    return {} as S;
  }

  /** Persists `state`, conditional on the stored version; a lost race rejects with `InconsistentStateError`. */
  writeState(): Promise<void> {
    return this[RUNTIME].writeState();
  }

  /** Reloads `state` from storage. */
  readState(): Promise<void> {
    return this[RUNTIME].readState();
  }

  /** Deletes the stored state (conditionally) and resets `state` to `initialState()`. */
  clearState(): Promise<void> {
    return this[RUNTIME].clearState();
  }

  /** A typed reference to another grain. */
  getGrain<G extends Grain<any>>(cls: GrainClass<G>, key: string): GrainRef<G>; // eslint-disable-line @typescript-eslint/no-explicit-any
  getGrain<G>(type: string, key: string): GrainRef<G>;
  getGrain(type: string | GrainClass, key: string): unknown {
    return this[RUNTIME].ref(type, key);
  }

  /** Runs after the state is loaded, before the first call. */
  onActivate(): void | Promise<void> {}

  /** Runs when the activation ends (idle, requested, shutdown); not on a crash. */
  onDeactivate(_reason: DeactivationReason): void | Promise<void> {}

  /** Deactivates after the current call completes. */
  deactivateOnIdle(): void {
    this[RUNTIME].deactivateOnIdle();
  }

  /** Keeps this activation alive at least `ms` longer. */
  delayDeactivation(ms: number): void {
    this[RUNTIME].delayDeactivation(ms);
  }

  /** A timer whose ticks run as turns of this grain; it ends with the activation. */
  registerTimer(fn: () => unknown, options: TimerOptions): Disposable {
    return this[RUNTIME].registerTimer(fn, options);
  }
}

/** The class of `initialState` access for the activation (it is protected on purpose). */
export function initialStateOf<S>(grain: Grain<S>): S {
  return (grain as unknown as { initialState(): S }).initialState();
}
