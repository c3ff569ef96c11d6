/**
 * What transactions add to every grain class, by declaration merging (the core's `Grain`
 * names no transaction code): `transactionalState(...)`, `transaction(fn)` and the
 * `static transactions` options.
 */
import { Grain, runtimeOf } from '../../grain.js';
import { runTransaction } from './coordinator.js';
import { createTransactionalState, grainTransactionEnv } from './gate.js';
import type { TransactionOption, TransactionRunOptions } from './options.js';
import type { TransactionalState } from './state.js';

declare module '../../grain.js' {
  interface Grain<S> {
    /**
     * Declares state this grain changes only inside transactions, stored under `name`;
     * `init()` gives its value when nothing is stored. Use it in a field initialiser:
     * `private readonly bal = this.transactionalState('balance', () => 0)`.
     */
    transactionalState<T>(name: string, init: () => T): TransactionalState<T>;
    /**
     * Runs `fn` as a transaction coordinated by this grain: every transactional state changed
     * by the calls `fn` makes commits atomically, or none does (rejects with
     * `TransactionAbortedError`, the cause attached). A new transaction unless
     * `{ option: 'createOrJoin' }` and this call already runs in one.
     */
    transaction<T>(fn: () => T | Promise<T>, options?: TransactionRunOptions): Promise<T>;
  }
}

declare module '../../grain-type.js' {
  interface GrainStatics {
    /** Per-method transaction options (Orleans meanings); a method without one is `supported`. */
    transactions?: Readonly<Record<string, TransactionOption>>;
  }
}

// Non-enumerable, as class methods are: they are `Grain`'s own members, never callable methods.
Object.defineProperties(Grain.prototype, {
  transactionalState: {
    configurable: true,
    writable: true,
    value: function transactionalState<T>(this: Grain<unknown>, name: string, init: () => T): TransactionalState<T> {
      return createTransactionalState(runtimeOf(this), name, init);
    },
  },
  transaction: {
    configurable: true,
    writable: true,
    value: function transaction<T>(this: Grain<unknown>, fn: () => T | Promise<T>, options?: TransactionRunOptions): Promise<T> {
      return runTransaction(grainTransactionEnv(runtimeOf(this)), fn, options);
    },
  },
});
