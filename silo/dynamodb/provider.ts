/**
 * `dynamoStorage(...)` as applications get it from `granary`: it checks its options at once
 * and loads the AWS SDK and the implementation (storage.ts) on first use — the first read,
 * write, `ensureTable()` or `checkTable()` — so importing `granary` loads none of it.
 * Once loaded, every call goes straight to the implementation.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type GrainId, type ReminderStore, type StoredState } from '../../runtime/index.js';
import { createClient, type ClientHandle } from './client.js';
import { storageClosed } from './errors.js';
import { resolveOptions, type DynamoStorageOptions } from './options.js';
import { loadSdk, loadSdkNow } from './sdk.js';
import type { DynamoStorage } from './storage.js';
import type { EnsureTableResult } from './table.js';
import type { CollectChunksOptions, CollectChunksResult } from './chunks.js';

export function dynamoStorage(options: DynamoStorageOptions): DynamoStorage {
  const o = resolveOptions(options);
  let handle: ClientHandle | undefined;
  let loading: Promise<DynamoStorage> | undefined;
  let real: DynamoStorage | undefined;
  let closed = false;

  function load(): Promise<DynamoStorage> {
    if (closed && loading === undefined) return Promise.reject(storageClosed(o.table));
    return (loading ??= Promise.all([import('./storage.js'), loadSdk()]).then(([impl, sdk]) => {
      handle ??= createClient(o, sdk.DynamoDBClient);
      return (real = impl.openDynamoStorage(o, handle));
    }));
  }

  // The reminder store, loaded with the rest on its first call.
  const rem = <K extends 'put' | 'remove' | 'get' | 'list' | 'due' | 'advance'>(k: K) =>
    ((...args: unknown[]) => (real !== undefined ? (real.reminders[k] as (...a: unknown[]) => unknown)(...args)
      : load().then((s) => (s.reminders[k] as (...a: unknown[]) => unknown)(...args)))) as ReminderStore[K];
  const reminders: ReminderStore = {
    partitions: o.reminderPartitions,
    put: rem('put'), remove: rem('remove'), get: rem('get'), list: rem('list'), due: rem('due'), advance: rem('advance'),
  };

  return {
    name: `dynamodb:${o.table}`,
    reminders,
    table: o.table,
    endpoint: o.describeEndpoint,
    get client(): DynamoDBClient {
      // A property cannot wait for an import: take the SDK synchronously (the provider then uses this client).
      handle ??= createClient(o, loadSdkNow().DynamoDBClient);
      return handle.client;
    },
    journal: {
      load: (id, hint) => (real !== undefined ? real.journal.load(id, hint) : load().then((s) => s.journal.load(id, hint))),
      readEvents: (id, from, to) => (real !== undefined ? real.journal.readEvents(id, from, to) : load().then((s) => s.journal.readEvents(id, from, to))),
      append: (id, batch) => (real !== undefined ? real.journal.append(id, batch) : load().then((s) => s.journal.append(id, batch))),
      writeSnapshot: (id, snap) => (real !== undefined ? real.journal.writeSnapshot(id, snap) : load().then((s) => s.journal.writeSnapshot(id, snap))),
    },
    read: (id: GrainId, stateName: string): Promise<StoredState | undefined> =>
      real !== undefined ? real.read(id, stateName) : load().then((s) => s.read(id, stateName)),
    write: (id: GrainId, stateName: string, payload: string, etag: string | undefined): Promise<string> =>
      real !== undefined ? real.write(id, stateName, payload, etag) : load().then((s) => s.write(id, stateName, payload, etag)),
    clear: (id: GrainId, stateName: string, etag: string | undefined): Promise<string> =>
      real !== undefined ? real.clear(id, stateName, etag) : load().then((s) => s.clear(id, stateName, etag)),
    delete: (id: GrainId, stateName: string, etag: string): Promise<void> =>
      real !== undefined ? real.delete(id, stateName, etag) : load().then((s) => s.delete(id, stateName, etag)),
    collectOrphanChunks: (options?: CollectChunksOptions): Promise<CollectChunksResult> =>
      real !== undefined ? real.collectOrphanChunks(options) : load().then((s) => s.collectOrphanChunks(options)),
    ensureTable: (): Promise<EnsureTableResult> => (real !== undefined ? real.ensureTable() : load().then((s) => s.ensureTable())),
    checkTable: (): Promise<void> => (real !== undefined ? real.checkTable() : load().then((s) => s.checkTable())),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (loading !== undefined) {
        const loaded = await loading.catch(() => undefined);
        if (loaded !== undefined) return loaded.close();
      }
      handle?.destroy();
    },
  };
}
