/**
 * `GrainClient`: typed references to grains from outside any silo. `connect` joins a cluster
 * (in-process or NATS) as a client that hosts nothing; `http` talks to a silo's gateway.
 */
import {
  GrainTypes, makeRef, systemClock,
  type CallFilters, type ClientStream, type Clock, type ClusterConnection, type ClusterProvider, type Grain, type GrainClass, type GrainRef, type Invoker,
  type StreamProvider, type TransactionRunOptions, type TxnEnv,
} from '../runtime/index.js';
import { clientStream, providerClientStreams, type ClientStreams } from './streams.js';
import type { GrainRegistry, RegisteredGrain, RegisteredName } from '../runtime/grain-registry.js';
import { ClientRouter } from './cluster-client.js';
import { tracingFilters } from '../runtime/features/tracing/index.js';
import { httpTransport, type HttpClientOptions } from './http.js';
import { clientTransactionEnv, runClientTransaction } from './transaction.js';

export interface ConnectOptions {
  /** NATS server URL(s) of the cluster. */
  nats?: string | string[];
  /** The cluster's name (with `nats`), or an in-process cluster provider to join. */
  cluster?: string | ClusterProvider;
  /** How long a call waits for its response (default 30 s). */
  responseTimeoutMs?: number;
  /** Time source (TestCluster passes its fake clock). */
  clock?: Clock;
  /** Outgoing call filters, run around every call this client makes. */
  filters?: Pick<CallFilters, 'outgoing'>;
  /** A CLIENT span per call while an OpenTelemetry tracer provider is registered (default true). */
  tracing?: boolean;
  /** The cluster's stream provider, for `getStream` (TestCluster passes its own); omitted: `getStream` rejects. */
  streams?: StreamProvider;
}

/** How a client sends calls: a cluster connection, or HTTP. */
export interface ClientTransport extends Invoker {
  close(): Promise<void>;
  /** Where `transaction()` coordinates from; undefined when the transport cannot carry transactions (HTTP). */
  readonly transactions?: TxnEnv;
  /** Throws for a grain type or key this transport cannot carry (checked by `getGrain`). */
  checkTarget?(type: string, key: string): void;
  /** Publishing and subscribing to streams, when the transport can (`getStream`). */
  streams?: ClientStreams;
}

/** `R`: the type of a `defineGrains` registry, which types references by type name (`GrainClient.http<typeof grains>(url)`). */
export class GrainClient<R extends GrainRegistry = GrainRegistry> {
  private readonly known = new GrainTypes();

  protected constructor(private readonly transport: ClientTransport) {}

  /** Joins a cluster as a client that hosts no grains. */
  static async connect<R extends GrainRegistry = GrainRegistry>(options: ConnectOptions): Promise<GrainClient<R>> {
    const provider = await resolveProvider(options);
    const clock = options.clock ?? systemClock;
    const connection = await provider.connect({ clock });
    let client: GrainClient<R> | undefined;
    const router = new ClientRouter({
      connection,
      clock,
      responseTimeoutMs: options.responseTimeoutMs ?? 30_000,
      decodeOptions: { ref: (t, k) => client!.getGrain(t, k) },
      // Tracing first (outermost); idle, and skipped, while no tracer provider is registered.
      outgoingFilters: [...(options.tracing === false ? [] : tracingFilters().outgoing), ...(options.filters?.outgoing ?? [])],
    });
    const transport = clusterTransport(router, connection, clock);
    if (options.streams !== undefined) transport.streams = providerClientStreams(options.streams, { ref: (t, k) => client!.getGrain(t, k) });
    client = new GrainClient<R>(transport);
    return client;
  }

  /** Talks to a silo's HTTP gateway (`http://host:8080`): same references, same error classes. */
  static http<R extends GrainRegistry = GrainRegistry>(url: string, options: HttpClientOptions = {}): GrainClient<R> {
    let client: GrainClient<R> | undefined;
    client = new GrainClient<R>(httpTransport(url, { ...options, ref: (t, k) => client!.getGrain(t, k) }));
    return client;
  }

  /**
   * A typed reference: `getGrain(Counter, 'a')`, `getGrain<Counter>('Counter', 'a')`, or, on a
   * client typed with a registry, `getGrain('Counter', 'a')` (a name not in it is a type error).
   */
  getGrain<G extends Grain<any>>(cls: GrainClass<G>, key: string): GrainRef<G>; // eslint-disable-line @typescript-eslint/no-explicit-any
  getGrain<N extends RegisteredName<R>>(type: N, key: string): GrainRef<RegisteredGrain<R, N>>;
  getGrain<G>(type: RegisteredName<R>, key: string): GrainRef<G>;
  getGrain(type: string | GrainClass, key: string): unknown {
    const name = typeof type === 'string' ? type : this.known.add(type).name;
    this.transport.checkTarget?.(name, key);
    return makeRef(this.known, name, key, this.transport);
  }

  /**
   * Runs `fn` as a transaction: every transactional state changed by the calls `fn` makes
   * commits atomically, or none does (rejects with `TransactionAbortedError`, cause attached).
   */
  transaction<T>(fn: () => T | Promise<T>, options?: TransactionRunOptions): Promise<T> {
    return runClientTransaction(this.transport.transactions, fn, options);
  }

  /**
   * The stream (`namespace`, `key`): `publish(item)` → `{ seq }`, and `subscribe((item, meta) => …,
   * { from })`, a subscription that lives as long as this client (or until `close()`).
   */
  getStream<T = unknown>(namespace: string, key: string): ClientStream<T> {
    return clientStream<T>(this.transport.streams, namespace, key);
  }

  async close(): Promise<void> {
    await this.transport.streams?.close();
    await this.transport.close();
  }
}

function clusterTransport(router: ClientRouter, connection: ClusterConnection, clock: Clock): ClientTransport & { streams?: ClientStreams } {
  return {
    invoke: (target, key, method, args) => router.invoke(target, key, method, args),
    transactions: clientTransactionEnv(router, clock),
    async close() {
      router.close();
      await connection.close();
    },
  };
}

async function resolveProvider(options: ConnectOptions): Promise<ClusterProvider> {
  if (options.cluster !== undefined && typeof options.cluster === 'object') return options.cluster;
  if (options.nats !== undefined) {
    // Imported here, not at the top: a client that talks HTTP never loads any NATS module.
    const { natsCluster } = await import('../silo/nats/cluster.js');
    // Credentials can ride in the URL (nats://user:pass@host:4222, nats://token@host:4222).
    return natsCluster({ servers: options.nats, name: options.cluster ?? 'granary' });
  }
  throw new TypeError('GrainClient.connect needs { nats: "nats://host:4222", cluster: "name" } or { cluster: provider }');
}
