/** What the transaction tests use from granary, and the record reader (internal). */
export { GrainError, TransactionAbortedError, TransactionInDoubtError, InvalidArgumentError, SiloUnavailableError } from 'granary';
export { decode, decodeStoredState, grainId } from 'granary/internal';
export type { StorageProvider } from 'granary';
export { readRecord as readRecordForTest, transactionTestHooks } from '../../runtime/features/transactions/index.js';
export { transactionDefaults } from 'granary/internal';
