/**
 * `GrainClient`: typed references to grains from outside any silo. `connect` joins a cluster
 * (in-process or NATS) as a client that hosts nothing; `http` talks to a silo's gateway.
 */
import {
  GrainTypes, makeRef, systemClock,
  type Clock, type ClusterConnection, type ClusterProvider, type Grain, type GrainClass, type GrainRef, type Invoker,
  type TransactionRunOptions, type TxnEnv,
} from '../runtime/index.js';
import { natsCluster } from '../silo/nats/index.js';
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
}

/** How a client sends calls: a cluster connection, or HTTP. */
export interface ClientTransport extends Invoker {
  close(): Promise<void>;
  /** Where `transaction()` coordinates from; undefined when the transport cannot carry transactions (HTTP). */
  readonly transactions?: TxnEnv;
}

export class GrainClient {
  private readonly known = new GrainTypes();

  protected constructor(private readonly transport: ClientTransport) {}

  /** Joins a cluster as a client that hosts no grains. */
  static async connect(options: ConnectOptions): Promise<GrainClient> {
    const provider = await resolveProvider(options);
    const clock = options.clock ?? systemClock;
    const connection = await provider.connect({ clock });
    let client: GrainClient | undefined;
    const router = new ClientRouter({
      connection,
      clock,
      responseTimeoutMs: options.responseTimeoutMs ?? 30_000,
      decodeOptions: { ref: (t, k) => client!.getGrain(t, k) },
    });
    client = new GrainClient(clusterTransport(router, connection, clock));
    return client;
  }

  /** Talks to a silo's HTTP gateway (`http://host:8080`): same references, same error classes. */
  static http(url: string, options: HttpClientOptions = {}): GrainClient {
    let client: GrainClient | undefined;
    client = new GrainClient(httpTransport(url, { ...options, ref: (t, k) => client!.getGrain(t, k) }));
    return client;
  }

  /** A typed reference: `getGrain(Counter, 'a')` or `getGrain<Counter>('Counter', 'a')`. */
  getGrain<G extends Grain<any>>(cls: GrainClass<G>, key: string): GrainRef<G>; // eslint-disable-line @typescript-eslint/no-explicit-any
  getGrain<G>(type: string, key: string): GrainRef<G>;
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
    // Credentials can ride in the URL (nats://user:pass@host:4222, nats://token@host:4222).
    return natsCluster({ servers: options.nats, name: options.cluster ?? 'granary' });
  }
  throw new TypeError('GrainClient.connect needs { nats: "nats://host:4222", cluster: "name" } or { cluster: provider }');
}
