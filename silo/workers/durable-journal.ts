/**
 * Journals of journaled grains in the Durable Object's own storage (the journal port,
 * runtime/journal-storage.ts): each object hosts one grain, so its storage holds that
 * grain's journal. Keys, under `granary:j:<type/key>`:
 *
 * | key | value |
 * | --- | --- |
 * | `…:v` | the journal's version (number of events) |
 * | `…:e:<n>` | event `n`: `{ t: codec text, ev: eventVersion }` |
 * | `…:s` | the latest snapshot: `{ v, p: codec text, ev, c?: call record }` |
 * | `…:c` | the call record of the latest batch that had one (runtime/call-log.ts): its text, or `{ parts }` |
 * | `…:c:<i>` | part `i` of a call record too long for one value |
 *
 * An append is a read-compare-write on the synchronous key-value API inside one
 * `transactionSync` (all of its events and the new version, or nothing), so nothing can run
 * between the check and the writes; the platform's output gate holds the reply until the
 * writes are durable. The batch's call record is written in the same transaction, so it
 * commits exactly when the events do; `load` returns it on the last batch (events are kept
 * one per value, so batches are regrouped and only the latest record is kept). One value per event keeps every write small and an append's cost
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
interface StoredSnapshot { v: number; p: string; ev: number; c?: string }

/** Characters of a call record per value: 3 UTF-8 bytes each at most, well under a value's limit. */
const CALLS_PART_CHARS = 500_000;

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

  function readCalls(id: GrainId): string | undefined {
    const stored = kv.get(`${base(id)}:c`) as string | { parts: number } | undefined;
    if (stored === undefined || typeof stored === 'string') return stored;
    let text = '';
    for (let i = 0; i < stored.parts; i++) text += kv.get(`${base(id)}:c:${i}`) as string;
    return text;
  }

  /** Inside the append's transaction. Stale parts of a longer earlier record are left: the count says which are read. */
  function writeCalls(id: GrainId, calls: string): void {
    if (calls.length <= CALLS_PART_CHARS) {
      kv.put(`${base(id)}:c`, calls);
      return;
    }
    const parts = Math.ceil(calls.length / CALLS_PART_CHARS);
    for (let i = 0; i < parts; i++) kv.put(`${base(id)}:c:${i}`, calls.slice(i * CALLS_PART_CHARS, (i + 1) * CALLS_PART_CHARS));
    kv.put(`${base(id)}:c`, { parts });
  }

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
      const snapshot: JournalSnapshot | undefined = s && { version: s.v, payload: s.p, eventVersion: s.ev, ...(s.c !== undefined ? { calls: s.c } : {}) };
      const after = batches(id, snapshot?.version ?? 0, versionOf(id));
      // The latest record goes on the last batch; with none after the snapshot it is the
      // snapshot's (the one beside it is as new or newer, and kept there when too large for its value).
      const last = after[after.length - 1] ?? snapshot;
      if (last !== undefined) {
        const calls = readCalls(id);
        if (calls !== undefined) last.calls = calls;
      }
      return { snapshot, batches: after };
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
        if (batch.calls !== undefined) writeCalls(id, batch.calls);
      });
    },
    async writeSnapshot(id, snapshot) {
      checkOwner(id);
      const current = kv.get(`${base(id)}:s`) as StoredSnapshot | undefined;
      if (snapshot.version > versionOf(id) || snapshot.version < 1) {
        throw new InvalidArgumentError(`snapshot of ${id.type}/${id.key} at version ${snapshot.version} is outside its journal (version ${versionOf(id)})`);
      }
      const bytes = new TextEncoder().encode(snapshot.payload).byteLength;
      if (bytes > MAX_VALUE_BYTES) {
        throw new InvalidArgumentError(`the snapshot of ${id.type}/${id.key} is more than Durable Object storage keeps in one value (about 2 MB); set snapshotEvery = 0 for this grain, or keep large blobs elsewhere`);
      }
      // A call record that would overflow the value stays out: `load` reads the latest one beside it.
      const calls = snapshot.calls !== undefined && bytes + snapshot.calls.length * 3 <= MAX_VALUE_BYTES ? snapshot.calls : undefined;
      atomically(() => {
        // At the journal's end its record is the latest one (a record stored with no new events).
        if (snapshot.calls !== undefined && snapshot.version === versionOf(id)) writeCalls(id, snapshot.calls);
        if (current === undefined || current.v <= snapshot.version) {
          kv.put(`${base(id)}:s`, { v: snapshot.version, p: snapshot.payload, ev: snapshot.eventVersion, ...(calls !== undefined ? { c: calls } : {}) } satisfies StoredSnapshot);
        }
      });
    },
  };
}
