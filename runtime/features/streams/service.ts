/**
 * The stream delivery service of one silo. Each stream is delivered by one silo, its owner
 * (rendezvous hashing of the stream's name over the active silos, as reminders share their
 * partitions), so no coordination is needed and a dead silo's streams move to the next.
 *
 * For each subscriber of an owned stream (every implicit subscriber type of its namespace,
 * every durable subscription) a *consumer* reads from its cursor (the last seq delivered, kept
 * by the provider) at most `batch` items at a time, delivers them one by one as turns of the
 * subscriber grain (`$stream.deliver`), and moves its cursor after each (the write leaves the
 * delivery path: one in flight per consumer, coalesced to the latest seq; an implicit
 * consumer's cursor is also kept here, so the next item costs no read of it). Consumers are
 * independent: a slow subscriber holds back only its own, with at most `batch` items in
 * memory; nothing is buffered per publish. A consumer runs only while its stream has items
 * it has not delivered: idle subscriptions cost no activation, timer or memory here.
 *
 * Delivery is at least once, in order: the cursor moves after the turn, so a crash between
 * the two delivers that item again. A subscriber that throws is retried with exponential
 * backoff up to `retry.maxAttempts`, then the item is skipped (logged, counted in
 * `skipped`); a subscriber that cannot be reached (`silo_unavailable`) is retried without
 * limit, since the fault is not the item's.
 */
import type { Clock, TimerHandle } from '../../clock.js';
import type { SiloInfo } from '../../cluster.js';
import { GrainError } from '../../errors.js';
import { fnv1a } from '../../reminder-storage.js';
import type { StoredStreamItem, StreamProvider, StreamSubscriptionRecord } from '../../stream-storage.js';
import type { StreamSubscriptionListener } from './backend.js';
import { IMPLICIT_METHOD } from './deliver.js';
import type { StreamItemMeta } from './model.js';

export interface StreamRetryPolicy {
  /** Attempts per item before it is skipped (default 5). */
  maxAttempts: number;
  /** Wait before the first retry (default 100 ms); doubles each time. */
  initialDelayMs: number;
  /** Longest wait between attempts (default 10 s). */
  maxDelayMs: number;
}

export const STREAM_RETRY_DEFAULTS: Readonly<StreamRetryPolicy> = Object.freeze({ maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 10_000 });

export interface StreamServiceOptions {
  provider: StreamProvider;
  clock: Clock;
  /** This silo's id. */
  self: string;
  membership: { live(): readonly SiloInfo[]; onChange?(listener: (live: readonly SiloInfo[]) => void): () => void };
  /** Grain types that subscribe implicitly to `namespace` (`static implicitStreams`). */
  implicitTypes(namespace: string): readonly string[];
  /** Delivers one item to `grain`'s `method` as a turn; rejects when it threw or was unreachable. */
  send(grain: string, method: string, item: unknown, meta: StreamItemMeta): Promise<unknown>;
  /** The item from its codec text. */
  decode(payload: string): unknown;
  /** Items a consumer reads ahead at most: its bound on items in flight (default 16). */
  batch?: number;
  retry?: Partial<StreamRetryPolicy>;
  /** Reports what no caller sees (a skipped item, a provider error). */
  onError?(what: string, err: unknown, grain?: string): void;
}

/** What the service did since it started (the silo's metrics read these). */
export interface StreamCounters {
  /** Items delivered (the subscriber's turn completed). */
  delivered: number;
  /** Attempts that failed and were retried. */
  retried: number;
  /** Items skipped after `retry.maxAttempts` failures. */
  skipped: number;
  /** Items dropped by retention before a subscriber got them. */
  missed: number;
  /** Consumers delivering now. */
  active: number;
}

interface Consumer {
  readonly namespace: string;
  readonly key: string;
  readonly id: string;
  readonly grain: string;
  readonly method: string;
  readonly implicit: boolean;
  running: boolean;
  again: boolean;
  /** Failed attempts at the item the cursor points past. */
  attempts: number;
  /** Set while waiting out a backoff: the consumer is kept, but holds no promise. */
  retryTimer?: TimerHandle;
}

const streamKey = (ns: string, key: string) => `${ns}\u0000${key}`;
/** Streams whose subscriber lists are kept (least recently used go first). */
const SUBSCRIBER_CACHE = 1_000;
/** Implicit consumers whose cursor is kept here (least recently moved go first). */
const CURSOR_CACHE = 10_000;

/** The cursor writes of one consumer: one in flight, coalesced to the latest seq delivered. */
interface CursorWriter {
  latest: number;
  written: number;
  running: Promise<void>;
}
const implicitId = (type: string) => `implicit:${type}`;

/** The owner of a stream among the active silos. */
export function streamOwner(namespace: string, key: string, live: readonly SiloInfo[]): string | undefined {
  const active = live.filter((s) => s.status === 'active');
  const silos = active.length > 0 ? active : live;
  let best: string | undefined;
  let bestScore = -1;
  for (const s of silos) {
    const score = fnv1a(`${s.id}|streams/${namespace}/${key}`);
    if (score > bestScore || (score === bestScore && best !== undefined && s.id < best)) { best = s.id; bestScore = score; }
  }
  return best;
}

export class StreamService implements StreamSubscriptionListener {
  readonly counters: StreamCounters = { delivered: 0, retried: 0, skipped: 0, missed: 0, active: 0 };
  readonly retry: StreamRetryPolicy;
  private readonly o: StreamServiceOptions;
  private readonly batch: number;
  private readonly consumers = new Map<string, Consumer>();
  private readonly subsCache = new Map<string, StreamSubscriptionRecord[]>();
  /**
   * The cursors of implicit consumers that delivered here, as this silo (their only writer
   * while it owns the stream) moved them. Dropped when the stream is looked at afresh
   * (an announcement, a membership change): then the stored cursor is read again.
   */
  private readonly cursors = new Map<string, number>();
  private readonly writers = new Map<string, CursorWriter>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly timers = new Set<TimerHandle>();
  private stopped = false;
  private unsubscribe: Array<() => void> = [];

  constructor(options: StreamServiceOptions) {
    this.o = options;
    this.batch = options.batch ?? 16;
    if (!(Number.isInteger(this.batch) && this.batch >= 1)) throw new RangeError(`stream batch must be a whole number ≥ 1 (got ${options.batch})`);
    this.retry = { ...STREAM_RETRY_DEFAULTS, ...options.retry };
    if (!(this.retry.maxAttempts >= 1)) throw new RangeError(`stream retry.maxAttempts must be ≥ 1 (got ${this.retry.maxAttempts})`);
  }

  /** Follows appends and membership, and resumes every owned stream (after a restart or a takeover). */
  start(): void {
    // An append (seq > 0) may use the stream's cached subscriber list; an announcement (seq 0:
    // a subscription made somewhere) refreshes it.
    this.unsubscribe.push(this.o.provider.onAppend((ns, key, seq) => this.kick(ns, key, seq === 0)));
    // Streams may have moved (and come back, delivered further elsewhere): forget the kept
    // cursors at once, before any append is served from them.
    const off = this.o.membership.onChange?.(() => { this.cursors.clear(); this.resumeAll(); });
    if (off) this.unsubscribe.push(off);
    this.resumeAll();
  }

  /**
   * Stops delivering; deliveries under way may finish for up to `waitMs` (real time; default
   * 5 s) unless `abandon` (a crash). One not finished is delivered again by the stream's next
   * owner (its cursor has not moved): at least once, never lost.
   */
  async stop(abandon = false, waitMs = 5_000): Promise<void> {
    this.stopped = true;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    if (abandon) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.settled(), new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); })]);
    clearTimeout(timer);
  }

  /** Resolves when no consumer is delivering (tests). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Whether this silo delivers the stream now. */
  owns(namespace: string, key: string): boolean {
    return streamOwner(namespace, key, this.o.membership.live()) === this.o.self;
  }

  subscribed(namespace: string, key: string): void {
    this.kick(namespace, key, true);
  }

  /** Something may be due on this stream: wake its consumers (on the owner). */
  kick(namespace: string, key: string, refresh = false): void {
    if (this.stopped || !this.owns(namespace, key)) return;
    if (refresh) for (const type of this.o.implicitTypes(namespace)) this.cursors.delete(`${streamKey(namespace, key)}\u0000${implicitId(type)}`);
    this.track(this.wakeStream(namespace, key, refresh).catch((err) => this.o.onError?.(`stream ${namespace}/${key}: reading its subscriptions`, err)));
  }

  private resumeAll(): void {
    if (this.stopped) return;
    this.track(this.o.provider.streams().then(
      (all) => { for (const s of all) this.kick(s.namespace, s.key, true); },
      (err) => this.o.onError?.('streams: listing streams to resume', err),
    ));
  }

  /**
   * The subscribers of a stream. Durable subscriptions are listed from the provider and kept
   * for the next appends (a bounded cache: listing costs a provider round trip or more, and a
   * burst of appends would list once per item); an announcement or a takeover lists again.
   */
  private async subscribersOf(namespace: string, key: string, refresh: boolean): Promise<StreamSubscriptionRecord[]> {
    const sk = streamKey(namespace, key);
    const cached = this.subsCache.get(sk);
    if (cached !== undefined && !refresh) {
      this.subsCache.delete(sk);
      this.subsCache.set(sk, cached);
      return cached;
    }
    const records = await this.o.provider.subscriptions(namespace, key);
    this.subsCache.delete(sk);
    this.subsCache.set(sk, records);
    if (this.subsCache.size > SUBSCRIBER_CACHE) this.subsCache.delete(this.subsCache.keys().next().value!);
    return records;
  }

  private async wakeStream(namespace: string, key: string, refresh: boolean): Promise<void> {
    const found: Array<Pick<Consumer, 'namespace' | 'key' | 'id' | 'grain' | 'method' | 'implicit'>> = [];
    for (const type of this.o.implicitTypes(namespace)) {
      found.push({ namespace, key, id: implicitId(type), grain: `${type}/${key}`, method: IMPLICIT_METHOD, implicit: true });
    }
    for (const r of await this.subscribersOf(namespace, key, refresh)) {
      found.push({ namespace, key, id: r.id, grain: r.grain, method: r.method, implicit: false });
    }
    for (const f of found) {
      const k = `${streamKey(namespace, key)}\u0000${f.id}`;
      let c = this.consumers.get(k);
      if (c === undefined) {
        c = { ...f, running: false, again: false, attempts: 0 };
        this.consumers.set(k, c);
      }
      this.wake(k, c);
    }
  }

  private wake(k: string, c: Consumer): void {
    if (c.running || c.retryTimer !== undefined) {
      c.again ||= c.running;
      return;
    }
    c.running = true;
    this.counters.active++;
    this.track(this.run(k, c).catch((err) => {
      // The provider failed (e.g. unreachable): try again later from the stored cursor.
      this.o.onError?.(`stream ${c.namespace}/${c.key} → ${c.grain}.${c.method}: delivery paused`, err, c.grain);
      this.retryLater(k, c, this.retry.maxDelayMs);
    }).finally(() => {
      c.running = false;
      this.counters.active--;
      // Forgotten when idle: an idle subscription costs this silo nothing.
      if (this.consumers.get(k) === c && c.retryTimer === undefined) this.consumers.delete(k);
      if (c.again && c.retryTimer === undefined && !this.stopped) { c.again = false; this.kick(c.namespace, c.key); }
    }));
  }

  private async run(k: string, c: Consumer): Promise<void> {
    const p = this.o.provider;
    do {
      c.again = false;
      // An implicit consumer that delivered here knows its cursor; others read it (after the
      // write in flight, so it is not read behind what was delivered).
      let cursor = c.implicit ? this.cursors.get(k) : undefined;
      if (cursor === undefined) {
        await this.writers.get(k)?.running;
        cursor = await p.cursor(c.namespace, c.key, c.id);
        if (cursor === undefined) {
          if (!c.implicit) return; // unsubscribed
          cursor = 0; // an implicit subscriber gets every retained item
        }
      }
      while (!this.stopped && this.owns(c.namespace, c.key)) {
        const read = await p.read(c.namespace, c.key, cursor + 1, this.batch);
        if (read.items.length === 0) break;
        if (read.items[0]!.seq > cursor + 1) this.counters.missed += read.items[0]!.seq - cursor - 1;
        for (const item of read.items) {
          if (this.stopped || !this.owns(c.namespace, c.key)) return;
          const outcome = await this.deliver(c, item);
          if (outcome === 'retry') {
            // Not awaited here: a consumer waiting out its backoff holds no promise, so a silo
            // (and a test's settle) is never kept waiting on it.
            const delay = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** Math.min(c.attempts - 1, 30));
            this.retryLater(k, c, delay);
            return;
          }
          c.attempts = 0;
          this.moveCursor(k, c, item.seq);
          cursor = item.seq;
        }
      }
    } while (c.again && !this.stopped);
  }

  /**
   * Records delivery up to `seq`. The write leaves the delivery path: one in flight per
   * consumer, coalesced to the latest seq (a write lost to a crash only means those items are
   * delivered again: at least once). A failed write forgets the kept cursor, so the next pass
   * reads the stored one.
   */
  private moveCursor(k: string, c: Consumer, seq: number): void {
    if (c.implicit) {
      this.cursors.delete(k);
      this.cursors.set(k, seq);
      if (this.cursors.size > CURSOR_CACHE) this.cursors.delete(this.cursors.keys().next().value!);
    }
    const w = this.writers.get(k);
    if (w !== undefined) { w.latest = Math.max(w.latest, seq); return; }
    const writer: CursorWriter = { latest: seq, written: 0, running: Promise.resolve() };
    this.writers.set(k, writer);
    writer.running = (async () => {
      try {
        while (writer.written < writer.latest) {
          const s = writer.latest;
          await this.o.provider.setCursor(c.namespace, c.key, c.id, s);
          writer.written = s;
        }
      } catch (err) {
        this.cursors.delete(k);
        this.o.onError?.(`stream ${c.namespace}/${c.key} → ${c.grain}.${c.method}: recording delivery up to item ${writer.latest} failed (items after the stored cursor will be delivered again)`, err, c.grain);
      } finally {
        this.writers.delete(k);
      }
    })();
    this.track(writer.running);
  }

  /** One attempt at one item: delivered or skipped (move on), or retry after a backoff. */
  private async deliver(c: Consumer, stored: StoredStreamItem): Promise<'delivered' | 'skipped' | 'retry'> {
    const meta: StreamItemMeta = { namespace: c.namespace, key: c.key, seq: stored.seq };
    let item: unknown;
    try {
      item = this.o.decode(stored.payload);
    } catch (err) {
      this.counters.skipped++;
      this.o.onError?.(`stream ${c.namespace}/${c.key} item ${stored.seq} cannot be decoded; skipped`, err, c.grain);
      return 'skipped';
    }
    try {
      await this.o.send(c.grain, c.method, item, meta);
      this.counters.delivered++;
      return 'delivered';
    } catch (err) {
      c.attempts++;
      // Not the item's fault, so not counted against it: a subscriber that cannot be reached,
      // or did not answer in time (a partition or a paused silo looks the same as a slow
      // turn from here). Counting those skipped items a partition had kept from a subscriber.
      const unreachable = err instanceof GrainError && (err.code === 'silo_unavailable' || err.code === 'timeout');
      if (!unreachable && c.attempts >= this.retry.maxAttempts) {
        this.counters.skipped++;
        this.o.onError?.(`stream ${c.namespace}/${c.key} item ${stored.seq} to ${c.grain}.${c.method} skipped after ${c.attempts} failed attempt(s)`, err, c.grain);
        return 'skipped';
      }
      this.counters.retried++;
      return 'retry';
    }
  }

  private retryLater(k: string, c: Consumer, ms: number): void {
    if (this.stopped) return;
    c.retryTimer = this.o.clock.setTimer(() => {
      this.timers.delete(c.retryTimer!);
      c.retryTimer = undefined;
      if (!this.stopped) this.wake(k, c);
    }, ms);
    this.timers.add(c.retryTimer);
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    p.finally(() => this.inflight.delete(p));
  }
}
