/**
 * TestCluster: several silos in one process on the in-memory cluster, a client that is
 * hosted on none of them, and a fake clock. Every call goes through the wire codec, local
 * ones included, so what passes here passes between processes.
 *
 * With a `seed` it is a deterministic simulation (testing/simulation.ts): time is simulated
 * and jumps while client calls wait, randomness and injected faults draw from the seed, and
 * `history` (kept always) repeats event for event.
 */
import {
  FakeClock, InvalidArgumentError, settle, TimeoutError,
  type CallFilter, type CallFilters, type GrainClass, type StorageProvider, type ClusterProvider, type StreamProvider,
} from '../runtime/index.js';
import { GrainClient } from '../client/index.js';
import { jsonLogger, type Logger } from './log.js';
import { memoryCluster, memoryStorage } from './memory/index.js';
import { Silo, type SiloOptions } from './silo.js';
import type { HistoryEvent } from './testing/history.js';
import { SeededRandom } from './testing/random.js';
import { SimulatedClock, SimulatedNetwork, simulatedStorage, validateFaults, type SimulationFaults } from './testing/simulation.js';

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
  /** Reminder service options for every silo (as `Silo.start({ reminders })`). */
  reminders?: SiloOptions['reminders'];
  /** The stream provider every silo and client shares (default: the storage's, `memoryStorage()`'s). */
  streams?: StreamProvider;
  /** Stream delivery options for every silo (as `Silo.start({ streamDelivery })`). */
  streamDelivery?: SiloOptions['streamDelivery'];
  /**
   * Makes the cluster a deterministic simulation: simulated time, and every random choice
   * (silo ids, placement, transaction ids, message delays, faults) drawn from this seed
   * (a whole number below 2^32). The same seed gives the same `history`.
   */
  seed?: number;
  /** Faults to inject, drawn from the seed (a random seed is picked, and named in failures, when none is given). */
  faults?: SimulationFaults;
}

/** Options of `runUntilQuiet`. */
export interface RunUntilQuietOptions {
  /** Simulated time after which the run counts as stuck and fails, naming the seed (default 10 minutes). */
  maxMs?: number;
}

export class TestCluster {
  readonly silos: Silo[] = [];
  readonly clock: FakeClock;
  readonly storage: StorageProvider;
  readonly provider: ClusterProvider;
  /** The stream provider the silos and clients share (undefined: none). */
  readonly streams: StreamProvider | undefined;
  client!: GrainClient;
  /** The seed of a simulation (undefined for a plain TestCluster). */
  readonly seed: number | undefined;
  /**
   * Randomness for the test's own workload (which keys, which amounts), from the seed but a
   * stream of its own, so the workload does not shift when the runtime draws more or less.
   */
  readonly random: SeededRandom;
  /** Every call the cluster's clients made, in the order they finished (times are clock ms). */
  readonly history: HistoryEvent[] = [];
  private readonly network: SimulatedNetwork | undefined;
  private readonly clients: GrainClient[] = [];
  private inflight = 0;

  private constructor(private readonly options: TestClusterOptions) {
    if (options.faults !== undefined) validateFaults(options.faults);
    this.seed = options.seed ?? (options.faults !== undefined ? crypto.getRandomValues(new Uint32Array(1))[0]! : undefined);
    const inner = options.storage ?? memoryStorage();
    this.streams = options.streams ?? inner.streams;
    if (this.seed === undefined) {
      this.clock = new FakeClock();
      this.random = new SeededRandom(crypto.getRandomValues(new Uint32Array(1))[0]!);
      this.storage = inner;
      this.provider = options.cluster ?? memoryCluster({ name: 'test' });
      return;
    }
    const rng = new SeededRandom(this.seed);
    this.random = new SeededRandom((this.seed ^ 0x5bd1e995) >>> 0);
    const clock = new SimulatedClock(rng);
    const faults = options.faults ?? {};
    this.clock = clock;
    this.network = new SimulatedNetwork(rng, clock, faults);
    // Always wrapped, so that `setFaults` can turn storage faults on later.
    this.storage = simulatedStorage(inner, rng, clock, () => this.network!.faults, this.seed);
    this.provider = options.cluster ?? memoryCluster({ name: 'test', conditions: this.network });
  }

  static async start(options: TestClusterOptions): Promise<TestCluster> {
    const tc = new TestCluster(options);
    const n = options.silos ?? 2;
    for (let i = 0; i < n; i++) await tc.startSilo();
    tc.client = await tc.newClient('client');
    return tc;
  }

  /**
   * Another client (hosted on no silo), whose calls `history` records under `name`: give
   * each simulated user its own, so the history says who did what.
   */
  async newClient(name: string): Promise<GrainClient> {
    const client = await GrainClient.connect({
      cluster: this.provider, clock: this.clock, responseTimeoutMs: this.options.responseTimeoutMs,
      filters: { outgoing: [this.recorder(name)] }, streams: this.streams,
    });
    this.clients.push(client);
    return client;
  }

  /** `"seed N"` for failure messages, with how to repeat the run. */
  get seedNote(): string {
    return this.seed === undefined
      ? 'no seed (not a simulation)'
      : `simulation seed ${this.seed} (repeat it with TestCluster.start({ seed: ${this.seed}, ... }), or GRANARY_SIM_SEED=${this.seed} for the simulations of npm run sim)`;
  }

  /** Silos of group `a` and silos of group `b` (indexes into `silos`) stop reaching each other; clients still reach all. */
  async partition(a: readonly number[], b: readonly number[]): Promise<void> {
    this.simulated('partition').partition([a.map((i) => this.siloAt(i).id), b.map((i) => this.siloAt(i).id)]);
  }

  /** Replaces the faults of a simulation from now on (e.g. none while a test sets up its data). */
  setFaults(faults: SimulationFaults): void {
    validateFaults(faults);
    this.simulated('setFaults').faults = faults;
  }

  /** Waits `ms` of the cluster's time (simulated: it passes at once; a plain TestCluster advances its fake clock). */
  async sleep(ms: number): Promise<void> {
    if (!(this.clock instanceof SimulatedClock)) return this.advanceTime(ms);
    const release = this.clock.hold();
    try {
      await new Promise<void>((resolve) => this.clock.setTimer(resolve, ms));
    } finally {
      release();
    }
  }

  /** Ends every partition and pause. */
  async heal(): Promise<void> {
    this.simulated('heal').heal();
  }

  /**
   * Freezes silo `i` for `ms` of simulated time, as a long GC pause would: it stays a member
   * but hears and says nothing until then (messages to and from it wait). Returns at once.
   */
  async pauseSilo(i: number, ms: number): Promise<void> {
    this.simulated('pauseSilo').pause(this.siloAt(i).id, ms);
  }

  /**
   * Advances time until no client call, message, storage operation, retry or activation is
   * pending. Fails (naming the seed) when that takes more than `maxMs` of simulated time.
   */
  async runUntilQuiet(options: RunUntilQuietOptions = {}): Promise<void> {
    const limit = this.clock.now() + (options.maxMs ?? 600_000);
    // Rounds with work pending but no timer to move to: work waiting on something outside the clock.
    let stalled = 0;
    for (;;) {
      await this.settle();
      if (this.quiet()) return;
      const due = this.clock.nextDue;
      if (due !== undefined && due > limit) break;
      if (due !== undefined) {
        stalled = 0;
        await this.clock.advance(Math.max(0, due - this.clock.now()));
      } else if (++stalled > 1_000) {
        break;
      }
    }
    throw new TimeoutError(`the cluster was not quiet after ${options.maxMs ?? 600_000} ms of simulated time (${this.inflight} client calls in flight); ${this.seedNote}`);
  }

  /** Nothing in flight: no client call, message, storage operation or simulated retry. */
  private quiet(): boolean {
    const clock = this.clock instanceof SimulatedClock ? this.clock : undefined;
    const storage = this.storage as { readonly pending?: number };
    return this.inflight === 0 && (this.network?.inTransit ?? 0) === 0 && (clock?.waiting ?? 0) === 0 && (storage.pending ?? 0) === 0;
  }

  /** Records each call of client `name` into `history`, and keeps simulated time moving while it waits. */
  private recorder(name: string): CallFilter {
    return async (call, next) => {
      const start = this.clock.now();
      const args = snapshot(call.args) as unknown[];
      this.inflight++;
      const release = this.clock instanceof SimulatedClock ? this.clock.hold() : undefined;
      const base = { client: name, grain: call.grain.type, key: call.grain.key, method: call.method, args };
      // System messages (`$txn.finish`, …) are the runtime's, not the test's calls: waited for, not recorded.
      const record = !call.method.startsWith('$');
      try {
        const value = await next();
        if (record) this.history.push({ ...base, ok: true, value: snapshot(value), start, end: this.clock.now() });
        return value;
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        if (record) this.history.push({ ...base, ok: false, error: { name: e.name, message: e.message }, start, end: this.clock.now() });
        throw err;
      } finally {
        this.inflight--;
        release?.();
      }
    };
  }

  private simulated(what: string): SimulatedNetwork {
    if (this.network === undefined) {
      throw new InvalidArgumentError(`${what} needs a simulated network: start the cluster with TestCluster.start({ seed }) and no cluster option of your own`);
    }
    return this.network;
  }

  private siloAt(i: number): Silo {
    const silo = this.silos[i];
    if (silo === undefined) throw new RangeError(`no silo at index ${i} in this cluster (it has ${this.silos.length})`);
    return silo;
  }

  /** Starts one more silo and appends it to `silos`. */
  async startSilo(): Promise<Silo> {
    const silo = await this.holding(() => Silo.start({
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
      reminders: this.options.reminders,
      streams: this.streams,
      streamDelivery: this.options.streamDelivery,
    }));
    this.silos.push(silo);
    return silo;
  }

  /** Crashes a silo: no deactivation, no goodbye. It leaves `silos`. */
  async killSilo(which: number | Silo): Promise<void> {
    const silo = this.take(which);
    await this.holding(() => silo.abort());
    // In one process a crash is certain: tell the membership now, as NATS would after its
    // failover time, so the dead silo's reminder partitions move at once.
    silo.connection.membership.suspect(silo.id);
  }

  /** Stops a silo gracefully. It leaves `silos`. */
  async stopSilo(which: number | Silo): Promise<void> {
    const silo = this.take(which);
    await this.holding(() => silo.stop());
  }

  /** Moves the fake clock forward: idle collection and timers run, and their work settles. */
  async advanceTime(ms: number): Promise<void> {
    // In slices of the reminder poll period, settling in between: work that waits on real I/O
    // (a reminder store on DynamoDB) finishes before the clock moves past its next due time.
    const slice = this.options.reminders?.pollMs ?? 1_000;
    const target = this.clock.now() + ms;
    while (this.clock.now() < target) {
      await this.clock.advance(Math.min(slice, target - this.clock.now()));
      await this.settle();
    }
    await this.settle();
  }

  /**
   * Waits until no activation or deactivation is in progress on any silo. In a simulation,
   * time moves meanwhile (an activation may be waiting for a simulated storage read).
   */
  async settle(): Promise<void> {
    await this.holding(async () => {
      for (let i = 0; i < 3; i++) {
        await Promise.all(this.silos.map((s) => Promise.all([s.catalog.settled(), s.reminders?.settled(), s.streams?.settled()])));
        await settle();
      }
    });
  }

  /** Live activations of a type across all silos. */
  activationCount(type?: string | GrainClass): number {
    const name = typeof type === 'function' ? (type.grainType ?? type.name) : type;
    return this.silos.reduce((n, s) => n + s.activationCount(name), 0);
  }

  async stop(): Promise<void> {
    // A simulation winds down on a quiet network, in simulated time.
    if (this.network !== undefined) { this.network.faults = {}; this.network.heal(); }
    await this.holding(async () => {
      await Promise.all(this.clients.splice(0).map((c) => c.close()));
      const silos = this.silos.splice(0);
      await Promise.all(silos.map((s) => s.stop()));
    });
  }

  /** Runs `fn` with simulated time moving (a no-op wrapper for a plain TestCluster). */
  private async holding<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.clock instanceof SimulatedClock ? this.clock.hold() : undefined;
    try {
      return await fn();
    } finally {
      release?.();
    }
  }

  private take(which: number | Silo): Silo {
    const i = typeof which === 'number' ? which : this.silos.indexOf(which);
    const silo = this.silos[i];
    if (silo === undefined) throw new RangeError(`no silo ${typeof which === 'number' ? `at index ${which}` : 'like that'} in this cluster (it has ${this.silos.length})`);
    this.silos.splice(i, 1);
    return silo;
  }
}

/** A copy of what a call carried, so later changes by the test do not rewrite history. */
function snapshot(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}
