/**
 * The reminder service of one silo. It owns some partitions (rendezvous hashing over the live
 * silos, ownership.ts), and every `pollMs` reads from the store only the reminders of those
 * partitions due within `lookaheadMs`; it keeps just those in memory, each behind one clock
 * timer, and fires each when due as a grain turn (`$reminder.fire`). A million reminders
 * in storage cost this silo nothing until they are about to fire.
 *
 * Delivery is at least once: the stored record moves on (next tick, retry with backoff, or
 * removal of a one-shot) only after the firing's outcome is known, conditional on the record's
 * version, so a crash between the two fires the same tick again with the same `firingId`.
 * A silo that takes over a dead silo's partitions finds its overdue reminders on its next
 * poll: ticks missed meanwhile fire once (`nextTickAfter` skips the rest).
 */
import type { Clock, TimerHandle } from '../../clock.js';
import type { SiloInfo } from '../../cluster.js';
import { reminderPartition, type ReminderRecord, type ReminderStore } from '../../reminder-storage.js';
import type { ReminderListener } from './backend.js';
import { ownedPartitions } from './ownership.js';
import { DEFAULT_RETRY, afterTick, tickOf, type ReminderTick, type RetryPolicy } from './schedule.js';

export interface ReminderServiceOptions {
  store: ReminderStore;
  clock: Clock;
  /** This silo's id. */
  self: string;
  /** The live silos (the cluster membership). */
  membership: { live(): readonly SiloInfo[]; onChange?(listener: (live: readonly SiloInfo[]) => void): () => void };
  /** Delivers one firing to the grain (as a turn); rejects when the grain threw or was unreachable. */
  send(grain: string, name: string, tick: ReminderTick): Promise<unknown>;
  /** How often owned partitions are read (default 1 s); a firing is at most this late after a takeover. */
  pollMs?: number;
  /** How far ahead a poll reads (default `pollMs` + 1 s): what is held in memory. */
  lookaheadMs?: number;
  /** How long a firing may take before it counts as failed and is retried (default 30 s). */
  firingTimeoutMs?: number;
  /** Reminders read per partition and poll at most (default 1 000). */
  batch?: number;
  /** Firings under way at once at most (default 256); the rest wait their turn. */
  maxConcurrentFirings?: number;
  retry?: Partial<RetryPolicy>;
  /** Reports what no caller sees (a store error, a tick given up). */
  onError?(what: string, err: unknown, grain?: string): void;
}

/** What the service did since it started (the silo's metrics read these). */
export interface ReminderCounters {
  /** Held in memory now, due within the lookahead. */
  held: number;
  /** Firings started (ticks due). */
  due: number;
  /** Firings the grain handled. */
  fired: number;
  /** Firings that started more than `pollMs` after their due time. */
  late: number;
  /** Firings that failed (the grain threw or was unreachable). */
  failed: number;
  /** Ticks given up after their retries. */
  gaveUp: number;
}

interface Held {
  record: ReminderRecord;
  partition: number;
  timer: TimerHandle;
}

/** A failing poll is reported at most this often. */
const POLL_REPORT_EVERY_MS = 30_000;

const keyOf = (grain: string, name: string) => `${grain}\u0000${name}`;

export class ReminderService implements ReminderListener {
  readonly pollMs: number;
  readonly lookaheadMs: number;
  readonly counters: ReminderCounters = { held: 0, due: 0, fired: 0, late: 0, failed: 0, gaveUp: 0 };
  private readonly o: ReminderServiceOptions;
  private readonly retry: RetryPolicy;
  private readonly batch: number;
  private readonly maxConcurrent: number;
  private readonly held = new Map<string, Held>();
  /** Keys firing now: a poll that sees them again leaves them alone. */
  private readonly firing = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly waiting: ReminderRecord[] = [];
  private running = 0;
  private pollTimer: TimerHandle | undefined;
  private polling: Promise<void> | undefined;
  private repoll = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private owned: ReadonlySet<number> = new Set();
  private ownedFor: readonly SiloInfo[] | undefined;
  private lastPollReport = -Infinity;

  constructor(options: ReminderServiceOptions) {
    this.o = options;
    this.pollMs = options.pollMs ?? 1_000;
    if (!(this.pollMs >= 10)) throw new RangeError(`reminder pollMs must be at least 10 (got ${options.pollMs})`);
    this.lookaheadMs = options.lookaheadMs ?? this.pollMs + 1_000;
    this.batch = options.batch ?? 1_000;
    this.maxConcurrent = options.maxConcurrentFirings ?? 256;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** Starts polling (the first poll at once) and follows membership changes. */
  start(): void {
    this.unsubscribe = this.o.membership.onChange?.(() => this.pollSoon());
    this.pollSoon();
  }

  /** Stops firing; firings under way finish unless `abandon` (a crash). */
  async stop(abandon = false): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.pollTimer?.cancel();
    for (const h of this.held.values()) h.timer.cancel();
    this.held.clear();
    this.waiting.length = 0;
    this.counters.held = 0;
    if (!abandon) await this.settled(Math.min(this.o.firingTimeoutMs ?? 30_000, 10_000));
  }

  /**
   * Resolves when no poll or firing is under way (TestCluster settles on it), or after
   * `maxWaitMs` of real time: a `receiveReminder` that waits for the fake clock (or forever)
   * must not hang the test's `advanceTime`; its firing times out on the clock instead.
   */
  async settled(maxWaitMs = 1_000): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    while (this.inflight.size > 0 && Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.inflight]),
        new Promise((r) => { timer = setTimeout(r, Math.max(1, deadline - Date.now())); }),
      ]);
      clearTimeout(timer);
    }
  }

  /** The partitions this silo fires now. */
  ownedPartitions(): ReadonlySet<number> {
    const live = this.o.membership.live();
    if (live !== this.ownedFor) {
      this.ownedFor = live;
      this.owned = new Set(ownedPartitions(this.o.self, live, this.o.store.partitions));
    }
    return this.owned;
  }

  // ---- ReminderListener: writes made on this silo --------------------------------------

  registered(record: ReminderRecord): void {
    if (this.stopped) return;
    const partition = reminderPartition(record.grain, this.o.store.partitions);
    if (!this.ownedPartitions().has(partition)) return;
    if (record.dueAt < this.o.clock.now() + this.lookaheadMs) this.hold(record, partition);
    else this.forget(keyOf(record.grain, record.name));
  }

  removed(grain: string, name: string): void {
    this.forget(keyOf(grain, name));
  }

  // ---- polling -------------------------------------------------------------------------

  private pollSoon(): void {
    if (this.stopped) return;
    if (this.polling !== undefined) {
      this.repoll = true;
      return;
    }
    this.pollTimer?.cancel();
    this.pollTimer = this.o.clock.setTimer(() => this.onPollTimer(), 0);
  }

  /**
   * Polls on a fixed cadence: the next poll is timed when this one starts, so time spent
   * reading does not stretch the period. A poll due while one runs is run right after it.
   */
  private runPoll(): void {
    this.pollTimer = this.o.clock.setTimer(() => this.onPollTimer(), this.pollMs);
    const p = this.poll().catch((err) => this.o.onError?.('reminder poll', err)).finally(() => {
      this.polling = undefined;
      if (this.repoll && !this.stopped) {
        this.repoll = false;
        this.pollTimer?.cancel();
        this.runPoll();
      }
    });
    this.polling = p;
    this.track(p);
  }

  private onPollTimer(): void {
    this.pollTimer = undefined;
    if (this.stopped) return;
    if (this.polling !== undefined) this.repoll = true;
    else this.runPoll();
  }

  private async poll(): Promise<void> {
    const owned = this.ownedPartitions();
    for (const [key, h] of this.held) if (!owned.has(h.partition)) this.forget(key);
    const until = this.o.clock.now() + this.lookaheadMs;
    const parts = [...owned];
    // A few partitions at once: bounded load on the store, and a slow one does not stall the rest.
    let next = 0;
    let failed = 0;
    let firstError: unknown;
    const worker = async () => {
      while (next < parts.length && !this.stopped) {
        const partition = parts[next++]!;
        try {
          this.take(partition, await this.o.store.due(partition, until, this.batch));
        } catch (err) {
          if (failed++ === 0) firstError = err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, parts.length) }, worker));
    // One report per outage, not one per partition and poll (a missing table would flood the log).
    const now = this.o.clock.now();
    if (failed > 0 && now - this.lastPollReport >= POLL_REPORT_EVERY_MS) {
      this.lastPollReport = now;
      this.o.onError?.(`reminder poll (${failed} of ${parts.length} partitions; reported at most every ${POLL_REPORT_EVERY_MS / 1000} s)`, firstError);
    }
  }

  /** Holds what a poll of `partition` found; forgets held ones that are gone or changed. */
  private take(partition: number, found: ReminderRecord[]): void {
    if (this.stopped || !this.ownedPartitions().has(partition)) return;
    const seen = new Set<string>();
    for (const r of found) {
      const key = keyOf(r.grain, r.name);
      seen.add(key);
      this.hold(r, partition);
    }
    if (found.length < this.batch) {
      for (const [key, h] of this.held) if (h.partition === partition && !seen.has(key)) this.forget(key);
    }
  }

  private hold(r: ReminderRecord, partition: number): void {
    const key = keyOf(r.grain, r.name);
    if (this.firing.has(key)) return;
    const current = this.held.get(key);
    if (current !== undefined) {
      if (current.record.version === r.version) return;
      current.timer.cancel();
    } else {
      this.counters.held++;
    }
    const timer = this.o.clock.setTimer(() => this.due(key), Math.max(0, r.dueAt - this.o.clock.now()));
    this.held.set(key, { record: r, partition, timer });
  }

  private forget(key: string): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    h.timer.cancel();
    this.held.delete(key);
    this.counters.held--;
  }

  // ---- firing ----------------------------------------------------------------------------

  private due(key: string): void {
    const h = this.held.get(key);
    if (h === undefined || this.stopped) return;
    this.held.delete(key);
    this.counters.held--;
    this.firing.add(key);
    if (this.running < this.maxConcurrent) this.track(this.fire(h.record));
    else this.waiting.push(h.record);
  }

  private async fire(hint: ReminderRecord): Promise<void> {
    this.running++;
    const key = keyOf(hint.grain, hint.name);
    try {
      // What was held is a hint (a poll may have read an index that lags): the stored record
      // decides. Removed → nothing; moved later (registered again) → held for its new time.
      let r: ReminderRecord | undefined;
      try {
        r = await this.o.store.get(hint.grain, hint.name);
      } catch (err) {
        this.o.onError?.(`reminder "${hint.name}" could not be read`, err, hint.grain);
        return;
      }
      if (r === undefined || this.stopped) return;
      const started = this.o.clock.now();
      if (r.dueAt > started) {
        this.firing.delete(key);
        if (r.dueAt < started + this.lookaheadMs) this.hold(r, reminderPartition(r.grain, this.o.store.partitions));
        return;
      }
      this.counters.due++;
      if (started - r.dueAt > this.pollMs) this.counters.late++;
      let ok = true;
      try {
        await this.withTimeout(this.o.send(r.grain, r.name, tickOf(r)), r);
        this.counters.fired++;
      } catch (err) {
        ok = false;
        this.counters.failed++;
        this.o.onError?.(`reminder "${r.name}" (attempt ${r.attempt + 1})`, err, r.grain);
      }
      if (this.stopped) return; // a crash: the stored record stands, and its next owner fires it again
      const { next, gaveUp } = afterTick(r, ok, this.o.clock.now(), this.retry);
      if (gaveUp) {
        this.counters.gaveUp++;
        this.o.onError?.(`reminder "${r.name}"`, new Error(`tick ${tickOf(r).firingId} given up after ${r.attempt + 1} failed attempt(s)`), r.grain);
      }
      let moved = false;
      try {
        moved = await this.o.store.advance(r, next);
      } catch (err) {
        // The tick stays stored as it was: it fires again (same firingId) on a later poll.
        this.o.onError?.(`reminder "${r.name}" could not be moved on`, err, r.grain);
      }
      // Held again at once when the next tick is due soon (a short period, a retry); the copy
      // is a hint like any other (its firing reads the stored record).
      if (moved && next !== undefined && !this.stopped) {
        this.firing.delete(key);
        const partition = reminderPartition(r.grain, this.o.store.partitions);
        if (next.dueAt < this.o.clock.now() + this.lookaheadMs && this.ownedPartitions().has(partition)) {
          this.hold({ ...r, ...next, version: -1 }, partition);
        }
      }
    } finally {
      this.firing.delete(key);
      this.running--;
      const nextUp = this.waiting.shift();
      if (nextUp !== undefined && !this.stopped) this.track(this.fire(nextUp));
    }
  }

  /** A firing that hangs (a turn that never ends) fails after `firingTimeoutMs`, so the reminder is retried, not stuck. */
  private withTimeout(p: Promise<unknown>, r: ReminderRecord): Promise<unknown> {
    const ms = this.o.firingTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = this.o.clock.setTimer(() => reject(new Error(`reminder "${r.name}" of ${r.grain}: receiveReminder did not finish within ${ms} ms`)), ms);
      p.then((v) => { timer.cancel(); resolve(v); }, (e) => { timer.cancel(); reject(e); });
    });
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    p.finally(() => this.inflight.delete(p));
  }
}
