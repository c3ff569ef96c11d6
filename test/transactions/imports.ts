/** What the transaction tests use from granary, and the record reader (internal). */
export { TransactionAbortedError, InvalidArgumentError, SiloUnavailableError, decode, grainId } from 'granary';
export type { StorageProvider } from 'granary';
export { readRecord as readRecordForTest, transactionTestHooks } from '../../runtime/transactions/index.js';
export { transactionDefaults } from 'granary';
