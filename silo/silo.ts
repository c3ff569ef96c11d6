/**
 * A silo: hosts activations of its grain classes, joins a cluster, persists state through
 * a storage provider. `Silo.start` wires the parts; everything it needs has a default, so
 * `Silo.start({ grains })` runs a single in-process silo with memory storage.
 */
import { ulid } from 'ulid';
import {
  Catalog, GrainTypes, SiloUnavailableError, makeRef, systemClock,
  type CallFilters, type CatalogLimits, type Clock, type ClusterConnection, type ClusterProvider, type GrainClass, type GrainRef, type Grain,
  type ReminderService, type SiloInfo, type StorageProvider, type StreamProvider, type StreamService,
} from '../runtime/index.js';
import { tracingFilters, withSpan } from '../runtime/features/tracing/index.js';
import { RecentErrors, grainErrorLog } from './grain-error-log.js';
import { tracedStorage } from './traced-storage.js';
import { ADMIN_MESSAGE_PREFIX, SiloAdmin } from './admin.js';
import { DashboardData } from './dashboard-data.js';
import type { GatewayOptions } from './gateway/silo-gateway.js';
import type { NodeGateway } from './gateway/node-server.js';
import { envLogLevel, jsonLogger, type Logger } from './log.js';
import { SiloMetrics, callHead, countingStorage, replyOutcome } from './metrics.js';
import { memoryCluster, memoryStorage } from './memory/index.js';
import { siloReminders, type SiloReminderOptions } from './reminders.js';
import { startStorageSweep, type StorageSweep, type StorageSweepOptions } from './storage-sweep.js';
import { Router } from './router.js';
import { siloStreams, type SiloStreamOptions } from './streams.js';

export interface SiloOptions {
  /** The grain classes this silo hosts. */
  grains: readonly GrainClass[];
  /** Default: a private in-process cluster (`memoryCluster()`). */
  cluster?: ClusterProvider;
  /** Default: `memoryStorage()`. */
  storage?: StorageProvider;
  /** Idle time after which an activation is deactivated, for types that set none (default 15 min). */
  idleTimeoutMs?: number;
  /** How long a caller waits for a response (default 30 s). */
  responseTimeoutMs?: number;
  /** How often the idle collector looks (default 1 s): an idle grain goes at most this late. */
  collectionQuantumMs?: number;
  /** How long a graceful stop waits for running calls to finish (default 30 s). */
  drainTimeoutMs?: number;
  /** Time source (TestCluster passes a fake clock). */
  clock?: Clock;
  /** Send local calls through the codec too, as if they crossed the network (TestCluster). */
  serializeLocalCalls?: boolean;
  logger?: Logger;
  /** Hono HTTP gateway (see silo/gateway); started after the silo joins. Omitted: none. */
  gateway?: GatewayOptions;
  /**
   * Grain call filters: `incoming` around every call to a grain this silo hosts (from a client,
   * HTTP or a grain), `outgoing` around every call this silo's grains make.
   */
  filters?: CallFilters;
  /**
   * Overload protection: the most activations kept (idle ones shed least recently used first),
   * how many start at once and wait to start; see docs/deploy.md "Overload".
   */
  limits?: Partial<CatalogLimits>;
  /**
   * Durable reminders (when the storage provider keeps them): how often this silo reads the
   * partitions it owns, how far ahead, retries; `{ fire: false }` fires none here.
   */
  reminders?: SiloReminderOptions;
  /**
   * The storage's orphan sweep (DynamoDB's leftover chunks), a bounded slice per period on the
   * live silo with the lowest id; `false`: none (run `collectOrphanChunks` yourself).
   */
  storageSweep?: StorageSweepOptions | false;
  /** Where streams live (default: the storage provider's `streams`, e.g. `memoryStorage()`'s); omitted and none there: no streams. */
  streams?: StreamProvider;
  /** How this silo delivers stream items: read-ahead per subscriber, retry policy; `{ deliver: false }` delivers none here. */
  streamDelivery?: SiloStreamOptions;
  /**
   * OpenTelemetry spans for calls, activations and storage (default true): they are made only
   * while a tracer provider is registered, so with no SDK this costs one check per call.
   */
  tracing?: boolean;
  /** Log each grain exception that reaches a caller, once, at `warn` (default true). */
  logGrainErrors?: boolean;
  /** How often an open `GET /dashboard` page gets fresh numbers (default 1 s). */
  dashboardIntervalMs?: number;
}

export type SiloState = 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

export class Silo {
  readonly id: string;
  readonly types: GrainTypes;
  readonly storage: StorageProvider;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly startedAt: number;
  state: SiloState = 'starting';
  /** Calls that entered through the gateway or from other silos, storage errors (`GET /metrics`). */
  readonly metrics = new SiloMetrics();
  /** @internal The management API's answers for the whole cluster (`GET /admin/*`), from this silo. */
  admin!: SiloAdmin;
  /** @internal What `GET /dashboard` shows, gathered from the whole cluster at most once a second. */
  get dashboard(): DashboardData {
    return (this.dashboardData ??= new DashboardData(this.admin, this.id, this.dashboardIntervalMs));
  }
  private dashboardData: DashboardData | undefined;
  private dashboardIntervalMs = 1_000;
  /** @internal The last grain exceptions logged on this silo (the dashboard shows them). */
  readonly recentErrors = new RecentErrors();
  /** The HTTP gateway, when `gateway` was given. */
  gateway: NodeGateway | undefined;
  /** @internal */ router!: Router;
  /** @internal */ catalog!: Catalog;
  /** @internal */ connection!: ClusterConnection;
  private storageSweep: StorageSweep | undefined;
  /** @internal Fires the reminders of the partitions this silo owns (undefined: the storage keeps none, or `fire: false`). */
  reminders: ReminderService | undefined;
  /** The stream provider this silo's grains use (undefined: none). */
  readonly streamProvider: StreamProvider | undefined;
  /** Delivers the streams this silo owns (undefined: no provider, or `deliver: false`). */
  streams: StreamService | undefined;
  private info: SiloInfo;
  private readonly refFor: (type: string | GrainClass, key: string) => unknown;

  private constructor(options: SiloOptions) {
    this.clock = options.clock ?? systemClock;
    // A clock with its own randomness (a seeded simulation) names the silo too, so a run repeats.
    this.id = this.clock.random === undefined ? ulid() : ulid(this.clock.now(), this.clock.random.bind(this.clock));
    this.types = new GrainTypes(options.grains);
    this.dashboardIntervalMs = options.dashboardIntervalMs ?? 1_000;
    this.storage = options.storage ?? memoryStorage();
    this.streamProvider = options.streams ?? this.storage.streams;
    this.startedAt = this.clock.random === undefined ? Date.now() : this.clock.now();
    this.logger = (options.logger ?? jsonLogger({ level: envLogLevel('warn') })).child({ silo: this.id });
    this.info = { id: this.id, types: this.types.names(), startedAt: this.startedAt, status: 'active' };
    // References may name classes this silo does not host; they are known, not hosted.
    const known = new GrainTypes(options.grains);
    this.refFor = (type, key) => makeRef(known, typeof type === 'string' ? type : known.add(type).name, key, this.router);
  }

  static async start(options: SiloOptions): Promise<Silo> {
    if (!options || !Array.isArray(options.grains)) throw new TypeError('Silo.start needs { grains: [GrainClass, ...] }');
    const silo = new Silo(options);
    await silo.boot(options);
    return silo;
  }

  private async boot(options: SiloOptions): Promise<void> {
    const provider = options.cluster ?? memoryCluster();
    const decodeOptions = { ref: (t: string, k: string) => this.refFor(t, k) };
    let router: Router | undefined;
    // Built-in filters first (outermost): tracing sees the whole call, the error log sees the span.
    const tracing = options.tracing === false ? undefined : tracingFilters({ siloId: this.id });
    const logError = options.logGrainErrors === false ? undefined : grainErrorLog({ logger: this.logger, onError: (r) => this.recentErrors.push(r) });
    const incoming = [...(tracing?.incoming ?? []), ...(options.filters?.incoming ?? [])];
    const outgoing = [...(tracing?.outgoing ?? []), ...(options.filters?.outgoing ?? [])];
    this.connection = await provider.connect({
      silo: this.info,
      clock: this.clock,
      inbound: (payload, origin) => (payload.startsWith(ADMIN_MESSAGE_PREFIX) && this.admin !== undefined ? this.admin.handle(payload, origin) : router ? this.countInbound(payload, router.inbound(payload, origin)) : Promise.reject(new SiloUnavailableError(`silo ${this.id} is starting`))),
      onDeclaredDead: async () => {
        this.logger.warn('the cluster declared this silo dead while it runs: deactivating its activations before it rejoins', { activations: this.catalog?.count() ?? 0 });
        await this.catalog?.deactivateEvery('fenced');
      },
    });
    router = new Router({
      connection: this.connection,
      clock: this.clock,
      responseTimeoutMs: options.responseTimeoutMs ?? 30_000,
      decodeOptions,
      self: () => this.info,
      types: this.types,
      serializeLocalCalls: options.serializeLocalCalls ?? false,
      outgoingFilters: outgoing,
      outgoingFromGrainsOnly: true,
    });
    this.router = router;
    this.catalog = new Catalog({
      siloId: this.id,
      clock: this.clock,
      storage: countingStorage(options.tracing === false ? this.storage : tracedStorage(this.storage, this.id), this.metrics),
      directory: this.connection.directory,
      types: this.types,
      defaultIdleTimeoutMs: options.idleTimeoutMs ?? 15 * 60_000,
      collectionQuantumMs: options.collectionQuantumMs ?? 1_000,
      drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
      incomingFilters: incoming,
      limits: options.limits,
      ref: this.refFor,
      copy: (v) => router.copy(v),
      route: (c) => router.route(c),
      forward: (c, s) => router.forward(c, s),
      placeElsewhere: (c) => router.placeElsewhere(c),
      onError: (what, err, grain) => this.logger.warn(`${what} failed`, { grain, err }),
      activating: tracing === undefined ? undefined : (act, run) =>
        withSpan(`activate ${act.id.type}`, { 'granary.grain.type': act.id.type, 'granary.grain.key': act.id.key, 'granary.silo.id': this.id }, run),
      onCallError: logError && ((act, call, err, answer) => logError({ type: act.id.type, key: act.id.key, method: call.method, caller: call.caller }, err, answer)),
    });
    router.catalog = this.catalog;
    this.admin = new SiloAdmin({
      siloId: this.id, connection: this.connection, catalog: () => this.catalog,
      insights: () => ({
        calls: this.metrics.methodStats(),
        slowest: this.metrics.slowestCalls(),
        errors: this.recentErrors.list().slice(-20).map(({ stack: _stack, ...rest }) => rest),
      }),
    });
    const reminderStore = this.storage.reminders;
    if (reminderStore !== undefined) {
      this.reminders = siloReminders({
        store: reminderStore,
        clock: this.clock,
        siloId: this.id,
        membership: this.connection.membership,
        catalog: this.catalog,
        route: (c) => router.route(c),
        responseTimeoutMs: options.responseTimeoutMs ?? 30_000,
        options: options.reminders,
        onError: (what, err, grain) => this.logger.warn(`${what} failed`, { grain, err }),
      });
    }
    if (this.streamProvider !== undefined) {
      this.streams = siloStreams({
        provider: this.streamProvider,
        clock: this.clock,
        siloId: this.id,
        membership: this.connection.membership,
        catalog: this.catalog,
        types: this.types,
        decodeOptions,
        route: (c) => router.route(c),
        responseTimeoutMs: options.responseTimeoutMs ?? 30_000,
        options: options.streamDelivery,
        onError: (what, err, grain) => this.logger.warn(`${what} failed`, { grain, err }),
      });
    }
    await this.connection.join();
    this.state = 'running';
    this.reminders?.start();
    if (options.storageSweep !== false) {
      this.storageSweep = startStorageSweep({
        storage: this.storage, clock: this.clock, siloId: this.id, membership: this.connection.membership,
        options: options.storageSweep, onError: (err) => this.logger.warn('storage sweep failed', { err }),
      });
    }
    this.streams?.start();
    if (options.gateway) {
      try {
        const { startSiloGateway } = await import('./gateway/silo-gateway.js');
        this.gateway = await startSiloGateway(this, options.gateway);
        this.logger.info('gateway listening', { port: this.gateway.port, host: this.gateway.host, url: this.gateway.url });
      } catch (err) {
        await this.stop();
        throw err;
      }
    }
    this.logger.info('silo started', { cluster: provider.name, storage: this.storage.name, grains: this.info.types, exposes: this.types.exposed() });
  }

  /** A typed reference to a grain, called from this silo. */
  getGrain<G extends Grain<any>>(cls: GrainClass<G>, key: string): GrainRef<G>; // eslint-disable-line @typescript-eslint/no-explicit-any
  getGrain<G>(type: string, key: string): GrainRef<G>;
  getGrain(type: string | GrainClass, key: string): unknown {
    return this.refFor(type, key);
  }

  /** Live activations on this silo (of one type, or all). */
  activationCount(type?: string): number {
    return this.catalog.count(type);
  }

  get ready(): boolean {
    return this.state === 'running';
  }

  /** Counts a call from another silo once its reply is ready (never on the local call path). */
  private countInbound(payload: string, reply: Promise<string>): Promise<string> {
    const started = performance.now();
    return reply.then((text) => {
      const { type, method } = callHead(payload);
      this.metrics.recordCall('inbound', type, method, replyOutcome(text), (performance.now() - started) / 1000);
      return text;
    });
  }

  /** The Prometheus text of `GET /metrics`. */
  renderMetrics(): string {
    return this.metrics.render({
      activationsByType: () => this.catalog.countsByType(),
      activationsTotal: () => this.catalog.activationsTotal,
      deactivationsTotal: () => this.catalog.deactivationsTotal,
      overload: () => {
        const { active, queued } = this.catalog.starting;
        return { shed: this.catalog.shedTotal, refused: this.catalog.refusedTotal, starting: active, waiting: queued };
      },
      ready: () => this.ready,
      transportInFlight: () => this.connection.transport.inFlight,
      reminders: () => this.reminders?.counters,
      streams: () => this.streams?.counters,
    });
  }

  /**
   * Graceful stop: stop taking new activations, finish running calls, deactivate every grain
   * (running `onDeactivate` and leaving the directory), then leave the cluster.
   */
  async stop(): Promise<void> {
    if (this.state !== 'running' && this.state !== 'starting') return;
    this.state = 'stopping';
    this.logger.info('silo stopping');
    this.info = { ...this.info, status: 'draining' };
    // The gateway goes first: no new HTTP calls, the ones in flight finish on running grains.
    await this.gateway?.close().catch((err) => this.logger.warn('closing the gateway failed', { err }));
    await this.connection.setStatus('draining').catch((err) => this.logger.warn('could not announce draining', { err }));
    // Its reminder partitions go to the active silos (draining ones own none) once it stops firing.
    this.storageSweep?.stop();
    await this.reminders?.stop();
    await this.streams?.stop();
    await this.catalog.deactivateAll('shutdown');
    await this.connection.leave().catch((err) => this.logger.warn('leaving the cluster failed', { err }));
    this.catalog.stop();
    this.router.close();
    this.state = 'stopped';
    this.logger.info('silo stopped');
  }

  /** Crashes the silo for tests: no deactivation, no goodbye to the cluster. */
  async abort(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'crashed') return;
    this.state = 'crashed';
    void this.gateway?.close(0);
    this.storageSweep?.stop();
    void this.reminders?.stop(true);
    void this.streams?.stop(true);
    this.catalog.abandonAll();
    this.router.close();
    await this.connection.close();
  }
}
