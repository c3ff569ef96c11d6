/**
 * The catalog: the activations of one silo, by grain id. It creates an activation on the
 * first call (registering it in the directory first, so there is one per grain in the
 * cluster), runs idle collection, and deactivates — re-routing every call that arrives
 * meanwhile, so nothing is lost.
 */
import { Activation, Status, type ActivationHost } from './activation.js';
import { Buckets } from './buckets.js';
import type { Clock } from './clock.js';
import type { Directory, DirectoryEntry } from './cluster.js';
import { Bulkhead } from './bulkhead.js';
import { GrainNotFoundError, SiloUnavailableError } from './errors.js';
import type { CallFilter } from './filters.js';
import type { DeactivationReason } from './grain.js';
import { HostCore, activationError } from './host-core.js';
import type { GrainClass, GrainTypes } from './grain-type.js';
import type { PendingCall } from './pending-call.js';
import type { StorageProvider } from './storage.js';

export interface CatalogOptions {
  siloId: string;
  clock: Clock;
  storage: StorageProvider;
  directory: Directory;
  types: GrainTypes;
  defaultIdleTimeoutMs: number;
  /** How long a graceful stop waits for running turns before deactivating anyway. */
  drainTimeoutMs: number;
  /** Width of the idle collector's buckets: how late past its timeout a grain may go. */
  collectionQuantumMs: number;
  /** Silo-wide incoming call filters. */
  incomingFilters?: readonly CallFilter[];
  ref(type: string | GrainClass, key: string): unknown;
  copy(value: unknown): unknown;
  /** Routes a call from scratch (directory, placement, transport). */
  route(call: PendingCall): void;
  /** Sends a call to the silo that hosts the grain. */
  forward(call: PendingCall, siloId: string): void;
  /** New activations go elsewhere (the silo is stopping); undefined when there is nowhere. */
  placeElsewhere(call: PendingCall): void;
  onError(what: string, err: unknown, grain?: string): void;
  /** Runs an activation's start (state read, `onActivate`) through `run` (the silo's tracing span). */
  activating?(act: Activation, run: () => Promise<void>): Promise<void>;
  /** A call's turn failed: its caller gets `err` (the silo logs grain exceptions). */
  onCallError?(act: Activation, call: PendingCall, err: unknown, answer: unknown): void;
  /** Overload protection (defaults in `OVERLOAD_DEFAULTS`). */
  limits?: Partial<CatalogLimits>;
}

export interface CatalogLimits {
  /**
   * Activations this silo keeps at most: past it, the idle ones nearest their idle timeout
   * (least recently used) are deactivated (reason `overload`); when none is idle, calls that
   * need a new activation are refused (`SiloUnavailableError`, HTTP 503 with `retry-after`).
   */
  maxActivations: number;
  /** Activations starting at once (directory registration, state read, `onActivate`): the bulkhead. */
  maxConcurrentActivations: number;
  /** Activations waiting for the bulkhead; past it, refused like the above. */
  maxPendingActivations: number;
  /** The `retry-after` a refusal suggests. */
  retryAfterMs: number;
}

export const OVERLOAD_DEFAULTS: CatalogLimits = {
  maxActivations: 250_000,
  maxConcurrentActivations: 64,
  maxPendingActivations: 20_000,
  retryAfterMs: 1_000,
};

/** How many idle activations are deactivated at once. */
const DEACTIVATION_BATCH = 500;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

export class Catalog extends HostCore implements ActivationHost {
  private readonly activations = new Map<string, Activation>();
  private readonly idle: Buckets<Activation>;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Found idle by the collector, waiting for deactivation. */
  private expired: Activation[] = [];
  private sequence = 0;
  /** No new activations here: calls for grains not active go elsewhere. */
  accepting = true;
  readonly limits: CatalogLimits;
  private readonly bulkhead: Bulkhead;
  /** Shed for overload and still deactivating (so the count that matters excludes them). */
  private shedding = 0;
  shedTotal = 0;
  refusedTotal = 0;
  activationsTotal = 0;
  deactivationsTotal = 0;

  readonly storage: StorageProvider;
  readonly defaultIdleTimeoutMs: number;

  constructor(private readonly options: CatalogOptions) {
    super({ clock: options.clock, incomingFilters: options.incomingFilters });
    this.limits = { ...OVERLOAD_DEFAULTS, ...options.limits };
    this.bulkhead = new Bulkhead(this.limits.maxConcurrentActivations, this.limits.maxPendingActivations);
    this.storage = options.storage;
    this.defaultIdleTimeoutMs = options.defaultIdleTimeoutMs;
    this.idle = new Buckets(options.clock, options.collectionQuantumMs, (act, now) => this.checkIdle(act, now));
  }

  get(key: string): Activation | undefined {
    return this.activations.get(key);
  }

  get size(): number {
    return this.activations.size;
  }

  /** Live (valid) activations of a type, or of all types. */
  count(type?: string): number {
    let n = 0;
    for (const a of this.activations.values()) if (a.status === Status.Valid && (type === undefined || a.type.name === type)) n++;
    return n;
  }

  /** The live (valid) activations, in no particular order (the management API lists them). */
  *live(): IterableIterator<Activation> {
    for (const a of this.activations.values()) if (a.status === Status.Valid) yield a;
  }

  countsByType(): Map<string, number> {
    const m = new Map<string, number>();
    for (const a of this.activations.values()) if (a.status === Status.Valid) m.set(a.type.name, (m.get(a.type.name) ?? 0) + 1);
    return m;
  }

  /** Delivers a call to this silo's activation of its grain, creating it if needed. */
  deliver(call: PendingCall): void {
    const act = this.activations.get(call.targetKey);
    if (act !== undefined) {
      act.receive(call);
      return;
    }
    const type = this.options.types.get(call.target.type);
    if (type === undefined) {
      call.reject(new GrainNotFoundError(`grain type "${call.target.type}" is not hosted by silo ${this.options.siloId}`));
      return;
    }
    if (!this.accepting) {
      this.options.placeElsewhere(call);
      return;
    }
    if (this.activations.size - this.shedding >= this.limits.maxActivations && !this.shedIdle()) {
      this.refuse(call, `silo ${this.options.siloId} holds its maximum of ${this.limits.maxActivations} activations, none of them idle`);
      return;
    }
    const created = new Activation({ id: call.target, key: call.targetKey, type, activationId: String(++this.sequence), host: this });
    this.activations.set(call.targetKey, created);
    // Queued first: a start refused at once (the bulkhead is full) answers it.
    created.receive(call);
    this.track(this.start(created));
  }

  /** A call that needs a new activation this silo cannot take now. */
  private refuse(call: PendingCall, why: string): void {
    this.refusedTotal++;
    call.reject(new SiloUnavailableError(`${why}; retry in ${Math.ceil(this.limits.retryAfterMs / 1000)} s (or raise the silo's limits: docs/deploy.md "Overload")`, {
      data: { reason: 'overloaded', retryAfterMs: this.limits.retryAfterMs },
    }));
  }

  /**
   * Deactivates idle activations, least recently used first (the idle collector's buckets are
   * ordered by idle expiry), until the silo is back under its bound with a little room, so
   * the next activations do not each shed one. Returns whether it found any.
   */
  private shedIdle(): boolean {
    const excess = this.activations.size - this.shedding - this.limits.maxActivations + 1;
    const want = excess + Math.ceil(this.limits.maxActivations / 100);
    // The buckets order activations by the expiry they were filed under; one used since then
    // expires later than its bucket says. Take a few more candidates than needed from the
    // earliest buckets and keep those whose real expiry is earliest: least recently used.
    const candidates = new Set<Activation>();
    for (const act of this.idle.ascending()) {
      if (candidates.size >= 2 * want + 16) break;
      if (act.status === Status.Valid && act.isIdle() && this.activations.get(act.key) === act) candidates.add(act);
    }
    if (candidates.size === 0) return false;
    const picked = [...candidates].sort((a, b) => a.expiresAt() - b.expiresAt()).slice(0, want);
    this.shedding += picked.length;
    this.shedTotal += picked.length;
    for (const act of picked) {
      this.track(this.deactivate(act, 'overload').finally(() => { this.shedding--; }));
    }
    return picked.length >= excess;
  }

  private async start(act: Activation): Promise<void> {
    const mine: DirectoryEntry = { silo: this.options.siloId, activation: act.activationId };
    let registered = false;
    // The bulkhead: a bounded number of activations start at once; past its queue, refuse.
    const place = this.bulkhead.enter();
    if (place === false) {
      this.drop(act);
      this.refusedTotal++;
      act.fail(new SiloUnavailableError(
        `silo ${this.options.siloId} has ${this.limits.maxPendingActivations} activations waiting to start; retry in ${Math.ceil(this.limits.retryAfterMs / 1000)} s`,
        { data: { reason: 'overloaded', retryAfterMs: this.limits.retryAfterMs } },
      ));
      return;
    }
    await place;
    try {
      let winner = await this.options.directory.register(act.id, mine);
      if (winner.silo === mine.silo && winner.activation !== mine.activation) {
        // A leftover entry of an earlier activation on this very silo: it is gone, replace it.
        await this.options.directory.unregister(act.id, winner);
        winner = await this.options.directory.register(act.id, mine);
      }
      if (winner.silo !== mine.silo || winner.activation !== mine.activation) {
        this.drop(act);
        act.markEnded();
        for (const c of act.takeQueue()) this.options.forward(c, winner.silo);
        return;
      }
      registered = true;
      await (this.options.activating === undefined ? act.activate() : this.options.activating(act, () => act.activate()));
      this.activationsTotal++;
    } catch (err) {
      this.drop(act);
      const reported = activationError(act.key, err);
      this.options.onError('activation', err, act.key);
      act.fail(reported);
      if (registered) await this.options.directory.unregister(act.id, mine).catch(() => undefined);
    } finally {
      this.bulkhead.release();
    }
  }

  /** Activations starting now and waiting to start. */
  get starting(): { active: number; queued: number } {
    return { active: this.bulkhead.active, queued: this.bulkhead.queued };
  }

  // ---- ActivationHost ------------------------------------------------------------

  ref(type: string | GrainClass, key: string): unknown {
    return this.options.ref(type, key);
  }

  copy(value: unknown): unknown {
    return this.options.copy(value);
  }

  protected activationOf(key: string): Activation | undefined {
    return this.activations.get(key);
  }

  protected routeAgain(call: PendingCall): void {
    this.options.route(call);
  }

  scheduleIdleCheck(act: Activation, at: number): void {
    this.idle.add(act, at);
  }

  requestDeactivation(act: Activation, reason: DeactivationReason): void {
    this.track(this.deactivate(act, reason));
  }

  callFailed(act: Activation, call: PendingCall, err: unknown, answer: unknown): void {
    this.options.onCallError?.(act, call, err, answer);
  }

  reportError(act: Activation, what: string, err: unknown): void {
    this.options.onError(what, err, act.key);
  }

  // ---- idle collection and deactivation ------------------------------------------

  private checkIdle(act: Activation, now: number): void {
    // A valid activation is always the one in the map (it leaves the map only once ended).
    if (act.status !== Status.Valid) return;
    const expires = act.expiresAt();
    if (expires <= now && act.isIdle()) {
      this.expired.push(act);
      if (this.expired.length === 1) this.track(this.drainExpired());
    } else {
      this.idle.add(act, Math.max(expires, now + 1));
    }
  }

  /**
   * Deactivates what the collector found, `DEACTIVATION_BATCH` at a time, yielding between
   * batches: the tick stays short, and a wave of expiries does not flood storage and the
   * directory with thousands of concurrent requests.
   */
  private async drainExpired(): Promise<void> {
    await yieldToEventLoop();
    while (this.expired.length > 0) {
      const batch = this.expired.splice(0, DEACTIVATION_BATCH);
      await Promise.all(batch.map((act) => (act.isIdle() && act.expiresAt() <= this.clock.now()
        ? this.deactivate(act, 'idle')
        : this.refile(act))));
    }
  }

  private refile(act: Activation): void {
    if (act.status === Status.Valid) this.idle.add(act, Math.max(act.expiresAt(), this.clock.now() + 1));
  }

  /** Runs the idle collector now (normally the clock does); returns activations examined. */
  collectIdle(): number {
    return this.idle.sweep();
  }

  async deactivate(act: Activation, reason: DeactivationReason): Promise<void> {
    if (act.status !== Status.Valid) return;
    const queued = await act.deactivate(reason, reason === 'shutdown' ? this.options.drainTimeoutMs : Infinity);
    await this.options.directory
      .unregister(act.id, { silo: this.options.siloId, activation: act.activationId })
      .catch((err) => this.options.onError('directory unregister', err, act.key));
    this.drop(act);
    this.deactivationsTotal++;
    act.markEnded();
    for (const c of queued) this.reroute(c);
  }

  /** Deactivates everything (graceful stop); new calls are placed elsewhere meanwhile. */
  async deactivateAll(reason: DeactivationReason): Promise<void> {
    this.accepting = false;
    await this.settled();
    const all = [...this.activations.values()];
    await Promise.all(all.map((a) => this.deactivate(a, reason)));
    await this.settled();
  }

  /**
   * Deactivates every activation but keeps taking calls: each grain activates again on its
   * next call, wherever the directory then says (after this silo was declared dead).
   */
  async deactivateEvery(reason: DeactivationReason): Promise<void> {
    await this.settled();
    await Promise.all([...this.activations.values()].map((a) => this.deactivate(a, reason)));
  }

  /** Drops every activation with no hooks, no directory goodbye (a crash). */
  abandonAll(): void {
    this.accepting = false;
    this.stop();
    for (const a of this.activations.values()) a.abandon();
    this.activations.clear();
  }

  /** Resolves when no activation or deactivation is in progress. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  stop(): void {
    this.idle.stop();
    this.stopWatchdog();
  }

  private drop(act: Activation): void {
    if (this.activations.get(act.key) === act) this.activations.delete(act.key);
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    p.finally(() => this.inflight.delete(p));
  }
}
