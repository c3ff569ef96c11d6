/**
 * Per-isolate state of a Granary Worker, one per `env`: the grain types, the router that
 * reaches grain objects, grain references, the configuration, and shared storage (DynamoDB),
 * used both by the Worker's fetch handler and by the grain objects.
 */
import {
  GrainTypes, makeRef,
  type CallFilter, type CallFilters, type DecodeOptions, type GrainClass, type StorageProvider,
} from '../../runtime/index.js';
import { dynamoStorage } from '../dynamodb/storage.js';
import type { DurableObjectNamespaceLike, DurableObjectStorageLike, GrainObjectStub, WorkerEnv } from './cloudflare.js';
import { WorkerConfigError, workersConfig, type WorkersConfig } from './config.js';
import { durableObjectStorage } from './durable-storage.js';
import { remoteObjectStorage } from './object-storage.js';
import { StubRouter, workersClock } from './stub-router.js';

export interface WorkersRuntimeOptions {
  grains: readonly GrainClass[];
  /** Name of the Durable Object namespace binding that hosts grains. */
  binding: string;
  /** Call filters: incoming around every call a grain object runs, outgoing around calls grains make. */
  filters?: CallFilters;
}

export class WorkersRuntime {
  readonly clock = workersClock;
  readonly types: GrainTypes;
  readonly config: WorkersConfig;
  readonly router: StubRouter;
  readonly decodeOptions: DecodeOptions;
  readonly incomingFilters: readonly CallFilter[];
  /** Types references may name: the hosted ones, plus classes passed to `getGrain`. */
  private readonly known: GrainTypes;
  private shared: StorageProvider | undefined;
  /** States of other grain ids, in their own objects (transaction records). */
  private readonly others: StorageProvider;

  constructor(options: WorkersRuntimeOptions, env: WorkerEnv) {
    this.config = workersConfig(env);
    this.types = new GrainTypes(options.grains);
    this.known = new GrainTypes(options.grains);
    const namespace = env[options.binding] as DurableObjectNamespaceLike<GrainObjectStub> | undefined;
    if (namespace === undefined || typeof namespace !== 'object' || typeof namespace.idFromName !== 'function') {
      throw new WorkerConfigError(`no Durable Object binding named ${options.binding}: declare it under [[durable_objects.bindings]] in wrangler.toml (name = "${options.binding}", class_name = "GrainObject")`);
    }
    this.decodeOptions = { ref: (t, k) => this.ref(t, k) };
    this.incomingFilters = options.filters?.incoming ?? [];
    this.router = new StubRouter({
      namespace,
      responseTimeoutMs: this.config.responseTimeoutMs,
      decodeOptions: this.decodeOptions,
      outgoingFilters: options.filters?.outgoing,
    });
    this.others = remoteObjectStorage(namespace);
  }

  get responseTimeoutMs(): number {
    return this.config.responseTimeoutMs;
  }

  /** A reference whose calls go object to object (typed when the class is known). */
  ref(type: string | GrainClass, key: string): unknown {
    return makeRef(this.known, typeof type === 'string' ? type : this.known.add(type).name, key, this.router);
  }

  /** The storage of the grain `grainKey` hosted in an object with `objectStorage`. */
  storageFor(objectStorage: DurableObjectStorageLike, grainKey: string): StorageProvider {
    if (this.config.storage === 'durable-object') return durableObjectStorage(objectStorage, { owner: grainKey, others: this.others });
    this.shared ??= dynamoStorage({
      table: this.config.dynamo.table,
      ...(this.config.dynamo.endpoint !== undefined ? { endpoint: this.config.dynamo.endpoint } : {}),
      region: this.config.dynamo.region,
      ...(this.config.dynamo.credentials !== undefined ? { credentials: this.config.dynamo.credentials } : {}),
    });
    return this.shared;
  }
}

/** One runtime per env object (workerd hands every request of an isolate the same one). */
export function runtimeCache(options: WorkersRuntimeOptions): (env: WorkerEnv) => WorkersRuntime {
  const byEnv = new WeakMap<object, WorkersRuntime>();
  return (env) => {
    let rt = byEnv.get(env);
    if (rt === undefined) {
      rt = new WorkersRuntime(options, env);
      byEnv.set(env, rt);
    }
    return rt;
  };
}
