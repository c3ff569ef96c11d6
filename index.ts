/**
 * granary: what an application needs to define grains, host them in silos, call them and
 * test them. This list is the public contract (see api/granary.api.md); it grows on purpose,
 * never by accident.
 *
 * - `granary/testing`: `TestCluster` and `FakeClock` for tests.
 * - `granary/internal`: the machinery hosts and adapters share (activations, the catalog,
 *   the wire codec, the ports' connection types, …), with no compatibility promise.
 *
 * Importing this module loads no NATS, AWS SDK or dynalite code: `natsCluster(...)` and
 * `dynamoStorage(...)` load theirs when a silo or client first uses them.
 */

// Defining grains.
export { Grain, RequestContext, TransactionalState } from './runtime/index.js';
// Journaled grains (event sourcing), and where their confirmed events go (projections).
export { JournaledGrain, registerJournalPublisher } from './runtime/index.js';
export type { JournalPublication, JournalPublisher, PublishedEvent } from './runtime/index.js';
export type { JournalBatch, JournalSnapshot, JournalStorage, LoadedJournal } from './runtime/index.js';
export type {
  CallableMethods, ContextValues, DeactivationReason, Disposable, GrainClass, GrainId, GrainRef,
  TimerOptions, TransactionOption, TransactionRunOptions,
} from './runtime/index.js';
// Durable reminders (registerReminder & co. are members of Grain).
export type { ReminderInfo, ReminderOptions, ReminderTick } from './runtime/index.js';
// The reminder storage port (`StorageProvider.reminders`), for providers of one's own.
export type { ReminderAdvance, ReminderInput, ReminderRecord, ReminderStore } from './runtime/index.js';
// Streams (getStream & getStreamSubscriptions are members of Grain; GrainClient.getStream).
export type {
  ClientStream, ClientStreamSubscription, GrainStream, StreamItemMeta, StreamProvider, StreamRetryPolicy, StreamSubscribeOptions,
  StreamSubscriptionHandle,
} from './runtime/index.js';
export { defineGrains, type GrainRegistry, type RegisteredGrain, type RegisteredName } from './runtime/grain-registry.js';

// Call filters and argument schemas.
export type { CallFilter, CallFilters, GrainCall } from './runtime/index.js';
// Tracing (OpenTelemetry): Silo.start and GrainClient.connect add these first unless `tracing: false`.
export { tracingFilters } from './runtime/index.js';
export type { TracingFilterOptions } from './runtime/index.js';
export type { ArgumentIssue, StandardSchemaV1 } from './runtime/index.js';

// Errors.
export {
  GrainError, GrainNotFoundError, MethodNotFoundError, InconsistentStateError, DeadlockError,
  TimeoutError, TransactionAbortedError, TransactionInDoubtError, SiloUnavailableError,
  InvalidArgumentError,
} from './runtime/index.js';
export type { ErrorCode, GrainErrorOptions, KnownErrorCode } from './runtime/index.js';
export { TableNotFoundError } from './silo/dynamodb/index.js';

// Hosting: silos, clusters and storage. (Each from its own module, not silo/index.ts, whose
// gateway app would load Hono for every application, gateway or not.)
export { Silo } from './silo/silo.js';
export type { SiloOptions } from './silo/silo.js';
export type { StorageSweepOptions } from './silo/storage-sweep.js';
export type { CatalogLimits } from './runtime/index.js';
export type { GatewayOptions } from './silo/gateway/silo-gateway.js';
export type { Logger } from './silo/log.js';
export type { ClusterProvider, StorageProvider, StoredState } from './runtime/index.js';
export { memoryCluster, memoryStorage } from './silo/memory/index.js';
export type { MemoryClusterOptions, MemoryStorage } from './silo/memory/index.js';
export type { SiloReminderOptions } from './silo/reminders.js';
export { memoryStreams } from './silo/memory/index.js';
export type { MemoryStreams, MemoryStreamsOptions } from './silo/memory/index.js';
export type { SiloStreamOptions } from './silo/streams.js';
export { natsCluster } from './silo/nats/index.js';
export type { NatsClusterOptions } from './silo/nats/index.js';
export { natsStreams } from './silo/nats/index.js';
export type { NatsStreamsOptions } from './silo/nats/index.js';
export { dynamoStorage, startEmbeddedDynalite } from './silo/dynamodb/index.js';
export type {
  CollectChunksOptions, CollectChunksResult, DynamoStorage, DynamoStorageOptions, EnsureTableResult, EmbeddedDynalite, EmbeddedDynaliteOptions,
} from './silo/dynamodb/index.js';

// Calling grains from outside a silo.
export { GrainClient } from './client/index.js';
export type { ConnectOptions, HttpClientOptions } from './client/index.js';

// Testing (also in granary/testing).
export { TestCluster } from './silo/test-cluster.js';
export type { TestClusterOptions, RunUntilQuietOptions } from './silo/test-cluster.js';
export type { SimulationFaults } from './silo/testing/simulation.js';
export type { HistoryEvent } from './silo/testing/history.js';
