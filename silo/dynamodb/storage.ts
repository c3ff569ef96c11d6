/**
 * Grain storage on DynamoDB: one item per grain state (see layout.ts), strongly consistent
 * reads, and writes and clears conditional on the stored `version`, so two activations of one
 * grain can never both commit. Behaves like `memoryStorage()`, the port's reference.
 *
 * This module imports the AWS SDK. The `dynamoStorage` users get from `granary` is the lazy
 * face in provider.ts, which loads this module on first use; the Worker host imports the
 * eager `dynamoStorage` below (its bundle holds the SDK anyway).
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  GrainError, InconsistentStateError, SiloUnavailableError,
  type GrainId, type JournalStorage, type ReminderStore, type StorageProvider, type StoredState,
} from '../../runtime/index.js';
import { collectOrphanChunks, deleteChunks, getChunks, putChunks, type CollectChunksOptions, type CollectChunksResult } from './chunks.js';
import { createClient, type ClientHandle } from './client.js';
import { storageClosed, storageError } from './errors.js';
import { dynamoJournal } from './journal.js';
import { dynamoReminderStore } from './reminders.js';
import { A, grainName, itemKey } from './layout.js';
import { resolveOptions, type DynamoStorageOptions, type ResolvedOptions } from './options.js';
import { encodePayload, storedPayload, textOf, type EncodedPayload } from './payload.js';
import { checkTable, ensureTable, type EnsureTableResult } from './table.js';

export interface DynamoStorage extends StorageProvider {
  /** `"dynamodb:<table>"`. */
  readonly name: string;
  readonly table: string;
  /** Where requests go (the endpoint option, or the regional AWS endpoint). */
  readonly endpoint: string;
  /** The provider's one SDK client (e.g. for tooling and benchmarks); do not destroy it. */
  readonly client: DynamoDBClient;
  /** Journals of journaled grains, in the table `journalTable` (journal.ts). */
  readonly journal: JournalStorage;
  /** Durable reminders, in the table `remindersTable` (reminders.ts). */
  readonly reminders: ReminderStore;
  /** Removes a state item entirely, conditional on its version (the port's optional `delete`: transaction records). */
  delete(id: GrainId, stateName: string, etag: string): Promise<void>;
  /**
   * One bounded slice of the orphaned-chunk sweep (chunks.ts): deletes chunk items no head
   * names that are older than `olderThanMs`, examining at most `maxItems` items; go on from
   * `next` until it is absent to cover the whole table.
   */
  collectOrphanChunks(options?: CollectChunksOptions): Promise<CollectChunksResult>;
  /** Creates the table if it is missing (idempotent) and waits until it is ACTIVE. */
  ensureTable(): Promise<EnsureTableResult>;
  /** Fails with `TableNotFoundError` (saying how to create it) unless the table exists and fits. */
  checkTable(): Promise<void>;
  /** Destroys the client; further calls fail with `SiloUnavailableError`. */
  close(): Promise<void>;
}

/** A chunked state's chunk set and the version naming it, remembered so the write that replaces that version can delete it. */
interface ChunkRef { set: string; count: number; version: string }

/** Chunk sets remembered at most; beyond, the oldest are forgotten (their chunks may stay behind). */
const MAX_CHUNK_REFS = 10_000;
/** Re-reads of a chunked state whose chunks a concurrent write replaced under us. */
const CHUNK_READ_ATTEMPTS = 5;

/** The provider, with the SDK loaded here (the Worker host's form; applications get provider.ts's). */
export function dynamoStorage(options: DynamoStorageOptions): DynamoStorage {
  const o = resolveOptions(options);
  return openDynamoStorage(o, createClient(o, DynamoDBClient));
}

/** The provider over checked options and a client it owns from now on (`close()` destroys it). */
export function openDynamoStorage(o: ResolvedOptions, handle: ClientHandle): DynamoStorage {
  const client = handle.client;
  const table = o.table;
  const chunkRefs = new Map<string, ChunkRef>();
  const cleanups = new Set<Promise<void>>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw storageClosed(table);
  }

  function remember(pk: string, ref: ChunkRef | undefined): void {
    chunkRefs.delete(pk);
    if (ref === undefined) return;
    chunkRefs.set(pk, ref);
    if (chunkRefs.size > MAX_CHUNK_REFS) chunkRefs.delete(chunkRefs.keys().next().value as string);
  }

  /** Deletes a chunk set nobody will read again, in the background (close() waits for it). */
  function discard(pk: string, ref: ChunkRef | undefined): void {
    if (ref === undefined) return;
    const p = deleteChunks(client, table, pk, ref.set, ref.count).catch(() => undefined);
    cleanups.add(p);
    p.finally(() => cleanups.delete(p));
  }

  async function read(id: GrainId, stateName: string): Promise<StoredState | undefined> {
    ensureOpen();
    const pk = itemKey(id, stateName);
    const what = `read state "${stateName}" of ${grainName(id)}`;
    for (let attempt = 1; ; attempt++) {
      let item: Record<string, AttributeValue> | undefined;
      try {
        item = (await client.send(new GetItemCommand({ TableName: table, Key: { [A.pk]: { S: pk } }, ConsistentRead: true }))).Item;
      } catch (err) {
        throw storageError(err, o, what);
      }
      if (item === undefined) return undefined;
      const etag = versionOf(item, pk);
      const stored = storedPayload(item);
      switch (stored.kind) {
        case 'none':
          remember(pk, undefined);
          return { payload: undefined, etag };
        case 'text':
          remember(pk, undefined);
          return { payload: stored.text, etag };
        case 'zipped':
          remember(pk, undefined);
          return { payload: await textOf(stored.bytes, true), etag };
        case 'chunked': {
          let bytes: Uint8Array | undefined;
          try {
            bytes = await getChunks(client, table, pk, stored.set, stored.count);
          } catch (err) {
            throw storageError(err, o, what);
          }
          if (bytes !== undefined) {
            remember(pk, { set: stored.set, count: stored.count, version: etag });
            return { payload: await textOf(bytes, stored.zipped), etag };
          }
          // A newer write replaced the chunks between our two reads: read the newer version.
          if (attempt >= CHUNK_READ_ATTEMPTS) {
            throw new SiloUnavailableError(`could not ${what}: it changed ${attempt} times while being read (another activation keeps writing it); retry later`);
          }
        }
      }
    }
  }

  /** Writes the head item `attrs` conditional on `etag`; resolves to the new ETag. */
  async function commit(id: GrainId, stateName: string, pk: string, etag: string | undefined, encoded: EncodedPayload | undefined): Promise<string> {
    const expected = parseEtag(etag);
    const what = `${encoded ? 'write' : 'clear'} state "${stateName}" of ${grainName(id)}`;
    if (expected === null) throw conflict(id, stateName, 'unknown', etag);
    const version = (expected ?? 0) + 1;
    const writeId = randomUUID();
    const mine: ChunkRef | undefined = encoded?.chunks ? { set: encoded.chunks.set, count: encoded.chunks.parts.length, version: String(version) } : undefined;
    // Taken now, not after the write: by then a read of an even newer version could have
    // replaced it, and that version's chunks must never be deleted.
    const replaced = chunkRefs.get(pk);
    if (encoded?.chunks) {
      try {
        await putChunks(client, table, pk, encoded.chunks);
      } catch (err) {
        discard(pk, mine);
        throw storageError(err, o, what);
      }
    }
    const item: Record<string, AttributeValue> = {
      [A.pk]: { S: pk },
      [A.version]: { N: String(version) },
      [A.writeId]: { S: writeId },
      [A.updatedAt]: { N: String(Date.now()) },
      ...encoded?.attrs,
    };
    try {
      await client.send(new PutItemCommand({
        TableName: table,
        Item: item,
        ...(expected === undefined
          ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': A.pk } }
          : { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': A.version }, ExpressionAttributeValues: { ':v': { N: String(expected) } } }),
      }));
    } catch (err) {
      if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') {
        // Unknown outcome: our chunks may be named by the head now, so they stay.
        if (!isUnanswered(err)) discard(pk, mine);
        throw storageError(err, o, what, true);
      }
      // The SDK may have retried a write whose first attempt landed (its answer was lost):
      // then the stored item is ours and the write succeeded.
      const current = await currentVersion(pk).catch(() => undefined);
      if (current?.writeId !== writeId) {
        discard(pk, mine);
        throw conflict(id, stateName, current === undefined ? 'unknown' : current.version ?? 'none', etag);
      }
    }
    // Our write replaced exactly version `etag`: its chunks (if we know them) are garbage now.
    if (replaced !== undefined && replaced.version === etag) discard(pk, replaced);
    if (chunkRefs.get(pk) === replaced) remember(pk, mine);
    return String(version);
  }

  /** The stored version and write id, or `{}` when nothing is stored. */
  async function currentVersion(pk: string): Promise<{ version?: string; writeId?: string }> {
    const out = await client.send(new GetItemCommand({
      TableName: table,
      Key: { [A.pk]: { S: pk } },
      ConsistentRead: true,
      ProjectionExpression: '#v, #w',
      ExpressionAttributeNames: { '#v': A.version, '#w': A.writeId },
    }));
    return { version: out.Item?.[A.version]?.N, writeId: out.Item?.[A.writeId]?.S };
  }

  return {
    name: `dynamodb:${table}`,
    table,
    endpoint: o.describeEndpoint,
    client,
    journal: dynamoJournal(client, o),
    reminders: dynamoReminderStore(client, o),
    read,
    async write(id, stateName, payload, etag) {
      ensureOpen();
      const pk = itemKey(id, stateName);
      const encoded = await encodePayload(payload, o, id, stateName);
      return commit(id, stateName, pk, etag, encoded);
    },
    async clear(id, stateName, etag) {
      ensureOpen();
      return commit(id, stateName, itemKey(id, stateName), etag, undefined);
    },
    async delete(id, stateName, etag) {
      ensureOpen();
      const pk = itemKey(id, stateName);
      const expected = parseEtag(etag);
      const what = `delete state "${stateName}" of ${grainName(id)}`;
      if (expected === null || expected === undefined) throw conflict(id, stateName, 'unknown', etag);
      const chunks = chunkRefs.get(pk);
      try {
        await client.send(new DeleteItemCommand({
          TableName: table,
          Key: { [A.pk]: { S: pk } },
          ConditionExpression: 'attribute_not_exists(#pk) OR #v = :v',
          ExpressionAttributeNames: { '#pk': A.pk, '#v': A.version },
          ExpressionAttributeValues: { ':v': { N: String(expected) } },
        }));
      } catch (err) {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw storageError(err, o, what, true);
        const current = await currentVersion(pk).catch(() => undefined);
        throw conflict(id, stateName, current?.version ?? 'unknown', etag);
      }
      if (chunks !== undefined && chunks.version === etag) discard(pk, chunks);
      remember(pk, undefined);
    },
    collectOrphanChunks(options) {
      ensureOpen();
      return collectOrphanChunks(client, table, options).catch((err: unknown) => { throw storageError(err, o, `sweep orphaned chunks of table "${table}"`); });
    },
    ensureTable() {
      ensureOpen();
      return ensureTable(client, o);
    },
    checkTable() {
      ensureOpen();
      return checkTable(client, o);
    },
    async close() {
      if (closed) return;
      closed = true;
      while (cleanups.size > 0) await Promise.all([...cleanups]);
      handle.destroy();
    },
  };
}

function conflict(id: GrainId, stateName: string, stored: string, etag: string | undefined): InconsistentStateError {
  return new InconsistentStateError(
    `state ${stateName} of ${grainName(id)} changed since it was read (stored version ${stored}, expected ${etag ?? 'none'}); another activation wrote it — re-read the state and retry`,
    { data: { grain: grainName(id), stateName, stored, expected: etag ?? null } },
  );
}

/** `undefined` for "nothing stored", a version number, or `null` for an ETag no version can match. */
function parseEtag(etag: string | undefined): number | undefined | null {
  if (etag === undefined) return undefined;
  return /^[1-9][0-9]{0,14}$/.test(etag) ? Number(etag) : null;
}

function versionOf(item: Record<string, AttributeValue>, pk: string): string {
  const v = item[A.version]?.N;
  if (v === undefined) {
    throw new GrainError('storage_error', `item "${pk}" has no numeric "version" attribute: it was not written by granary's DynamoDB storage (is the table shared with something else?)`);
  }
  return v;
}

/** The call never got an answer (network failure or timeout): it may or may not have applied. */
function isUnanswered(err: unknown): boolean {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === undefined;
}

