/**
 * Read-ahead for the streams a process is reading now (docs/streams.md, "NATS JetStream"):
 * one JetStream ordered consumer per *active* stream key (filtered on the key's subject),
 * started where a read left off, keeping a bounded window of the key's latest items in
 * memory. While a key has a tail:
 *
 * - `read` is answered from the window without a round trip (items only ever come from the
 *   JetStream stream, so only durably appended items are handed out, in order);
 * - the tail, not the core subscription, tells the `onAppend` listeners of the key's appends,
 *   once the item is in the window, so the reader they wake finds it there.
 *
 * A tail exists only for a key being read: a read found several items, or found news twice
 * within `hotMs` (10 000 idle subscriptions create none, nor do many keys with an item now and
 * then). It is closed after `idleMs` without a read, on a NATS disconnect or reconnect, when
 * its consumer fails or stalls, and beyond `maxTails` (least recently read first); a closed
 * tail announces its key, so no append it would have announced is left unannounced. Anything
 * a tail cannot answer (a position before its window, a tail lagging an append this process
 * made) goes to the direct gets.
 */
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from 'nats';
import type { StreamRead } from '../../runtime/index.js';

export interface TailedItem { seq: number; js: number; payload: string }

export interface StreamTailsOptions {
  js: JetStreamClient;
  streamName(ns: string): string;
  subject(ns: string, key: string): string;
  /** Items kept per key by the stream (to say which is the first retained). */
  retention: number;
  seqOf(m: JsMsg): number;
  /** Tells the provider's listeners of an item now in a window. */
  notify(ns: string, key: string, seq: number): void;
  /** Tails at most (default 128). */
  maxTails?: number;
  /** Items kept per window at most (default 4096) … */
  windowItems?: number;
  /** … and characters of payload (default 1 Mi: with 128 tails, at most ≈ 128 MiB of strings in all). */
  windowChars?: number;
  /** A tail not read for this long is closed (default 30 s; real time). */
  idleMs?: number;
  /** How long a read waits for a tail to catch up with this process's own append (default 250 ms). */
  catchUpMs?: number;
  /** A key read with items found twice within this long gets a tail (default 5 s; a read of several items: at once). */
  hotMs?: number;
  /** A tail that has not received an item announced on the core subscription this long after is closed as stalled (default 2 s). */
  stallMs?: number;
}

interface Tail {
  readonly ns: string;
  readonly key: string;
  /** Contiguous items: window[i].seq === window[0].seq + i. */
  window: TailedItem[];
  /** Characters of payload in the window. */
  chars: number;
  /** The seq the tail expects next (the last one in the window + 1). */
  next: number;
  /** Every seq below this one is known to be gone (dropped by retention); 1: none known. */
  floor: number;
  /** The highest seq this process appended to the key (a read waits for the tail to have it). */
  appended: number;
  usedAt: number;
  /** The consumer is running: the core subscription's announcements of this key are not needed. */
  live: boolean;
  closed: boolean;
  consumer?: Consumer;
  messages?: ConsumerMessages;
  waiters: Set<() => void>;
  /** The highest seq the core subscription announced; `watch` checks that the tail gets it. */
  expected: number;
  watch?: ReturnType<typeof setTimeout>;
}

const dec = new TextDecoder();

export class StreamTails {
  private readonly o: StreamTailsOptions;
  private readonly tails = new Map<string, Tail>();
  private readonly maxTails: number;
  private readonly windowItems: number;
  private readonly windowChars: number;
  private readonly idleMs: number;
  private readonly catchUpMs: number;
  private readonly stallMs: number;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private stopped = false;
  /** When a read of a key without a tail last found items (whether the key is being read). */
  private readonly lastFound = new Map<string, number>();
  private readonly hotMs: number;

  constructor(options: StreamTailsOptions) {
    this.o = options;
    this.maxTails = options.maxTails ?? 128;
    this.windowItems = options.windowItems ?? 4096;
    this.windowChars = options.windowChars ?? 1024 * 1024;
    this.idleMs = options.idleMs ?? 30_000;
    this.catchUpMs = options.catchUpMs ?? 250;
    this.stallMs = options.stallMs ?? 2_000;
    this.hotMs = options.hotMs ?? 5_000;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1_000, Math.floor(this.idleMs / 3)));
    this.sweeper.unref?.();
  }

  /** Whether the key's appends are announced by its tail (so the core subscription's may be skipped). */
  announces(sk: string): boolean {
    return this.tails.get(sk)?.live === true;
  }

  /**
   * The core subscription saw `seq` appended to a tailed key (its announcement is left to the
   * tail). Should the tail not have it `stallMs` later, the tail is closed and the key
   * announced, so the direct gets take over: a stalled consumer never holds delivery back.
   */
  expect(sk: string, seq: number): void {
    const t = this.tails.get(sk);
    if (t === undefined || seq <= t.expected) return;
    t.expected = seq;
    if (t.watch !== undefined || t.next > seq) return;
    let target = seq;
    const check = () => {
      t.watch = undefined;
      if (t.closed || t.next > t.expected) return;
      // It moved on since, but has not got the latest announced yet: look again later.
      if (t.next > target) { target = t.expected; t.watch = setTimeout(check, this.stallMs); t.watch.unref?.(); return; }
      this.close(sk, t);
    };
    t.watch = setTimeout(check, this.stallMs);
    t.watch.unref?.();
  }

  /** This process appended `seq` to the key: reads wait for the tail to have it. */
  appended(sk: string, seq: number): void {
    const t = this.tails.get(sk);
    if (t !== undefined && seq > t.appended) t.appended = seq;
  }

  /**
   * Items with seq ≥ `from` from the key's window, at most `limit`; undefined when the tail
   * cannot answer (none, a position before its window, or lagging this process's appends).
   */
  async read(sk: string, from: number, limit: number): Promise<StreamRead | undefined> {
    const t = this.tails.get(sk);
    if (t === undefined || t.closed || !t.live || limit <= 0) return undefined;
    t.usedAt = Date.now();
    // Refresh the LRU order.
    this.tails.delete(sk);
    this.tails.set(sk, t);
    if (t.next - 1 < t.appended && !(await this.catchUp(t))) return undefined;
    const last = t.next - 1;
    const floor = Math.max(t.floor, last - this.o.retention + 1, 1);
    const start = Math.max(from, floor);
    const windowStart = t.window.length > 0 ? t.window[0]!.seq : t.next;
    // Before the window (a rewind): only the stream knows what is retained there.
    if (start < windowStart) return undefined;
    const items = t.window.slice(start - windowStart, start - windowStart + limit).map((i) => ({ seq: i.seq, payload: i.payload }));
    // As the direct gets say it: the first item handed out, else the first retained as far as known.
    const first = items.length > 0 ? items[0]!.seq : Math.min(Math.max(floor, windowStart), last + 1);
    return { items, first, last };
  }

  /**
   * Starts a tail for a key a read found items in: `seed` are those items (in order, the
   * read's last first), `floor` a seq below which none is retained (1: none known), `known`
   * the highest seq this process appended or read. Nothing if the key has one already.
   */
  start(ns: string, key: string, sk: string, seed: readonly TailedItem[], floor: number, known: number): void {
    if (this.tails.has(sk) || seed.length === 0) return;
    // Only for a key that keeps being read: a backlog, or a second read with news within
    // `hotMs`. Many keys with one item now and then never churn consumers (or the LRU).
    const now = Date.now();
    const before = this.lastFound.get(sk);
    this.lastFound.delete(sk);
    if (seed.length < 2 && (before === undefined || now - before > this.hotMs)) {
      this.lastFound.set(sk, now);
      if (this.lastFound.size > 4_096) this.lastFound.delete(this.lastFound.keys().next().value!);
      return;
    }
    // The window holds contiguous seqs: the seed's contiguous end.
    let from = seed.length - 1;
    while (from > 0 && seed[from - 1]!.seq === seed[from]!.seq - 1) from--;
    const lastSeed = seed[seed.length - 1]!;
    const t: Tail = {
      ns, key, window: [], chars: 0, next: seed[from]!.seq, floor, appended: known, usedAt: Date.now(),
      live: false, closed: false, waiters: new Set(), expected: 0,
    };
    for (const item of seed.slice(from)) this.push(t, item);
    this.tails.set(sk, t);
    while (this.tails.size > this.maxTails) this.close(this.tails.keys().next().value!);
    void this.run(sk, t, lastSeed.js + 1);
  }

  /**
   * Closes every tail (NATS disconnected or reconnected: reads start them again). Their keys
   * are not announced: while NATS is away a reader could do nothing with it, and after a
   * reconnect the provider announces every stream.
   */
  closeAll(): void {
    for (const sk of [...this.tails.keys()]) this.close(sk, undefined, false);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.closeAll();
  }

  private async run(sk: string, t: Tail, startJs: number): Promise<void> {
    try {
      const consumer = await this.o.js.consumers.get(this.o.streamName(t.ns), {
        filterSubjects: this.o.subject(t.ns, t.key), opt_start_seq: startJs, inactive_threshold: 60_000,
      });
      if (t.closed) { void consumer.delete().catch(() => undefined); return; }
      t.consumer = consumer;
      const messages = await consumer.consume({ max_messages: 256, callback: (m) => this.receive(t, m) });
      t.messages = messages;
      if (t.closed) { void messages.close().catch(() => undefined); return; }
      t.live = true;
      // Appends made while the consumer was being created were announced by the core
      // subscription, and are in the window now or soon: nothing to announce here.
      await messages.closed();
    } catch {
      // The consumer could not be made or failed: the direct gets answer meanwhile.
    } finally {
      this.close(sk, t);
    }
  }

  private receive(t: Tail, m: JsMsg): void {
    if (t.closed) return;
    const seq = this.o.seqOf(m);
    if (!(seq >= t.next)) return; // already in the window (a consumer reset redelivers)
    const item = { seq, js: m.seq, payload: dec.decode(m.data) };
    if (seq > t.next) {
      // A gap: the items between were dropped by retention before the consumer reached them.
      t.window = [];
      t.chars = 0;
      t.next = seq;
      t.floor = Math.max(t.floor, seq);
    }
    this.push(t, item);
    for (const w of t.waiters) w();
    this.o.notify(t.ns, t.key, seq);
  }

  private push(t: Tail, item: TailedItem): void {
    t.window.push(item);
    t.chars += item.payload.length;
    t.next = item.seq + 1;
    // Trimmed in one splice, not one shift per item.
    let drop = 0;
    let chars = t.chars;
    while (t.window.length - drop > 1 && (t.window.length - drop > this.windowItems || chars > this.windowChars)) {
      chars -= t.window[drop]!.payload.length;
      drop++;
    }
    if (drop > 0) { t.window.splice(0, drop); t.chars = chars; }
  }

  /** Waits until the tail has what this process appended; false after `catchUpMs`. */
  private catchUp(t: Tail): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => { clearTimeout(timer); t.waiters.delete(check); resolve(ok); };
      const check = () => { if (t.closed) done(false); else if (t.next - 1 >= t.appended) done(true); };
      const timer = setTimeout(() => done(false), this.catchUpMs);
      t.waiters.add(check);
      check();
    });
  }

  /**
   * Closes the key's tail (`only`: if it is still that one) and announces the key with the
   * latest seq it knows of (an append, not a subscription change: no subscriber list is
   * read again), so its readers read again, from the direct gets: an item the tail would have
   * announced is never left unannounced.
   */
  private close(sk: string, only?: Tail, announce = true): void {
    const t = this.tails.get(sk);
    if (t === undefined || (only !== undefined && t !== only)) return;
    this.tails.delete(sk);
    t.closed = true;
    t.live = false;
    t.window = [];
    if (t.watch !== undefined) clearTimeout(t.watch);
    for (const w of t.waiters) w();
    const { messages, consumer } = t;
    if (messages !== undefined) void messages.close().catch(() => undefined);
    if (consumer !== undefined) void consumer.delete().catch(() => undefined);
    if (announce && !this.stopped) this.o.notify(t.ns, t.key, Math.max(t.expected, t.next - 1, 1));
  }

  private sweep(): void {
    const now = Date.now();
    for (const [sk, t] of [...this.tails]) if (now - t.usedAt > this.idleMs) this.close(sk);
  }
}
