/** Errors of the transaction protocol, and how an abort reason becomes the caller's error. */
import { GrainError, TransactionAbortedError, errorFromWire, registerErrorClass, toGrainError, type WireError } from '../../errors.js';

/**
 * The coordinator lost contact while committing and could not find out the outcome (the
 * transaction may or may not have committed). Orleans calls this "in doubt".
 */
export class TransactionInDoubtError extends GrainError {
  constructor(message: string, options?: { cause?: unknown; data?: unknown }) {
    super('transaction_in_doubt', message, options);
  }
}

registerErrorClass('transaction_in_doubt', TransactionInDoubtError);

/** The error a transaction's caller sees when it aborted; `cause` is why. */
export function abortedError(txnId: string, cause: unknown): TransactionAbortedError {
  if (cause instanceof TransactionAbortedError && (cause.data as { txn?: string } | undefined)?.txn === txnId) return withCause(cause);
  const c = toGrainError(cause);
  return new TransactionAbortedError(`transaction ${txnId} aborted: ${c.message || c.name}`, {
    cause,
    data: { txn: txnId, cause: c.toWire() },
  });
}

/** Why a transaction cannot go on, as its participants say it (the cause of the abort). */
export type RefusalCode = 'transaction_conflict' | 'transaction_lock_timeout' | 'transaction_timeout';

export function isRefusalCode(x: unknown): x is RefusalCode {
  return x === 'transaction_conflict' || x === 'transaction_lock_timeout' || x === 'transaction_timeout';
}

/**
 * A participant (or the coordinator) refuses to go on with a transaction: a lock held by a
 * running transaction, a lock wait past its bound, a deadline passed. The transaction then
 * aborts with this as its cause.
 */
export function refusal(txnId: string, reason: string, code: RefusalCode = 'transaction_conflict'): GrainError {
  return new GrainError(code, reason, { data: { txn: txnId } });
}

/** An abort that crossed the wire lost its `cause`; its data still describes it. */
export function withCause(err: TransactionAbortedError): TransactionAbortedError {
  if (err.cause !== undefined) return err;
  const wire = (err.data as { cause?: WireError } | undefined)?.cause;
  if (wire === undefined) return err;
  return new TransactionAbortedError(err.message, { cause: errorFromWire(wire), data: err.data });
}

/** Errors after which the callee's part of the transaction is unknown to the caller. */
export function lostTrackOf(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'timeout' || code === 'silo_unavailable';
}
