/**
 * Streams in process memory: the reference of the stream provider port
 * (runtime/stream-storage.ts), part of `memoryStorage()`, and TestCluster's. Every silo of
 * an in-process cluster shares one, so `onAppend` reaches them all.
 *
 * Given a `log`, every change is written to it before the call resolves, and `restore`
 * replays what a log holds: `fileStreams` (stream-file.ts) keeps one on disk, so the embedded
 * default (`npm start`) keeps its streams across a restart.
 */
import {
  DEFAULT_MAX_STREAM_ITEM_BYTES, DEFAULT_STREAM_RETENTION, SiloUnavailableError,
  type StoredStreamItem, type StreamProvider, type StreamRead, type StreamSubscriptionRecord,
} from '../../runtime/index.js';

export interface MemoryStreamsOptions {
  /** Items kept per stream (default 10 000). */
  retention?: number;
  /** Largest item in bytes of codec text (default 256 KiB). */
  maxItemBytes?: number;
  /** Where changes are written before they are acknowledged (persistence); default none. */
  log?: StreamLog;
}

/** A change, as a log records it. */
export type StreamOp =
  | { op: 'append'; ns: string; key: string; seq: number; payload: string }
  | { op: 'sub'; record: StreamSubscriptionRecord; cursor: number; reset: boolean }
  | { op: 'unsub'; ns: string; key: string; id: string }
  | { op: 'cursor'; ns: string; key: string; consumer: string; seq: number };

export interface StreamLog {
  write(op: StreamOp): Promise<void>;
}

export interface MemoryStreams extends StreamProvider {
  close(): Promise<void>;
  /** Applies a logged change (replay at start; nothing is written back to the log). */
  restore(op: StreamOp): void;
  /** The changes that rebuild the current contents (what a log is compacted to). */
  snapshot(): StreamOp[];
}

interface Log {
  items: StoredStreamItem[];
  /** Index of the first retained item in `items` (dropped items are spliced off in batches). */
  head: number;
  last: number;
  subs: Map<string, StreamSubscriptionRecord>;
  cursors: Map<string, number>;
}

const streamKey = (ns: string, key: string) => `${ns}\u0000${key}`;

export function memoryStreams(options: MemoryStreamsOptions = {}): MemoryStreams {
  const retention = options.retention ?? DEFAULT_STREAM_RETENTION;
  if (!Number.isInteger(retention) || retention < 1) throw new RangeError(`stream retention must be a whole number ≥ 1 (got ${options.retention})`);
  const maxItemBytes = options.maxItemBytes ?? DEFAULT_MAX_STREAM_ITEM_BYTES;
  const logs = new Map<string, Log & { ns: string; key: string }>();
  /** grain → stream key → subscription ids */
  const byGrain = new Map<string, Map<string, Set<string>>>();
  const listeners = new Set<(ns: string, key: string, seq: number) => void>();
  let closed = false;

  function logOf(ns: string, key: string): Log & { ns: string; key: string } {
    const k = streamKey(ns, key);
    let l = logs.get(k);
    if (l === undefined) {
      l = { ns, key, items: [], head: 0, last: 0, subs: new Map(), cursors: new Map() };
      logs.set(k, l);
    }
    return l;
  }

  function apply(op: StreamOp): void {
    switch (op.op) {
      case 'append': {
        const l = logOf(op.ns, op.key);
        l.items.push({ seq: op.seq, payload: op.payload });
        l.last = op.seq;
        if (l.items.length - l.head > retention) l.head = l.items.length - retention;
        // Dropped items are spliced off in batches: O(1) amortised per append.
        if (l.head > 1024 && l.head * 2 > l.items.length) { l.items.splice(0, l.head); l.head = 0; }
        return;
      }
      case 'sub': {
        const l = logOf(op.record.namespace, op.record.key);
        const isNew = !l.subs.has(op.record.id);
        l.subs.set(op.record.id, op.record);
        if (isNew || op.reset) l.cursors.set(op.record.id, op.cursor);
        const sk = streamKey(op.record.namespace, op.record.key);
        let streams = byGrain.get(op.record.grain);
        if (streams === undefined) byGrain.set(op.record.grain, streams = new Map());
        let ids = streams.get(sk);
        if (ids === undefined) streams.set(sk, ids = new Set());
        ids.add(op.record.id);
        return;
      }
      case 'unsub': {
        const l = logs.get(streamKey(op.ns, op.key));
        const rec = l?.subs.get(op.id);
        if (l === undefined || rec === undefined) return;
        l.subs.delete(op.id);
        l.cursors.delete(op.id);
        const streams = byGrain.get(rec.grain);
        const ids = streams?.get(streamKey(op.ns, op.key));
        ids?.delete(op.id);
        if (ids?.size === 0) streams!.delete(streamKey(op.ns, op.key));
        if (streams?.size === 0) byGrain.delete(rec.grain);
        return;
      }
      case 'cursor': {
        const l = logOf(op.ns, op.key);
        if ((l.cursors.get(op.consumer) ?? -1) < op.seq) l.cursors.set(op.consumer, op.seq);
        return;
      }
    }
  }

  let writes: Promise<unknown> = Promise.resolve();

  function appendNow(ns: string, key: string, payload: string): number {
    if (closed) throw new SiloUnavailableError('this memory stream provider is closed');
    const seq = logOf(ns, key).last + 1;
    apply({ op: 'append', ns, key, seq, payload });
    for (const fn of listeners) queueMicrotask(() => fn(ns, key, seq));
    return seq;
  }

  async function change(op: StreamOp): Promise<void> {
    if (closed) throw new SiloUnavailableError('this memory stream provider is closed');
    // Written first: nothing is acknowledged that a restart would lose.
    await options.log?.write(op);
    apply(op);
  }

  return {
    name: options.log ? 'memory (logged)' : 'memory',
    retention,
    maxItemBytes,
    append(ns, key, payload) {
      if (options.log === undefined) {
        try { return Promise.resolve(appendNow(ns, key, payload)); } catch (err) { return Promise.reject(err); }
      }
      // Logged appends go one at a time: a seq is taken only once the one before it is written,
      // so a failed write leaves no gap.
      const run = writes.then(async () => {
        if (closed) throw new SiloUnavailableError('this memory stream provider is closed');
        const seq = logOf(ns, key).last + 1;
        await options.log!.write({ op: 'append', ns, key, seq, payload });
        return appendNow(ns, key, payload);
      });
      writes = run.catch(() => undefined);
      return run;
    },
    async read(ns, key, from, limit): Promise<StreamRead> {
      const l = logs.get(streamKey(ns, key));
      if (l === undefined) return { items: [], first: 1, last: 0 };
      const retained = l.items.length - l.head;
      const first = retained > 0 ? l.items[l.head]!.seq : l.last + 1;
      // Seqs are contiguous once appended, so the index is arithmetic.
      const start = l.head + Math.max(0, from - first);
      const items = l.items.slice(start, start + Math.max(0, limit));
      return { items, first, last: l.items.length > 0 ? l.items[l.items.length - 1]!.seq : l.last };
    },
    onAppend(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async announce(ns, key) {
      for (const fn of listeners) queueMicrotask(() => fn(ns, key, 0));
    },
    putSubscription: (record, cursor, reset) => change({ op: 'sub', record: { ...record }, cursor, reset }),
    async removeSubscription(ns, key, id) {
      const existed = logs.get(streamKey(ns, key))?.subs.has(id) ?? false;
      if (existed) await change({ op: 'unsub', ns, key, id });
      return existed;
    },
    async subscriptions(ns, key) {
      return [...(logs.get(streamKey(ns, key))?.subs.values() ?? [])];
    },
    async subscriptionsOf(grain) {
      const out: StreamSubscriptionRecord[] = [];
      for (const [sk, ids] of byGrain.get(grain) ?? []) {
        const l = logs.get(sk);
        for (const id of ids) { const r = l?.subs.get(id); if (r !== undefined) out.push(r); }
      }
      return out;
    },
    async cursor(ns, key, consumer) {
      return logs.get(streamKey(ns, key))?.cursors.get(consumer);
    },
    async setCursor(ns, key, consumer, seq) {
      const current = logs.get(streamKey(ns, key))?.cursors.get(consumer);
      if (current !== undefined && current >= seq) return;
      await change({ op: 'cursor', ns, key, consumer, seq });
    },
    async streams() {
      return [...logs.values()].map((l) => ({ namespace: l.ns, key: l.key }));
    },
    async close() {
      closed = true;
      listeners.clear();
    },
    restore: apply,
    snapshot() {
      const ops: StreamOp[] = [];
      for (const l of logs.values()) {
        for (let i = l.head; i < l.items.length; i++) ops.push({ op: 'append', ns: l.ns, key: l.key, seq: l.items[i]!.seq, payload: l.items[i]!.payload });
        for (const r of l.subs.values()) ops.push({ op: 'sub', record: r, cursor: l.cursors.get(r.id) ?? 0, reset: true });
        for (const [consumer, seq] of l.cursors) if (!l.subs.has(consumer)) ops.push({ op: 'cursor', ns: l.ns, key: l.key, consumer, seq });
      }
      return ops;
    },
  };
}
