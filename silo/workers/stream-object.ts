/**
 * Streams on Workers: one Durable Object per stream (`idFromName("namespace/key")`, binding
 * `STREAMS`, class `StreamObject`). The object keeps the stream's items (the last `retention`),
 * its durable subscriptions and their cursors in its SQLite-backed storage, gives out the seqs
 * (a Durable Object runs one request at a time to completion of its storage writes, so seqs
 * never repeat), and delivers: an append or a subscription sets the object's alarm to now, and
 * the alarm delivers every subscriber's pending items as `$stream.deliver` calls to the grain
 * objects, moving each cursor after each turn. A failing subscriber is retried on a later
 * alarm with backoff, then skipped (logged), as on silos. The platform retries alarms and keeps
 * them across evictions, so delivery survives the object going away.
 *
 * A grain's list of its subscriptions lives in an object of its own (`$grain/<type>/<key>`).
 * Workers have no cross-object notification, so a follower (SSE) polls the object.
 */
import { DurableObject } from 'cloudflare:workers';
import {
  DEFAULT_MAX_STREAM_ITEM_BYTES, DEFAULT_STREAM_RETENTION, GrainError, PendingCall, STREAM_DELIVER_MESSAGE, STREAM_IMPLICIT_METHOD,
  STREAM_RETRY_DEFAULTS, decode, encode, errorFromWire, parseGrainId, toGrainError,
  type StreamProvider, type WireError, type StreamRead, type StreamSubscriptionRecord,
} from '../../runtime/index.js';
import type { DurableObjectNamespaceLike, DurableObjectStateLike, SyncKvLike, WorkerEnv } from './cloudflare.js';
import { NotSqliteBackedError } from './durable-storage.js';
import type { WorkersRuntime } from './runtime.js';

/** The binding of the stream objects (wrangler.toml). */
export const STREAMS_BINDING = 'STREAMS';

export interface StreamObjectStub {
  op(payload: string): Promise<string>;
}

export type StreamObjectClass = new (ctx: DurableObjectStateLike, env: WorkerEnv) => {
  op(payload: string): Promise<string>;
  alarm(): Promise<void>;
};

type Op =
  | { op: 'append'; ns: string; key: string; payload: string }
  | { op: 'read'; ns: string; key: string; from: number; limit: number }
  | { op: 'sub'; record: StreamSubscriptionRecord; cursor: number; reset: boolean }
  | { op: 'unsub'; ns: string; key: string; id: string }
  | { op: 'subs'; ns: string; key: string }
  | { op: 'cursor'; ns: string; key: string; consumer: string }
  | { op: 'setCursor'; ns: string; key: string; consumer: string; seq: number }
  | { op: 'index'; grain: string; record: StreamSubscriptionRecord; add: boolean }
  | { op: 'indexList'; grain: string }
  | { op: 'kick' };

interface Meta { ns: string; key: string; last: number }
type OpReply = { k: 'ok'; value: unknown } | { k: 'err'; error: WireError };
interface Consumer { id: string; grain: string; method: string; implicit: boolean }

const BATCH = 16;

export function streamObjectClass(runtimeFor: (env: WorkerEnv) => WorkersRuntime): StreamObjectClass {
  return class StreamObject extends DurableObject<WorkerEnv> {
    private readonly storage: DurableObjectStateLike['storage'];
    private readonly runtime: WorkersRuntime | undefined;
    private delivering: Promise<void> | undefined;

    constructor(ctx: DurableObjectStateLike, env: WorkerEnv) {
      super(ctx, env);
      this.storage = ctx.storage;
      try { this.runtime = runtimeFor(env); } catch { this.runtime = undefined; }
    }

    private get kv(): SyncKvLike {
      if (this.storage.kv === undefined) throw new NotSqliteBackedError();
      return this.storage.kv;
    }

    async op(payload: string): Promise<string> {
      try {
        return encode({ k: 'ok', value: await this.run(JSON.parse(payload) as Op) } satisfies OpReply);
      } catch (err) {
        return encode({ k: 'err', error: toGrainError(err).toWire() } satisfies OpReply);
      }
    }

    /** Items kept per stream (the default; not yet configurable on Workers). */
    private retention(): number {
      return DEFAULT_STREAM_RETENTION;
    }

    private async run(o: Op): Promise<unknown> {
      const kv = this.kv;
      switch (o.op) {
        case 'append': {
          const meta = (kv.get('m') as Meta | undefined) ?? { ns: o.ns, key: o.key, last: 0 };
          const seq = meta.last + 1;
          kv.put(`i:${seq}`, o.payload);
          kv.put('m', { ...meta, last: seq });
          const drop = seq - this.retention();
          if (drop >= 1) kv.delete(`i:${drop}`);
          await this.wakeSoon();
          return seq;
        }
        case 'read': {
          const meta = kv.get('m') as Meta | undefined;
          if (meta === undefined) return { items: [], first: 1, last: 0 } satisfies StreamRead;
          const first = Math.max(1, meta.last - this.retention() + 1);
          const items: Array<{ seq: number; payload: string }> = [];
          for (let s = Math.max(first, o.from); s <= meta.last && items.length < o.limit; s++) {
            const p = kv.get(`i:${s}`) as string | undefined;
            if (p !== undefined) items.push({ seq: s, payload: p });
          }
          return { items, first, last: meta.last } satisfies StreamRead;
        }
        case 'sub': {
          const meta = (kv.get('m') as Meta | undefined) ?? { ns: o.record.namespace, key: o.record.key, last: 0 };
          kv.put('m', meta);
          const ids = (kv.get('subs') as string[] | undefined) ?? [];
          const isNew = !ids.includes(o.record.id);
          if (isNew) kv.put('subs', [...ids, o.record.id]);
          kv.put(`s:${o.record.id}`, o.record);
          if (isNew || o.reset) kv.put(`c:${o.record.id}`, o.cursor);
          return undefined;
        }
        case 'unsub': {
          const ids = (kv.get('subs') as string[] | undefined) ?? [];
          if (!ids.includes(o.id)) return false;
          kv.put('subs', ids.filter((x) => x !== o.id));
          kv.delete(`s:${o.id}`);
          kv.delete(`c:${o.id}`);
          return true;
        }
        case 'subs':
          return ((kv.get('subs') as string[] | undefined) ?? []).map((id) => kv.get(`s:${id}`)).filter(Boolean);
        case 'cursor':
          return kv.get(`c:${o.consumer}`) as number | undefined;
        case 'setCursor': {
          const cur = kv.get(`c:${o.consumer}`) as number | undefined;
          if (cur === undefined || cur < o.seq) kv.put(`c:${o.consumer}`, o.seq);
          return undefined;
        }
        case 'index': {
          const list = ((kv.get('idx') as StreamSubscriptionRecord[] | undefined) ?? []).filter((r) => !(r.namespace === o.record.namespace && r.key === o.record.key && r.id === o.record.id));
          kv.put('idx', o.add ? [...list, o.record] : list);
          return undefined;
        }
        case 'indexList':
          return (kv.get('idx') as StreamSubscriptionRecord[] | undefined) ?? [];
        case 'kick':
          await this.wakeSoon();
          return undefined;
      }
    }

    /** Delivery runs on the alarm: durable, retried by the platform, kept across evictions. */
    private async wakeSoon(): Promise<void> {
      const now = Date.now();
      const at = await this.storage.getAlarm?.();
      if (at === null || at === undefined || at > now) await this.storage.setAlarm?.(now);
    }

    async alarm(): Promise<void> {
      this.delivering ??= this.deliverAll().finally(() => { this.delivering = undefined; });
      await this.delivering;
    }

    private consumers(meta: Meta): Consumer[] {
      const out: Consumer[] = [];
      const rt = this.runtime;
      if (rt !== undefined) {
        for (const name of rt.types.names()) {
          const cls = rt.types.get(name)!.cls as { implicitStreams?: readonly string[] };
          if (cls.implicitStreams?.includes(meta.ns)) out.push({ id: `implicit:${name}`, grain: `${name}/${meta.key}`, method: STREAM_IMPLICIT_METHOD, implicit: true });
        }
      }
      for (const id of (this.kv.get('subs') as string[] | undefined) ?? []) {
        const r = this.kv.get(`s:${id}`) as StreamSubscriptionRecord | undefined;
        if (r !== undefined) out.push({ id, grain: r.grain, method: r.method, implicit: false });
      }
      return out;
    }

    private async deliverAll(): Promise<void> {
      const meta = this.kv.get('m') as Meta | undefined;
      if (meta === undefined || this.runtime === undefined) return;
      const retryAt = await Promise.all(this.consumers(meta).map((c) => this.deliverTo(meta, c)));
      const next = Math.min(...retryAt.filter((t): t is number => t !== undefined));
      if (Number.isFinite(next)) await this.storage.setAlarm?.(next);
    }

    /** Delivers `c`'s pending items; a retry time when it must wait out a backoff. */
    private async deliverTo(meta: Meta, c: Consumer): Promise<number | undefined> {
      const kv = this.kv;
      const rt = this.runtime!;
      const first = Math.max(1, ((kv.get('m') as Meta).last) - this.retention() + 1);
      for (;;) {
        const last = (kv.get('m') as Meta).last;
        let cursor = kv.get(`c:${c.id}`) as number | undefined;
        if (cursor === undefined) {
          if (!c.implicit) return undefined; // unsubscribed meanwhile
          cursor = 0;
        }
        if (cursor >= last) return undefined;
        const seq = Math.max(cursor + 1, first);
        const payload = kv.get(`i:${seq}`) as string | undefined;
        if (payload === undefined) { kv.put(`c:${c.id}`, seq); continue; }
        try {
          const item = decode(payload, rt.decodeOptions);
          await new Promise((resolve, reject) => {
            rt.router.route(new PendingCall({
              target: parseGrainId(c.grain), targetKey: c.grain, method: STREAM_DELIVER_MESSAGE,
              args: [c.method, item, { namespace: meta.ns, key: meta.key, seq }], caller: undefined,
              timeoutMs: rt.responseTimeoutMs, onResolve: resolve, onReject: reject,
            }));
          });
          kv.delete(`a:${c.id}`);
        } catch (err) {
          const attempts = ((kv.get(`a:${c.id}`) as number | undefined) ?? 0) + 1;
          const unreachable = err instanceof GrainError && err.code === 'silo_unavailable';
          if (unreachable || attempts < STREAM_RETRY_DEFAULTS.maxAttempts) {
            kv.put(`a:${c.id}`, attempts);
            return Date.now() + Math.min(STREAM_RETRY_DEFAULTS.maxDelayMs, STREAM_RETRY_DEFAULTS.initialDelayMs * 2 ** (attempts - 1));
          }
          console.warn(`granary: stream ${meta.ns}/${meta.key} item ${seq} to ${c.grain}.${c.method} skipped after ${attempts} failed attempt(s): ${(err as Error).message}`);
          kv.delete(`a:${c.id}`);
        }
        const now = kv.get(`c:${c.id}`) as number | undefined;
        if (now === undefined && !c.implicit) return undefined;
        kv.put(`c:${c.id}`, seq);
      }
    }
  };
}

/** The stream provider of a Worker: every operation is an RPC to the stream's object. */
export function durableStreams(namespace: DurableObjectNamespaceLike<StreamObjectStub>, decodeRefs: Parameters<typeof decode>[1]): StreamProvider {
  const call = async (name: string, o: Op): Promise<unknown> => {
    const stub = namespace.get(namespace.idFromName(name));
    const reply = decode(await stub.op(JSON.stringify(o)), decodeRefs) as OpReply;
    if (reply.k === 'err') throw errorFromWire(reply.error);
    return reply.value;
  };
  const name = (ns: string, key: string) => `${ns}/${key}`;
  const indexName = (grain: string) => `$grain/${grain}`;
  return {
    name: 'durable-object',
    retention: DEFAULT_STREAM_RETENTION,
    maxItemBytes: DEFAULT_MAX_STREAM_ITEM_BYTES,
    append: async (ns, key, payload) => (await call(name(ns, key), { op: 'append', ns, key, payload })) as number,
    read: async (ns, key, from, limit) => (await call(name(ns, key), { op: 'read', ns, key, from, limit })) as StreamRead,
    onAppend: () => () => undefined, // no cross-object notification: followers poll
    announce: async (ns, key) => { await call(name(ns, key), { op: 'kick' }); },
    async putSubscription(record, cursor, reset) {
      await call(name(record.namespace, record.key), { op: 'sub', record, cursor, reset });
      await call(indexName(record.grain), { op: 'index', grain: record.grain, record, add: true });
    },
    async removeSubscription(ns, key, id) {
      const existed = (await call(name(ns, key), { op: 'unsub', ns, key, id })) as boolean;
      const grain = id.slice(0, id.lastIndexOf('#'));
      await call(indexName(grain), { op: 'index', grain, record: { namespace: ns, key, id, grain, method: '' }, add: false });
      return existed;
    },
    subscriptions: async (ns, key) => (await call(name(ns, key), { op: 'subs', ns, key })) as StreamSubscriptionRecord[],
    subscriptionsOf: async (grain) => (await call(indexName(grain), { op: 'indexList', grain })) as StreamSubscriptionRecord[],
    cursor: async (ns, key, consumer) => (await call(name(ns, key), { op: 'cursor', ns, key, consumer })) as number | undefined,
    async setCursor(ns, key, consumer, seq) { await call(name(ns, key), { op: 'setCursor', ns, key, consumer, seq }); },
    streams: async () => [], // each object resumes itself on its alarm
  };
}

const providers = new WeakMap<object, StreamProvider | null>();

/** The Worker's stream provider for `env`, or undefined when the `STREAMS` binding is absent. */
export function workerStreams(env: WorkerEnv, rt: WorkersRuntime): StreamProvider | undefined {
  let p = providers.get(env);
  if (p === undefined) {
    const ns = env[STREAMS_BINDING] as DurableObjectNamespaceLike<StreamObjectStub> | undefined;
    p = ns !== undefined && typeof ns === 'object' && typeof ns.idFromName === 'function' ? durableStreams(ns, rt.decodeOptions) : null;
    providers.set(env, p);
  }
  return p ?? undefined;
}
