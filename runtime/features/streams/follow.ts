/**
 * Following one stream outside any grain: a client's subscription, and the gateway's
 * Server-Sent Events. Items are handed over one at a time — the next is read only once the
 * consumer's promise for the one before has settled — so a slow consumer (a slow SSE
 * connection) slows only itself, with at most `batch` items held in memory.
 */
import type { StreamProvider } from '../../stream-storage.js';
import type { StreamItemMeta } from './model.js';

export interface FollowStreamOptions {
  provider: StreamProvider;
  namespace: string;
  key: string;
  /** First seq to hand over; undefined: the next item published. */
  from?: number;
  decode(payload: string): unknown;
  /** Called for each item in order; the next waits for its promise. A throw is reported and the item skipped. */
  onItem(item: unknown, meta: StreamItemMeta): unknown;
  /** Reports a failing consumer or provider (the follower keeps going). */
  onError?(what: string, err: unknown): void;
  /** Items read at once (default 64). */
  batch?: number;
  /** Wait before reading again after the provider failed (default 1 s; real time). */
  retryMs?: number;
  /** Read again at least this often (real time), for providers that cannot announce appends (Workers); default: only when told. */
  pollMs?: number;
}

export interface StreamFollower {
  /** Resolves once the start position is fixed (items published after it are handed over). */
  readonly ready: Promise<void>;
  /** The last seq handed over. */
  readonly position: number;
  close(): Promise<void>;
}

export function followStream(o: FollowStreamOptions): StreamFollower {
  const batch = o.batch ?? 64;
  let closed = false;
  let cursor = 0;
  let wakeUp: (() => void) | undefined;
  let pending = false;
  const wake = () => { pending = true; const w = wakeUp; wakeUp = undefined; w?.(); };
  const off = o.provider.onAppend((ns, key) => { if (ns === o.namespace && key === o.key) wake(); });
  const sleep = (ms?: number) => new Promise<void>((resolve) => {
    if (closed || pending) { pending = false; resolve(); return; }
    wakeUp = () => { pending = false; if (timer) clearTimeout(timer); resolve(); };
    const timer = ms === undefined ? undefined : setTimeout(() => { wakeUp = undefined; resolve(); }, ms);
  });

  const ready = (async () => {
    if (o.from !== undefined) cursor = o.from - 1;
    else cursor = (await o.provider.read(o.namespace, o.key, Number.MAX_SAFE_INTEGER, 0)).last;
  })();

  const loop = (async () => {
    try { await ready; } catch { /* reported by whoever awaits `ready` */ return; }
    while (!closed) {
      pending = false;
      let items;
      try {
        items = (await o.provider.read(o.namespace, o.key, cursor + 1, batch)).items;
      } catch (err) {
        o.onError?.(`reading stream ${o.namespace}/${o.key}`, err);
        await sleep(o.retryMs ?? 1_000);
        continue;
      }
      for (const stored of items) {
        if (closed) return;
        try {
          await o.onItem(o.decode(stored.payload), { namespace: o.namespace, key: o.key, seq: stored.seq });
        } catch (err) {
          o.onError?.(`stream ${o.namespace}/${o.key} item ${stored.seq}: the subscriber threw; skipped`, err);
        }
        cursor = stored.seq;
      }
      if (items.length < batch) await sleep(o.pollMs);
    }
  })();

  return {
    ready,
    get position() { return cursor; },
    async close() {
      if (closed) return;
      closed = true;
      off();
      wake();
      await loop;
    },
  };
}
