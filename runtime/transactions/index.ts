/**
 * Grain transactions (Orleans semantics) on single-item conditional writes; see
 * docs/architecture.md "Transactions" for the protocol.
 */
export { TransactionalState } from './state.js';
export { TransactionInDoubtError } from './errors.js';
export { transactionDefaults } from './options.js';
export type { TransactionRunOptions } from './options.js';
export { runTransaction } from './coordinator.js';
export { createTransactionalState, grainTransactionEnv, transactionGate, transactionalInvoker } from './gate.js';
export { MSG as TRANSACTION_MESSAGES } from './host.js';
export type { TxnEnv } from './host.js';
export { TxnContext, trackTransactionalCall, withTransactionReply, mergeTransactionReply } from './txn-context.js';
export { transactionTestHooks } from './hooks.js';
export type { TransactionTestHooks } from './hooks.js';
export { RECORD_TYPE, RECORD_STATE, readRecord, stateItemName } from './records.js';
