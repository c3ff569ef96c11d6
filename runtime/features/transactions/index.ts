/**
 * Grain transactions (Orleans semantics) on single-item conditional writes, plugged into the
 * core's seams (runtime/features.ts); see docs/transactions.md for the protocol.
 * Importing this module registers the feature (runtime/index.ts does).
 */
import './grain-members.js';
export { TransactionalState } from './state.js';
export { TransactionInDoubtError } from './errors.js';
export { transactionDefaults } from './options.js';
export type { TransactionOption, TransactionRunOptions } from './options.js';
export { runTransaction } from './coordinator.js';
export { MSG as TRANSACTION_MESSAGES } from './host.js';
export type { TxnEnv } from './host.js';
export { TxnContext } from './txn-context.js';
export { transactionTestHooks } from './hooks.js';
export type { TransactionTestHooks } from './hooks.js';
export { RECORD_TYPE, RECORD_STATE, readRecord, stateItemName } from './records.js';
