/** granary/runtime: the hosting-agnostic core and the ports adapters implement. */
export { Grain, instantiateGrain, runtimeOf } from './grain.js';
export type { DeactivationReason, Disposable, GrainRuntime, TimerOptions } from './grain.js';
export { GrainTypes, callableMethods, describeGrainClass, grainTypeName } from './grain-type.js';
export type { GrainClass, GrainStatics, GrainType, PlacementStrategy } from './grain-type.js';
export { defineGrains } from './grain-registry.js';
export type { GrainClassMap, GrainRegistry, RegisteredGrain, RegisteredName } from './grain-registry.js';
export { grainId, parseGrainId, grainRefTarget } from './identity.js';
export type { GrainId, HasGrainId } from './identity.js';
export { makeRef, typedRef, untypedRef } from './ref.js';
export type { CallableMethods, GrainRef, Invoker } from './ref.js';
export { RequestContext, currentScope, newScope, childScope, setExtension, chainOf, chainIncludes, scopeStorage } from './context.js';
export type { CallScope, ContextValues, ScopeInit } from './context.js';
export { CODEC_LIMITS, encode, decode, copy, isPlainPrimitive } from './codec.js';
export type { DecodeOptions } from './codec.js';
export {
  GrainError, GrainNotFoundError, MethodNotFoundError, InconsistentStateError, DeadlockError,
  TimeoutError, TransactionAbortedError, SiloUnavailableError, InvalidArgumentError,
  errorFromWire, errorStatus, registerErrorClass, toGrainError,
} from './errors.js';
export type { ErrorCode, GrainErrorOptions, KnownErrorCode, WireError } from './errors.js';
export { FakeClock, systemClock, settle } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { Buckets } from './buckets.js';
export { Activation, Status as ActivationStatus, MAX_CHAIN_DEPTH } from './activation.js';
export type { ActivationComponent, ActivationHost, ActivationInit } from './activation.js';
export { HostCore, MAX_HOPS, activationError, handleInbound, replyText } from './host-core.js';
export type { HostCoreOptions, InboundOptions } from './host-core.js';
export { Catalog, OVERLOAD_DEFAULTS } from './catalog.js';
export type { CatalogLimits, CatalogOptions } from './catalog.js';
export { Bulkhead } from './bulkhead.js';
export { PendingCall } from './pending-call.js';
export type { PendingCallInit } from './pending-call.js';
export { CallRouter, ClusterCaller, DirectoryCache } from './cluster-caller.js';
export type { CallRouterOptions } from './cluster-caller.js';
export type {
  ClusterConnection, ClusterProvider, ClusterConnectOptions, Directory, DirectoryEntry, InboundHandler, InboundOrigin,
  Membership, SiloInfo, SiloStatus, Transport,
} from './cluster.js';
export type { CallMessage, Reply, Request } from './messages.js';
export { DEFAULT_STATE_NAME } from './storage.js';
export { CALL_LOG_SIZE, CALL_RESULT_LIMIT, CallLog, decodeStoredState, freshCallId, idempotencyCallId, parseStoredPayload, storedPayload } from './call-log.js';
export type { StorageProvider, StoredState } from './storage.js';
export { checkJournalBatch, journalConflict, journalEnd } from './journal-storage.js';
export type { JournalBatch, JournalSnapshot, JournalStorage, LoadedJournal } from './journal-storage.js';
export { DEFAULT_REMINDER_PARTITIONS, reminderPartition } from './reminder-storage.js';
export type { ReminderAdvance, ReminderInput, ReminderRecord, ReminderStore } from './reminder-storage.js';
// Call filters (the seam features and users plug into), the features' seams, the protocol's names.
export { runFilters } from './filters.js';
export type { CallFilter, CallFilters, GrainCall } from './filters.js';
export {
  registerCallExtension, registerGrainTypeFeature, registerSystemMessages, systemMessageHandler,
  trackCall, replyExtensions, mergeReplyExtensions,
} from './features.js';
export type { ActivationFilter, CallExtension, CallExtensions, GrainTypeFeature, SystemMessageHandler } from './features.js';
export * from './protocol.js';
// Features (each registers itself on import; runtime/features/<name>).
export { TransactionalState, TransactionInDoubtError, transactionDefaults, runTransaction } from './features/transactions/index.js';
export type { TransactionOption, TransactionRunOptions, TxnEnv } from './features/transactions/index.js';
export { JournaledGrain, registerJournalPublisher, journalTestHooks } from './features/journal/index.js';
export type { JournalPublication, JournalPublisher, JournalTestHooks, PublishedEvent } from './features/journal/index.js';
export { isStandardSchema, methodJsonSchemas, schemasOf, validateArguments } from './features/schemas/index.js';
export type { ArgumentIssue, StandardSchemaV1 } from './features/schemas/index.js';
export {
  REMINDER_FIRE_MESSAGE, REMINDER_LIST_MESSAGE, REMINDER_RETRY_DEFAULTS, MIN_REMINDER_PERIOD_MS, ReminderService, afterTick, attachReminderBackend,
  checkReminderName, nextTickAfter, ownedPartitions, parseReminderSchedule, partitionOwner, reminderBackendOf, reminderInfo,
  reminderOwners, reminderTick, storeReminderBackend,
} from './features/reminders/index.js';
export type {
  ReminderBackend, ReminderCounters, ReminderInfo, ReminderListener, ReminderOptions, ReminderSchedule, ReminderServiceOptions,
  ReminderTick, RetryPolicy,
} from './features/reminders/index.js';
export {
  TRACE_EXTENSION, activeTraceHeaders, errorTraceId, TRACER_NAME, callAttributes, carriedSpanContext, clientSpan, currentTraceId, granaryTracer,
  recordFailure, runInSpan, tracingEnabled, tracingFilters, withSpan,
  carrierOf, formatTraceparent, parseTraceparent, readCarrier,
} from './features/tracing/index.js';
export type { TraceCarrier, TracingFilterOptions } from './features/tracing/index.js';
export { DEFAULT_MAX_STREAM_ITEM_BYTES, DEFAULT_STREAM_RETENTION } from './stream-storage.js';
export type { StoredStreamItem, StreamProvider, StreamRead, StreamSubscriptionRecord } from './stream-storage.js';
export {
  STREAM_DELIVER_MESSAGE, STREAM_IMPLICIT_METHOD, STREAM_RETRY_DEFAULTS, StreamService, attachStreamBackend, checkFrom, checkStreamName,
  encodeStreamItem, followStream, implicitSubscribers, providerStreamBackend, publishTo, streamBackendOf, streamOwner, streamProviderError,
} from './features/streams/index.js';
export type {
  ClientStream, ClientStreamSubscription, FollowStreamOptions, GrainStream, StreamBackend, StreamCounters, StreamFollower, StreamItemMeta,
  StreamRetryPolicy, StreamServiceOptions, StreamSubscribeOptions, StreamSubscriptionHandle, StreamSubscriptionListener,
} from './features/streams/index.js';
