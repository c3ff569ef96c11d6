/**
 * `GrainClient`: typed references to grains from outside any silo. `connect` joins a cluster
 * (in-process or NATS) as a client that hosts nothing; `http` talks to a silo's gateway.
 */
import {
  GrainTypes, makeRef, systemClock,
  type CallFilters, type Clock, type ClusterConnection, type ClusterProvider, type Grain, type GrainClass, type GrainRef, type Invoker,
  type TransactionRunOptions, type TxnEnv,
} from '../runtime/index.js';
import type { GrainRegistry, RegisteredGrain, RegisteredName } from '../runtime/grain-registry.js';
import { ClientRouter } from './cluster-client.js';
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
}

/** How a client sends calls: a cluster connection, or HTTP. */
export interface ClientTransport extends Invoker {
  close(): Promise<void>;
  /** Where `transaction()` coordinates from; undefined when the transport cannot carry transactions (HTTP). */
  readonly transactions?: TxnEnv;
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
      outgoingFilters: options.filters?.outgoing,
    });
    client = new GrainClient<R>(clusterTransport(router, connection, clock));
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
    return makeRef(this.known, name, key, this.transport);
  }

  /**
   * Runs `fn` as a transaction: every transactional state changed by the calls `fn` makes
   * commits atomically, or none does (rejects with `TransactionAbortedError`, cause attached).
   */
  transaction<T>(fn: () => T | Promise<T>, options?: TransactionRunOptions): Promise<T> {
    return runClientTransaction(this.transport.transactions, fn, options);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

function clusterTransport(router: ClientRouter, connection: ClusterConnection, clock: Clock): ClientTransport {
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
