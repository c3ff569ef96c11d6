/**
 * TestCluster: several silos in one process on the in-memory cluster, a client that is
 * hosted on none of them, and a fake clock. Every call goes through the wire codec, local
 * ones included, so what passes here passes between processes.
 */
import { FakeClock, settle, type CallFilters, type GrainClass, type StorageProvider, type ClusterProvider } from '../runtime/index.js';
import { GrainClient } from '../client/index.js';
import { jsonLogger, type Logger } from './log.js';
import { memoryCluster, memoryStorage } from './memory/index.js';
import { Silo, type SiloOptions } from './silo.js';

export interface TestClusterOptions {
  /** Number of silos to start (default 2). */
  silos?: number;
  grains: readonly GrainClass[];
  /** Shared by every silo (default: one `memoryStorage()`). */
  storage?: StorageProvider;
  /** Default: a fresh in-memory cluster. */
  cluster?: ClusterProvider;
  idleTimeoutMs?: number;
  responseTimeoutMs?: number;
  collectionQuantumMs?: number;
  /** How long stopping a silo waits for running calls (default 1 s: tests leave calls hanging). */
  drainTimeoutMs?: number;
  logger?: Logger;
  /** Call filters for every silo (as `Silo.start({ filters })`); `cluster.client` runs none. */
  filters?: CallFilters;
  /** Overload limits for every silo (as `Silo.start({ limits })`). */
  limits?: SiloOptions['limits'];
}

export class TestCluster {
  readonly silos: Silo[] = [];
  readonly clock = new FakeClock();
  readonly storage: StorageProvider;
  readonly provider: ClusterProvider;
  client!: GrainClient;

  private constructor(private readonly options: TestClusterOptions) {
    this.storage = options.storage ?? memoryStorage();
    this.provider = options.cluster ?? memoryCluster({ name: 'test' });
  }

  static async start(options: TestClusterOptions): Promise<TestCluster> {
    const tc = new TestCluster(options);
    const n = options.silos ?? 2;
    for (let i = 0; i < n; i++) await tc.startSilo();
    tc.client = await GrainClient.connect({ cluster: tc.provider, clock: tc.clock, responseTimeoutMs: options.responseTimeoutMs });
    return tc;
  }

  /** Starts one more silo and appends it to `silos`. */
  async startSilo(): Promise<Silo> {
    const silo = await Silo.start({
      grains: this.options.grains,
      cluster: this.provider,
      storage: this.storage,
      clock: this.clock,
      serializeLocalCalls: true,
      idleTimeoutMs: this.options.idleTimeoutMs,
      responseTimeoutMs: this.options.responseTimeoutMs,
      collectionQuantumMs: this.options.collectionQuantumMs,
      drainTimeoutMs: this.options.drainTimeoutMs ?? 1_000,
      logger: this.options.logger ?? jsonLogger({ level: 'error' }),
      filters: this.options.filters,
      limits: this.options.limits,
    });
    this.silos.push(silo);
    return silo;
  }

  /** Crashes a silo: no deactivation, no goodbye. It leaves `silos`. */
  async killSilo(which: number | Silo): Promise<void> {
    const silo = this.take(which);
    await silo.abort();
  }

  /** Stops a silo gracefully. It leaves `silos`. */
  async stopSilo(which: number | Silo): Promise<void> {
    const silo = this.take(which);
    await silo.stop();
  }

  /** Moves the fake clock forward: idle collection and timers run, and their work settles. */
  async advanceTime(ms: number): Promise<void> {
    await this.clock.advance(ms);
    await this.settle();
  }

  /** Waits until no activation or deactivation is in progress on any silo. */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await Promise.all(this.silos.map((s) => s.catalog.settled()));
      await settle();
    }
  }

  /** Live activations of a type across all silos. */
  activationCount(type?: string | GrainClass): number {
    const name = typeof type === 'function' ? (type.grainType ?? type.name) : type;
    return this.silos.reduce((n, s) => n + s.activationCount(name), 0);
  }

  async stop(): Promise<void> {
    await this.client?.close();
    const silos = this.silos.splice(0);
    await Promise.all(silos.map((s) => s.stop()));
  }

  private take(which: number | Silo): Silo {
    const i = typeof which === 'number' ? which : this.silos.indexOf(which);
    const silo = this.silos[i];
    if (silo === undefined) throw new RangeError(`no silo ${typeof which === 'number' ? `at index ${which}` : 'like that'} in this cluster (it has ${this.silos.length})`);
    this.silos.splice(i, 1);
    return silo;
  }
}
