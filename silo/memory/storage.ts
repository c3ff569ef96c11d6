/**
 * In-process storage: a Map of payloads with numeric versions. The default for a silo
 * that names no storage, and the reference the storage conformance suite holds others to.
 */
import { InconsistentStateError, type GrainId, type ReminderStore, type StorageProvider, type StoredState } from '../../runtime/index.js';
import { memoryReminderStore } from './reminders.js';
import { memoryJournal } from './journal.js';
import { memoryStreams, type MemoryStreams } from './streams.js';

interface Item {
  payload: string | undefined;
  version: number;
}

export interface MemoryStorage extends StorageProvider {
  /** Number of stored items (tombstones included). */
  readonly size: number;
  /** This storage's durable reminders (in memory too). */
  readonly reminders: ReminderStore;
  /** This storage's streams (in memory too). */
  readonly streams: MemoryStreams;
}

export function memoryStorage(): MemoryStorage {
  const items = new Map<string, Item>();
  const keyOf = (id: GrainId, name: string) => `${id.type}/${id.key}#${name}`;

  function check(id: GrainId, name: string, item: Item | undefined, etag: string | undefined): void {
    const current = item === undefined ? undefined : String(item.version);
    if (current !== etag) {
      throw new InconsistentStateError(
        `state ${name} of ${id.type}/${id.key} changed since it was read (stored version ${current ?? 'none'}, expected ${etag ?? 'none'}); another activation wrote it — re-read the state and retry`,
      );
    }
  }

  return {
    name: 'memory',
    get size() { return items.size; },
    reminders: memoryReminderStore(),
    streams: memoryStreams(),
    journal: memoryJournal(),
    async read(id, name): Promise<StoredState | undefined> {
      const item = items.get(keyOf(id, name));
      return item === undefined ? undefined : { payload: item.payload, etag: String(item.version) };
    },
    async write(id, name, payload, etag) {
      const key = keyOf(id, name);
      const item = items.get(key);
      check(id, name, item, etag);
      const version = (item?.version ?? 0) + 1;
      items.set(key, { payload, version });
      return String(version);
    },
    async delete(id, name, etag) {
      const key = keyOf(id, name);
      const item = items.get(key);
      if (item === undefined) return;
      check(id, name, item, etag);
      items.delete(key);
    },
    async clear(id, name, etag) {
      const key = keyOf(id, name);
      const item = items.get(key);
      check(id, name, item, etag);
      const version = (item?.version ?? 0) + 1;
      items.set(key, { payload: undefined, version });
      return String(version);
    },
  };
}
