/**
 * A silo: hosts activations of its grain classes, joins a cluster, persists state through
 * a storage provider. `Silo.start` wires the parts; everything it needs has a default, so
 * `Silo.start({ grains })` runs a single in-process silo with memory storage.
 */
import { ulid } from 'ulid';
import {
  Catalog, GrainTypes, SiloUnavailableError, makeRef, systemClock,
  type CallFilters, type CatalogLimits, type Clock, type ClusterConnection, type ClusterProvider, type GrainClass, type GrainRef, type Grain,
  type SiloInfo, type StorageProvider,
} from '../runtime/index.js';
import type { GatewayOptions } from './gateway/silo-gateway.js';
import type { NodeGateway } from './gateway/node-server.js';
import { envLogLevel, jsonLogger, type Logger } from './log.js';
import { SiloMetrics, callHead, countingStorage, replyOutcome } from './metrics.js';
import { memoryCluster, memoryStorage } from './memory/index.js';
import { Router } from './router.js';

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
  /** The HTTP gateway, when `gateway` was given. */
  gateway: NodeGateway | undefined;
  /** @internal */ router!: Router;
  /** @internal */ catalog!: Catalog;
  /** @internal */ connection!: ClusterConnection;
  private info: SiloInfo;
  private readonly refFor: (type: string | GrainClass, key: string) => unknown;

  private constructor(options: SiloOptions) {
    this.id = ulid();
    this.types = new GrainTypes(options.grains);
    this.storage = options.storage ?? memoryStorage();
    this.clock = options.clock ?? systemClock;
    this.startedAt = Date.now();
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
    this.connection = await provider.connect({
      silo: this.info,
      clock: this.clock,
      inbound: (payload, origin) => (router ? this.countInbound(payload, router.inbound(payload, origin)) : Promise.reject(new SiloUnavailableError(`silo ${this.id} is starting`))),
    });
    router = new Router({
      connection: this.connection,
      clock: this.clock,
      responseTimeoutMs: options.responseTimeoutMs ?? 30_000,
      decodeOptions,
      self: () => this.info,
      types: this.types,
      serializeLocalCalls: options.serializeLocalCalls ?? false,
      outgoingFilters: options.filters?.outgoing,
      outgoingFromGrainsOnly: true,
    });
    this.router = router;
    this.catalog = new Catalog({
      siloId: this.id,
      clock: this.clock,
      storage: countingStorage(this.storage, this.metrics),
      directory: this.connection.directory,
      types: this.types,
      defaultIdleTimeoutMs: options.idleTimeoutMs ?? 15 * 60_000,
      collectionQuantumMs: options.collectionQuantumMs ?? 1_000,
      drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
      incomingFilters: options.filters?.incoming,
      limits: options.limits,
      ref: this.refFor,
      copy: (v) => router.copy(v),
      route: (c) => router.route(c),
      forward: (c, s) => router.forward(c, s),
      placeElsewhere: (c) => router.placeElsewhere(c),
      onError: (what, err, grain) => this.logger.warn(`${what} failed`, { grain, err }),
    });
    router.catalog = this.catalog;
    await this.connection.join();
    this.state = 'running';
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
    this.catalog.abandonAll();
    this.router.close();
    await this.connection.close();
  }
}
