/**
 * granary/workers: the same grains on Cloudflare Workers. `granaryWorker({ grains })` gives
 * the fetch handler (the HTTP gateway) and the Durable Object class that hosts the grains,
 * one object per grain id. See docs/serverless.md.
 */
export { granaryWorker } from './worker.js';
export type { GranaryFetchHandler, GranaryWorker, GranaryWorkerOptions } from './worker.js';
export type { GrainObjectClass } from './grain-object.js';
export { STREAMS_BINDING, durableStreams } from './stream-object.js';
export type { StreamObjectClass, StreamObjectStub } from './stream-object.js';
export { durableObjectStorage, NotSqliteBackedError } from './durable-storage.js';
export type { DurableObjectStorageOptions } from './durable-storage.js';
export { WorkerConfigError, readWorkersConfig } from './config.js';
export type { WorkersConfig, WorkersStorageKind } from './config.js';
export type {
  DurableObjectIdLike, DurableObjectNamespaceLike, DurableObjectStateLike, DurableObjectStorageLike, GrainObjectStub,
  SyncKvLike, WorkerEnv,
} from './cloudflare.js';
