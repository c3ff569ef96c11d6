/**
 * Runs the storage's orphan sweep (DynamoDB: chunk items a crash mid-write left behind,
 * silo/dynamodb/chunks.ts) in bounded slices: one slice per period, on the live silo with the
 * lowest id, so a cluster sweeps its table once, a slice at a time, and a crashed sweeper's
 * turn passes to the next silo. Orphans then live at most `olderThanMs` plus one pass over
 * the table (docs/storage.md, "The orphan sweep").
 */
import type { Clock, Membership, StorageProvider, TimerHandle } from '../runtime/index.js';
import type { CollectChunksOptions, CollectChunksResult } from './dynamodb/chunks.js';

export interface StorageSweepOptions {
  /** Time between two slices (default 60 s). */
  sliceEveryMs?: number;
  /** Items one slice examines (default 1,000). */
  maxItems?: number;
  /** Orphans younger than this are kept: a write may be in progress (default 10 minutes). */
  olderThanMs?: number;
}

interface Sweepable {
  collectOrphanChunks(options?: CollectChunksOptions): Promise<CollectChunksResult>;
}

export interface StorageSweep {
  stop(): void;
}

export function startStorageSweep(o: {
  storage: StorageProvider;
  clock: Clock;
  siloId: string;
  membership: Pick<Membership, 'live'>;
  options?: StorageSweepOptions;
  onError(err: unknown): void;
}): StorageSweep | undefined {
  const storage = o.storage as StorageProvider & Partial<Sweepable>;
  if (typeof storage.collectOrphanChunks !== 'function') return undefined;
  const every = o.options?.sliceEveryMs ?? 60_000;
  const maxItems = o.options?.maxItems ?? 1_000;
  let timer: TimerHandle | undefined;
  let stopped = false;
  let next: string | undefined;
  const sweeper = () => {
    let lowest: string | undefined;
    for (const s of o.membership.live()) if (lowest === undefined || s.id < lowest) lowest = s.id;
    return lowest === undefined || lowest === o.siloId;
  };
  const slice = async () => {
    timer = undefined;
    if (stopped) return;
    if (sweeper()) {
      try {
        next = (await storage.collectOrphanChunks!({ maxItems, startAfter: next, olderThanMs: o.options?.olderThanMs })).next;
      } catch (err) {
        o.onError(err);
      }
    }
    if (!stopped) timer = o.clock.setTimer(() => void slice(), every);
  };
  timer = o.clock.setTimer(() => void slice(), every);
  return {
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
