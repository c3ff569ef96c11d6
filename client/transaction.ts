/**
 * `client.transaction(fn)`: the client coordinates (runs `fn`, knows the participants, asks
 * the first writer to commit — see runtime/features/transactions). Protocol messages go out like any
 * call of the client, outside the transaction's scope.
 */
import {
  InvalidArgumentError, newScope, parseGrainId, runTransaction, scopeStorage,
  type Clock, type Invoker, type TransactionRunOptions, type TxnEnv,
} from '../runtime/index.js';

/** The coordinator environment of a client connected to a cluster. */
export function clientTransactionEnv(invoker: Invoker, clock: Clock): TxnEnv {
  // Protocol messages carry no request context, call chain or transaction.
  const outside = newScope({});
  return {
    clock,
    call: (target, method, args) =>
      scopeStorage.run(outside, () => invoker.invoke(parseGrainId(target), target, method, args)),
  };
}

export function runClientTransaction<T>(env: TxnEnv | undefined, fn: () => T | Promise<T>, options?: TransactionRunOptions): Promise<T> {
  if (env === undefined) {
    return Promise.reject(new InvalidArgumentError(
      'transactions need a cluster connection: use GrainClient.connect(...) (an HTTP client cannot carry a transaction), or call a grain method that runs one itself',
    ));
  }
  return runTransaction(env, fn, options);
}
