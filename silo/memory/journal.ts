/**
 * Journals in memory: the journal port's reference (runtime/journal-storage.ts), part of
 * `memoryStorage()`. The conformance suite (test/storage/journal-conformance.ts) holds the
 * other providers to what this does.
 */
import {
  InvalidArgumentError, checkJournalBatch, journalConflict,
  type GrainId, type JournalBatch, type JournalSnapshot, type JournalStorage, type LoadedJournal,
} from '../../runtime/index.js';

interface Journal {
  batches: JournalBatch[];
  version: number;
  snapshot: JournalSnapshot | undefined;
}

export function memoryJournal(): JournalStorage {
  const journals = new Map<string, Journal>();
  const keyOf = (id: GrainId) => `${id.type}/${id.key}`;

  return {
    async load(id): Promise<LoadedJournal> {
      const j = journals.get(keyOf(id));
      if (j === undefined) return { snapshot: undefined, batches: [] };
      const after = j.snapshot?.version ?? 0;
      return { snapshot: j.snapshot && { ...j.snapshot }, batches: j.batches.filter((b) => b.from >= after).map(copyBatch) };
    },
    async readEvents(id, from, to) {
      const j = journals.get(keyOf(id));
      if (j === undefined) return [];
      return j.batches.filter((b) => b.from < to && b.from + b.events.length > from).map(copyBatch);
    },
    async append(id, batch) {
      checkJournalBatch(id, batch);
      const key = keyOf(id);
      const j = journals.get(key) ?? { batches: [], version: 0, snapshot: undefined };
      if (j.version !== batch.from) throw journalConflict(id, j.version, batch.from);
      j.batches.push(copyBatch(batch));
      j.version += batch.events.length;
      journals.set(key, j);
    },
    async writeSnapshot(id, snapshot) {
      const key = keyOf(id);
      const j = journals.get(key);
      if (j === undefined || snapshot.version > j.version || snapshot.version < 1) {
        throw new InvalidArgumentError(`snapshot of ${key} at version ${snapshot.version} is outside its journal (version ${j?.version ?? 0})`);
      }
      if (j.snapshot === undefined || j.snapshot.version <= snapshot.version) j.snapshot = { ...snapshot };
    },
  };
}

function copyBatch(b: JournalBatch): JournalBatch {
  return { from: b.from, events: [...b.events], eventVersion: b.eventVersion, ...(b.calls !== undefined ? { calls: b.calls } : {}) };
}
