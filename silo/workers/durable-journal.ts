/**
 * Journals of journaled grains in the Durable Object's own storage (the journal port,
 * runtime/journal-storage.ts): each object hosts one grain, so its storage holds that
 * grain's journal. Keys, under `granary:j:<type/key>`:
 *
 * | key | value |
 * | --- | --- |
 * | `…:v` | the journal's version (number of events) |
 * | `…:e:<n>` | event `n`: `{ t: codec text, ev: eventVersion }` |
 * | `…:s` | the latest snapshot: `{ v, p: codec text, ev }` |
 *
 * An append is a read-compare-write on the synchronous key-value API inside one
 * `transactionSync` (all of its events and the new version, or nothing), so nothing can run
 * between the check and the writes; the platform's output gate holds the reply until the
 * writes are durable. One value per event keeps every write small and an append's cost
 * independent of the journal's length.
 */
import {
  InvalidArgumentError, checkJournalBatch, journalConflict,
  type GrainId, type JournalBatch, type JournalSnapshot, type JournalStorage, type LoadedJournal,
} from '../../runtime/index.js';
import type { SyncKvLike } from './cloudflare.js';

/** SQLite-backed objects keep values up to about 2 MB. */
const MAX_VALUE_BYTES = 2_000_000;

interface StoredEvent { t: string; ev: number }
interface StoredSnapshot { v: number; p: string; ev: number }

export interface DurableJournalOptions {
  kv: SyncKvLike;
  /** Runs `fn` atomically (`ctx.storage.transactionSync`), when the platform offers it. */
  transactionSync?: <T>(fn: () => T) => T;
  /** Refuses ids whose journal is not kept in this object (throws). */
  checkOwner(id: GrainId): void;
}

export function durableJournal(options: DurableJournalOptions): JournalStorage {
  const { kv, checkOwner } = options;
  const atomically = options.transactionSync ?? (<T>(fn: () => T) => fn());
  const base = (id: GrainId) => `granary:j:${id.type}/${id.key}`;
  const versionOf = (id: GrainId) => (kv.get(`${base(id)}:v`) as number | undefined) ?? 0;

  /** Events `[from, to)` as batches of consecutive events with one eventVersion. */
  function batches(id: GrainId, from: number, to: number): JournalBatch[] {
    const out: JournalBatch[] = [];
    const prefix = `${base(id)}:e:`;
    for (let n = from; n < to; n++) {
      const e = kv.get(prefix + n) as StoredEvent | undefined;
      if (e === undefined) throw new InvalidArgumentError(`the journal of ${id.type}/${id.key} is missing event ${n}`, { code: 'storage_error' });
      const last = out[out.length - 1];
      if (last !== undefined && last.eventVersion === e.ev) last.events.push(e.t);
      else out.push({ from: n, events: [e.t], eventVersion: e.ev });
    }
    return out;
  }

  return {
    async load(id): Promise<LoadedJournal> {
      checkOwner(id);
      const s = kv.get(`${base(id)}:s`) as StoredSnapshot | undefined;
      const snapshot: JournalSnapshot | undefined = s && { version: s.v, payload: s.p, eventVersion: s.ev };
      return { snapshot, batches: batches(id, snapshot?.version ?? 0, versionOf(id)) };
    },
    async readEvents(id, from, to) {
      checkOwner(id);
      return batches(id, Math.max(0, from), Math.min(to, versionOf(id)));
    },
    async append(id, batch) {
      checkOwner(id);
      checkJournalBatch(id, batch);
      const encoder = new TextEncoder();
      for (const t of batch.events) {
        const bytes = encoder.encode(t).byteLength;
        if (bytes > MAX_VALUE_BYTES) {
          throw new InvalidArgumentError(`an event of ${id.type}/${id.key} is ${(bytes / 1e6).toFixed(2)} MB of codec text, more than Durable Object storage keeps in one value (about 2 MB); nothing was written. Keep large blobs elsewhere (e.g. R2) and put a reference in the event`,
            { data: { grain: `${id.type}/${id.key}`, bytes } });
        }
      }
      atomically(() => {
        const version = versionOf(id);
        if (version !== batch.from) throw journalConflict(id, version, batch.from);
        const prefix = `${base(id)}:e:`;
        batch.events.forEach((t, i) => kv.put(prefix + (batch.from + i), { t, ev: batch.eventVersion } satisfies StoredEvent));
        kv.put(`${base(id)}:v`, batch.from + batch.events.length);
      });
    },
    async writeSnapshot(id, snapshot) {
      checkOwner(id);
      const current = kv.get(`${base(id)}:s`) as StoredSnapshot | undefined;
      if (snapshot.version > versionOf(id) || snapshot.version < 1) {
        throw new InvalidArgumentError(`snapshot of ${id.type}/${id.key} at version ${snapshot.version} is outside its journal (version ${versionOf(id)})`);
      }
      if (new TextEncoder().encode(snapshot.payload).byteLength > MAX_VALUE_BYTES) {
        throw new InvalidArgumentError(`the snapshot of ${id.type}/${id.key} is more than Durable Object storage keeps in one value (about 2 MB); set snapshotEvery = 0 for this grain, or keep large blobs elsewhere`);
      }
      if (current === undefined || current.v < snapshot.version) {
        kv.put(`${base(id)}:s`, { v: snapshot.version, p: snapshot.payload, ev: snapshot.eventVersion } satisfies StoredSnapshot);
      }
    },
  };
}
