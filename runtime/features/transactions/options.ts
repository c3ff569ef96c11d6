/**
 * Time bounds of transactions. Every bound is measured on the host's clock (a silo's or a
 * client's `Clock`), so TestCluster's fake clock drives them deterministically.
 */
export interface TransactionRunOptions {
  /**
   * `create` (default): always a new, independent transaction. `createOrJoin`: join the
   * transaction the caller already runs in, if any.
   */
  option?: 'create' | 'createOrJoin';
  /** How long the transaction may run before participants give up on it (default 10 s). */
  timeoutMs?: number;
  /** How long one lock wait may last before the transaction aborts (default 3 s). */
  lockWaitMs?: number;
}

/**
 * Process-wide defaults. Tests may lower them; applications normally pass options per
 * transaction instead.
 */
export const transactionDefaults = {
  /** Default `timeoutMs` of a transaction. */
  timeoutMs: 10_000,
  /** Default `lockWaitMs`: the bound on waiting for a prepared transaction's lock. */
  lockWaitMs: 3_000,
  /**
   * A participant still holding a transaction this long past its deadline asks the
   * transaction record for the outcome (and writes `aborted` when there is none). It is
   * also how old a pending value found in storage must be before recovery may abort it.
   */
  recoveryGraceMs: 2_000,
  /** Bound on one protocol message (prepare, finish, commit, abort, resolve). */
  messageTimeoutMs: 10_000,
  /**
   * A settled pending value that no later write folded in within this long is folded in by a
   * write of its own, so the item lets go of the transaction record (retention.ts).
   */
  foldAfterMs: 30_000,
  /**
   * How long a transaction record created by recovery (not its manager, so without the list of
   * items that hold it) is kept. Must exceed how long one storage write can be in flight.
   */
  recordRetentionMs: 60_000,
};

export function resolveRunOptions(options: TransactionRunOptions | undefined): Required<TransactionRunOptions> {
  const timeoutMs = options?.timeoutMs ?? transactionDefaults.timeoutMs;
  const lockWaitMs = options?.lockWaitMs ?? transactionDefaults.lockWaitMs;
  const option = options?.option ?? 'create';
  if (!(timeoutMs > 0)) throw new RangeError(`transaction timeoutMs must be a positive number of milliseconds (got ${timeoutMs})`);
  if (!(lockWaitMs >= 0)) throw new RangeError(`transaction lockWaitMs must be a non-negative number of milliseconds (got ${lockWaitMs})`);
  if (option !== 'create' && option !== 'createOrJoin') {
    throw new RangeError(`transaction option must be "create" or "createOrJoin" (got ${JSON.stringify(option)})`);
  }
  return { timeoutMs, lockWaitMs, option };
}

/** A method's transaction option (`static transactions = { deposit: 'join' }`), Orleans meanings. */
export type TransactionOption = 'create' | 'join' | 'createOrJoin' | 'supported' | 'notAllowed' | 'suppress';
