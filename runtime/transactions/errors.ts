/** Errors of the transaction protocol, and how an abort reason becomes the caller's error. */
import { GrainError, TransactionAbortedError, toGrainError } from '../errors.js';

/**
 * The coordinator lost contact while committing and could not find out the outcome (the
 * transaction may or may not have committed). Orleans calls this "in doubt".
 */
export class TransactionInDoubtError extends GrainError {
  constructor(message: string, options?: { cause?: unknown; data?: unknown }) {
    super('transaction_in_doubt', message, options);
  }
}

/** The error a transaction's caller sees when it aborted; `cause` is why. */
export function abortedError(txnId: string, cause: unknown): TransactionAbortedError {
  if (cause instanceof TransactionAbortedError && (cause.data as { txn?: string } | undefined)?.txn === txnId) return cause;
  const c = toGrainError(cause);
  const reason = c.code === 'transaction_aborted' ? c.message : c.message || c.name;
  return new TransactionAbortedError(`transaction ${txnId} aborted: ${reason}`, {
    cause,
    data: { txn: txnId, cause: c.toWire() },
  });
}

/** A participant could not go on with the transaction; the transaction aborts. */
export function conflictError(txnId: string, reason: string): TransactionAbortedError {
  return new TransactionAbortedError(`transaction ${txnId} aborted: ${reason}`, { data: { txn: txnId, reason } });
}

/** Errors after which the callee's part of the transaction is unknown to the caller. */
export function lostTrackOf(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'timeout' || code === 'silo_unavailable';
}
