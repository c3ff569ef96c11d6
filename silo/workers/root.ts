/**
 * What `import … from 'granary'` gives inside a Worker bundle (the package's `workerd`
 * condition): the names of the curated root (index.ts) that grain code uses — Grain,
 * RequestContext, TransactionalState, the errors and their types — and the Workers face
 * (`granaryWorker`, …). The silo's Node-only parts (Silo, TestCluster, the memory and NATS
 * clusters, the Node gateway, GrainClient, dynalite) do not exist on Workers. Keep the list
 * in step with index.ts.
 */
export { Grain, RequestContext, TransactionalState, defineGrains } from '../../runtime/index.js';
export { JournaledGrain, registerJournalPublisher } from '../../runtime/index.js';
// Tracing plugs in as call filters: `granaryWorker({ filters: tracingFilters() })` (docs/observability.md).
export { tracingFilters } from '../../runtime/index.js';
export type { TracingFilterOptions } from '../../runtime/index.js';
export type { JournalPublication, JournalPublisher, PublishedEvent } from '../../runtime/index.js';
export type { JournalBatch, JournalSnapshot, JournalStorage, LoadedJournal } from '../../runtime/index.js';
export type {
  CallableMethods, ContextValues, DeactivationReason, Disposable, GrainClass, GrainId, GrainRef,
  TimerOptions, TransactionOption, TransactionRunOptions, GrainRegistry, RegisteredGrain, RegisteredName,
  CallFilter, CallFilters, GrainCall, ArgumentIssue, StandardSchemaV1,
  ErrorCode, GrainErrorOptions, KnownErrorCode,
  ClusterProvider, StorageProvider, StoredState,
} from '../../runtime/index.js';
export type { ReminderInfo, ReminderOptions, ReminderTick, ReminderAdvance, ReminderInput, ReminderRecord, ReminderStore } from '../../runtime/index.js';
export type {
  ClientStream, ClientStreamSubscription, GrainStream, StreamItemMeta, StreamProvider, StreamRetryPolicy, StreamSubscribeOptions,
  StreamSubscriptionHandle,
} from '../../runtime/index.js';
export {
  GrainError, GrainNotFoundError, MethodNotFoundError, InconsistentStateError, DeadlockError,
  TimeoutError, TransactionAbortedError, TransactionInDoubtError, SiloUnavailableError,
  InvalidArgumentError,
} from '../../runtime/index.js';
export { TableNotFoundError } from '../dynamodb/errors.js';
export type { DynamoStorageOptions } from '../dynamodb/options.js';
export * from './index.js';
