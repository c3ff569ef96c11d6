/**
 * Membership over a JetStream KV bucket: key = silo id, value = its `SiloInfo` as JSON. A
 * silo re-puts its entry every heartbeat; everyone watches the bucket and keeps the live
 * set in memory, so `live()` is synchronous. A silo is dead when its entry is deleted (it
 * left, or someone declared it dead), when its heartbeat is stale, or when a call to it got
 * "no responders" and a ping confirms nobody listens on its subject.
 *
 * Timers here are real timers: heartbeats are about the network, not grain time (the
 * TestCluster's fake clock drives grain time only).
 */
import type { KV, KvEntry, QueuedIterator } from 'nats';
import { SiloUnavailableError, type Membership, type SiloInfo, type SiloStatus } from '../../runtime/index.js';
import type { Logger } from '../log.js';
import type { ResolvedTimings } from './options.js';
import { parseSiloInfo, sameSiloInfo } from './silo-info.js';
import type { NatsTransport } from './transport.js';

interface Member {
  info: SiloInfo;
  /** KV revision of its latest entry (deletes are conditional on it). */
  revision: number;
  /** `performance.now()` of its latest heartbeat, as far as we can tell. */
  lastSeen: number;
}

export interface MembershipDeps {
  /** The membership bucket; replaced after a NATS restart (`rebind`). */
  kv: KV;
  /** Last stream sequence of the bucket: entries at or below it are replayed history. */
  lastSequence(): Promise<number>;
  transport: NatsTransport;
  timings: ResolvedTimings;
  logger: Logger;
  selfId: string | undefined;
  /** This silo's entry was removed while it runs: give up its activations before announcing it again. */
  onDeclaredDead?: (() => Promise<void>) | undefined;
}

/** Successive pings of a suspected silo. */
const PING_TIMEOUTS_MS = [100, 250, 500];

export class NatsMembership implements Membership {
  private readonly members = new Map<string, Member>();
  private snapshot: readonly SiloInfo[] = [];
  private readonly listeners = new Set<(live: readonly SiloInfo[]) => void>();
  private readonly checking = new Set<string>();
  private kv: KV;
  private watcher: QueuedIterator<KvEntry> | undefined;
  private generation = 0;
  private replayedUpTo = 0;
  /** Stream sequence when we last reconnected: entries above it were written since. */
  private reconnectSequence = 0;
  private lastEventAt = performance.now();
  /** No staleness verdicts before this (after start or a reconnect: give heartbeats time). */
  private graceUntil = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private self: SiloInfo | undefined;
  private joined = false;
  /** Giving up activations after being declared dead (see `onEntry`). */
  private fencing = false;
  /** `performance.now()` when the heartbeat in flight was sent. */
  private beatStartedAt: number | undefined;
  private stopped = false;
  connected = true;

  constructor(private readonly deps: MembershipDeps) {
    this.kv = deps.kv;
    const { heartbeatIntervalMs } = deps.timings;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, heartbeatIntervalMs / 2));
    this.sweepTimer.unref();
  }

  // ---- Membership port -------------------------------------------------------------

  live(): readonly SiloInfo[] {
    return this.snapshot;
  }

  isLive(siloId: string): boolean {
    const m = this.members.get(siloId);
    return m !== undefined;
  }

  onChange(listener: (live: readonly SiloInfo[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  suspect(siloId: string): void {
    if (!this.connected || this.stopped || siloId === this.deps.selfId || !this.isLive(siloId) || this.checking.has(siloId)) return;
    this.checking.add(siloId);
    void this.check(siloId).finally(() => this.checking.delete(siloId));
  }

  /**
   * "No responders" can also mean a silo between two NATS connections: ask it directly.
   * Only a second "no responders" is a verdict. A ping that times out proves nothing (the
   * silo may be busy, or the server may not have noticed a closed socket yet): ask again a
   * little later, a few times, and leave the rest to the heartbeat.
   */
  private async check(siloId: string): Promise<void> {
    for (const timeout of PING_TIMEOUTS_MS) {
      if (!this.connected || this.stopped || !this.isLive(siloId)) return;
      const pingedAt = performance.now();
      const result = await this.deps.transport.ping(siloId, Math.min(timeout, this.deps.timings.staleAfterMs / 4));
      if (result === 'alive') return;
      if (result === 'gone') {
        // After a NATS restart, a silo we have not heard from since may simply not have
        // reconnected yet (its subscription comes back with its connection): not a verdict.
        const m = this.members.get(siloId);
        if (m !== undefined && m.revision <= this.reconnectSequence) return;
        if (this.connected) this.declareDead(siloId, 'no responders', pingedAt);
        return;
      }
    }
  }

  // ---- for the directory -----------------------------------------------------------

  /**
   * Whether a silo is live, asking the bucket when the local view does not know it (a silo
   * that joined a moment ago, whose entry the watch has not delivered yet).
   */
  async confirmLive(siloId: string): Promise<boolean> {
    const known = this.members.get(siloId);
    if (known !== undefined) return true;
    const e = await this.kv.get(siloId);
    if (e === null || e.operation !== 'PUT') return false;
    const age = Math.max(0, Date.now() - e.created.getTime());
    if (age >= this.deps.timings.staleAfterMs) return false;
    this.onEntry(e, performance.now() - age);
    return this.isLive(siloId);
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /** Starts watching the bucket; resolves once the current members are known. */
  async start(): Promise<void> {
    this.graceUntil = 0;
    await this.watch();
  }

  async join(info: SiloInfo): Promise<void> {
    this.self = info;
    this.joined = true;
    await this.beat();
    this.heartbeatTimer = setInterval(() => { void this.beat(); }, this.deps.timings.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  async setStatus(status: SiloStatus): Promise<void> {
    if (this.self === undefined) return;
    this.self = { ...this.self, status };
    if (this.joined) await this.put(this.self);
  }

  /** Removes this silo's entry: everyone sees it leave at once. */
  async leave(): Promise<void> {
    this.joined = false;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const id = this.deps.selfId;
    if (id === undefined) return;
    this.remove(id);
    await this.kv.delete(id);
  }

  stop(): void {
    this.stopped = true;
    this.joined = false;
    clearInterval(this.sweepTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.watcher?.stop();
    this.watcher = undefined;
  }

  onDisconnect(): void {
    this.connected = false;
    // No "no responders" verdicts until we have heard who came back (see `check`).
    this.reconnectSequence = Infinity;
  }

  /** After a NATS restart: a fresh watch (the old consumer is gone), our heartbeat at once. */
  async onReconnect(kv: KV): Promise<void> {
    this.kv = kv;
    this.connected = true;
    const now = performance.now();
    // Everyone was cut off just like us: give them a full stale period to heartbeat again.
    for (const m of this.members.values()) m.lastSeen = Math.max(m.lastSeen, now);
    this.graceUntil = now + this.deps.timings.staleAfterMs;
    this.beatStartedAt = undefined;
    // Announce ourselves first: others are judging who came back.
    const beat = this.beat();
    await this.watch();
    this.reconnectSequence = this.replayedUpTo;
    await beat;
  }

  // ---- the watch ------------------------------------------------------------------------

  private async watch(): Promise<void> {
    const generation = ++this.generation;
    this.watcher?.stop();
    this.replayedUpTo = await this.deps.lastSequence();
    let initialized!: () => void;
    const ready = new Promise<void>((resolve) => { initialized = resolve; });
    // The watch says "initialized" when the last replayed entry is queued, not yet handled
    // here; the pending count below is exact, this is only the fallback for an empty bucket.
    const iter = await this.kv.watch({ initializedFn: () => { setTimeout(initialized, 50); } });
    this.watcher = iter;
    void (async () => {
      try {
        for await (const e of iter) {
          if (generation !== this.generation) break;
          this.lastEventAt = performance.now();
          this.onEntry(e);
          // The initial values are all in once nothing is pending for the watch's consumer.
          if (e.delta === 0) initialized();
        }
      } catch (err) {
        this.deps.logger.warn('membership watch failed; restarting it', { err });
      }
      if (generation === this.generation && !this.stopped) setTimeout(() => { void this.rewatch(generation); }, 250).unref();
    })();
    await ready;
  }

  private async rewatch(generation: number): Promise<void> {
    if (generation !== this.generation || this.stopped || !this.connected) return;
    await this.watch().catch((err) => this.deps.logger.warn('membership watch could not restart', { err }));
  }

  private onEntry(e: KvEntry, seenAt?: number): void {
    const id = e.key;
    if (e.operation !== 'PUT') {
      const m = this.members.get(id);
      if (id === this.deps.selfId && this.joined) {
        // Someone declared us dead (or a NATS crash lost the entry) while we are alive. Others
        // may have activated our grains since: give ours up first, then come back.
        if (this.fencing) return;
        this.deps.logger.warn('this silo\'s membership entry was removed while it is running; giving up its activations, then announcing it again');
        this.fencing = true;
        void (async () => {
          try {
            await this.deps.onDeclaredDead?.();
          } catch (err) {
            this.deps.logger.warn('giving up activations after being declared dead failed', { err });
          } finally {
            this.fencing = false;
          }
          await this.beat();
        })();
        return;
      }
      if (m !== undefined) {
        this.remove(id);
        void this.settleInFlight(id);
      }
      return;
    }
    let info: SiloInfo;
    try {
      info = parseSiloInfo(e.value, id);
    } catch (err) {
      this.deps.logger.warn('ignoring an unreadable membership entry', { silo: id, err });
      return;
    }
    const now = performance.now();
    // Replayed history carries its age; a live event is a heartbeat just now.
    const lastSeen = seenAt ?? (e.revision <= this.replayedUpTo ? now - Math.max(0, Date.now() - e.created.getTime()) : now);
    const m = this.members.get(id);
    if (m === undefined) {
      if (now - lastSeen > this.deps.timings.staleAfterMs && id !== this.deps.selfId) {
        // The entry of a silo that stopped heartbeating long ago (it crashed): clear it.
        this.kv.delete(id, { previousSeq: e.revision }).catch(() => undefined);
        return;
      }
      this.members.set(id, { info, revision: e.revision, lastSeen });
      this.changed();
      return;
    }
    m.revision = Math.max(m.revision, e.revision);
    m.lastSeen = Math.max(m.lastSeen, lastSeen);
    if (!sameSiloInfo(m.info, info)) {
      m.info = info;
      this.changed();
    }
  }

  // ---- verdicts ----------------------------------------------------------------------

  private sweep(): void {
    if (!this.connected || this.stopped) return;
    const now = performance.now();
    if (now < this.graceUntil) return;
    const { staleAfterMs, heartbeatIntervalMs } = this.deps.timings;
    let others = false;
    for (const id of this.members.keys()) if (id !== this.deps.selfId) others = true;
    if (others && now - this.lastEventAt > heartbeatIntervalMs * 3) {
      // Live silos heartbeat every interval; a silent watch is more likely broken than
      // everyone dead at once. Watch again (history tells the true ages), judge next time.
      this.lastEventAt = now;
      void this.rewatch(this.generation);
      return;
    }
    for (const [id, m] of this.members) {
      if (id === this.deps.selfId || this.checking.has(id)) continue;
      if (now - m.lastSeen > staleAfterMs) {
        this.checking.add(id);
        void this.confirmStale(id, now - m.lastSeen).finally(() => this.checking.delete(id));
      }
    }
  }

  /**
   * A stale heartbeat is strong evidence, not proof: a silo whose event loop is saturated
   * (or whose KV writes are slow) can be late and still be serving calls. Ask it directly;
   * only silence or "no responders" is a verdict.
   */
  private async confirmStale(id: string, silentMs: number): Promise<void> {
    const timeout = Math.min(2000, this.deps.timings.staleAfterMs / 2);
    const pingedAt = performance.now();
    const result = await this.deps.transport.ping(id, timeout);
    const m = this.members.get(id);
    if (m === undefined || !this.connected || this.stopped) return;
    if (result === 'alive') {
      this.deps.logger.warn('a silo is late with its heartbeats but answers; keeping it', { late: id, silentMs: Math.round(silentMs) });
      m.lastSeen = performance.now();
      return;
    }
    const why = result === 'gone' ? 'no responders' : `no answer within ${timeout} ms`;
    this.declareDead(id, `no heartbeat for ${Math.round(performance.now() - m.lastSeen)} ms, and ${why}`, result === 'gone' ? pingedAt : Infinity);
  }

  /**
   * A silo left (its entry was deleted). A graceful leave answers every call it received
   * before deleting its entry, so a call still waiting was either never delivered — its
   * "no responders" is on the way, and it will be re-routed — or lost in a crash (or a
   * drain that ran out of time). A ping tells them apart: NATS answers in order, so once
   * the ping's "no responders" is back, calls sent before it that still wait were delivered
   * and will never be answered.
   */
  private async settleInFlight(id: string): Promise<void> {
    const pingedAt = performance.now();
    for (const timeout of [250, 500, 1000]) {
      const result = await this.deps.transport.ping(id, timeout);
      if (result === 'alive') return; // still answering: its replies will come
      if (result === 'gone') break;
    }
    // Gone, or silent for 1.75 s: what was sent before the first ping is not coming back.
    const failed = this.deps.transport.failSilo(
      id,
      new SiloUnavailableError(`silo ${id} left the cluster while the call was in flight; it may or may not have run`),
      pingedAt,
    );
    if (failed > 0) this.deps.logger.warn('a silo left with calls unanswered', { left: id, failed });
  }

  /**
   * Calls waiting on it fail (a call with an id is re-sent by its caller; one without may have
   * run). With `sentBefore` (the time of a ping that got "no responders"), only calls sent
   * before it: later ones were not delivered either, get their own "no responders" and re-route.
   *
   * It leaves the live set only once its entry is deleted — conditional on the revision seen,
   * so a silo that heartbeated meanwhile is not erased — and the watch reports the delete to
   * every silo, this one included, and to the silo itself, which then gives up its activations
   * before it announces itself again. Taking it out here first would let this silo activate
   * grains the other still hosts, if its heartbeat won the race: two activations of one grain.
   */
  private declareDead(id: string, why: string, sentBefore = Infinity): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    this.deps.transport.failSilo(id, new SiloUnavailableError(`silo ${id} was declared dead (${why}) while the call was in flight; it may or may not have run`), sentBefore);
    this.kv.delete(id, { previousSeq: m.revision }).then(
      () => this.deps.logger.warn('silo declared dead', { dead: id, why }),
      (err: unknown) => this.deps.logger.warn('a silo found unresponsive is kept: its entry moved on (it heartbeated) or could not be deleted', { silo: id, why, err: (err as Error)?.message }),
    );
  }

  private remove(id: string): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    this.members.delete(id);
    this.changed();
  }

  private changed(): void {
    const live: SiloInfo[] = [];
    for (const m of this.members.values()) live.push(m.info);
    this.snapshot = live;
    for (const l of [...this.listeners]) {
      try {
        l(live);
      } catch (err) {
        this.deps.logger.warn('membership listener failed', { err });
      }
    }
  }

  // ---- heartbeats -----------------------------------------------------------------------

  private async beat(): Promise<void> {
    if (!this.joined || this.self === undefined || !this.connected) return;
    // One heartbeat at a time, but never stuck behind one lost in a NATS outage (its reply
    // may never come; the client only gives up on it after the KV timeout).
    const now = performance.now();
    if (this.beatStartedAt !== undefined && now - this.beatStartedAt < this.deps.timings.heartbeatIntervalMs) return;
    const started = now;
    this.beatStartedAt = started;
    try {
      await this.put(this.self);
    } catch (err) {
      this.deps.logger.debug('heartbeat failed', { err });
    } finally {
      if (this.beatStartedAt === started) this.beatStartedAt = undefined;
    }
  }

  private async put(info: SiloInfo): Promise<void> {
    const revision = await this.kv.put(info.id, JSON.stringify(info));
    // We are live in our own view at once, without waiting for the watch to echo it.
    const m = this.members.get(info.id);
    if (m === undefined) {
      this.members.set(info.id, { info, revision, lastSeen: performance.now() });
      this.changed();
    } else {
      m.revision = Math.max(m.revision, revision);
      m.lastSeen = performance.now();
      if (!sameSiloInfo(m.info, info)) { m.info = info; this.changed(); }
    }
  }
}
