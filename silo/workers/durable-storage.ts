/**
 * Grain storage in the Durable Object's own storage: the default on Workers.
 *
 * Each object hosts one grain, so its storage holds that grain's states; the state of any
 * other grain id (a transaction record) is kept in the object named by that id, reached by
 * RPC (`remoteObjectStorage`), so transactions work across objects. Items keep
 * the payload and a numeric version, exactly like `memoryStorage()` (the port's reference):
 * every write and clear is conditional on the version the caller last saw, and a clear
 * leaves a tombstone so versions never repeat. The check is a read-compare-write on the
 * synchronous SQLite-backed key-value API (`ctx.storage.kv`), so nothing can run between
 * the read and the write; the platform's output gate holds the reply until the write is
 * durable.
 */
import {
  GrainError, InconsistentStateError, InvalidArgumentError,
  type GrainId, type StorageProvider, type StoredState,
} from '../../runtime/index.js';
import type { DurableObjectStorageLike, SyncKvLike } from './cloudflare.js';
import { durableJournal } from './durable-journal.js';

interface Item {
  /** The codec text; `null` for a tombstone (structured clone keeps null, not undefined). */
  p: string | null;
  v: number;
}

export interface DurableObjectStorageOptions {
  /**
   * `"type/key"` of the grain this object hosts. Set, only that grain's states are kept
   * here: any other grain id's state (e.g. a transaction record, `$txn/<id>`) lives in the
   * object named by that id, reached through `others` — or is refused when there is none,
   * since storing it here would hide it from everyone else.
   */
  owner?: string;
  /** Storage of the states of other grain ids (in their own objects). */
  others?: StorageProvider;
}

/** Thrown when an object is not SQLite-backed (declared under `new_classes`). */
export class NotSqliteBackedError extends GrainError {
  constructor(options?: { cause?: unknown }) {
    super(
      'configuration_error',
      'the grain Durable Object has no synchronous storage (ctx.storage.kv): declare its class under new_sqlite_classes in the [[migrations]] of wrangler.toml',
      options,
    );
  }
}

export function durableObjectStorage(storage: DurableObjectStorageLike, options: DurableObjectStorageOptions = {}): StorageProvider {
  let kv: SyncKvLike | undefined;
  try {
    kv = storage.kv;
    // workerd throws on first use for objects not declared SQLite-backed: find out now.
    kv?.get('granary:probe');
  } catch (err) {
    throw new NotSqliteBackedError({ cause: err });
  }
  if (kv === undefined) throw new NotSqliteBackedError();
  const { owner, others } = options;

  function keyOf(id: GrainId, name: string): string {
    return `granary:${id.type}/${id.key}#${name}`;
  }

  /** Whether `id`'s state is kept elsewhere (its own object); throws when it cannot be reached. */
  function elsewhere(id: GrainId): boolean {
    if (owner === undefined || `${id.type}/${id.key}` === owner) return false;
    if (others !== undefined) return true;
    throw new InvalidArgumentError(
      `this Durable Object hosts ${owner}; it cannot keep state of ${id.type}/${id.key}, which lives in that grain's own object`,
      { code: 'invalid_storage_access' },
    );
  }

  function itemAt(key: string): Item | undefined {
    return kv!.get(key) as Item | undefined;
  }

  function check(id: GrainId, name: string, item: Item | undefined, etag: string | undefined): void {
    const current = item === undefined ? undefined : String(item.v);
    if (current !== etag) {
      throw new InconsistentStateError(
        `state ${name} of ${id.type}/${id.key} changed since it was read (stored version ${current ?? 'none'}, expected ${etag ?? 'none'}); another activation wrote it — re-read the state and retry`,
      );
    }
  }

  function put(id: GrainId, name: string, payload: string | null, etag: string | undefined): string {
    const key = keyOf(id, name);
    const item = itemAt(key);
    check(id, name, item, etag);
    const v = (item?.v ?? 0) + 1;
    try {
      kv!.put(key, { p: payload, v } satisfies Item);
    } catch (err) {
      throw tooLarge(id, name, payload, err) ?? err;
    }
    return String(v);
  }

  return {
    name: 'durable-object',
    // A grain's journal lives only in its own object: no other object's is reachable from here.
    journal: durableJournal({
      kv,
      transactionSync: storage.transactionSync === undefined ? undefined : (fn) => storage.transactionSync!(fn),
      checkOwner(id) {
        if (owner !== undefined && `${id.type}/${id.key}` !== owner) {
          throw new InvalidArgumentError(`this Durable Object hosts ${owner}; the journal of ${id.type}/${id.key} lives in that grain's own object`, { code: 'invalid_storage_access' });
        }
      },
    }),
    async read(id, name): Promise<StoredState | undefined> {
      if (elsewhere(id)) return others!.read(id, name);
      const item = itemAt(keyOf(id, name));
      return item === undefined ? undefined : { payload: item.p ?? undefined, etag: String(item.v) };
    },
    async write(id, name, payload, etag) {
      if (elsewhere(id)) return others!.write(id, name, payload, etag);
      return put(id, name, payload, etag);
    },
    async clear(id, name, etag) {
      if (elsewhere(id)) return others!.clear(id, name, etag);
      return put(id, name, null, etag);
    },
    async delete(id, name, etag) {
      if (elsewhere(id)) return others!.delete!(id, name, etag);
      const key = keyOf(id, name);
      const item = itemAt(key);
      if (item === undefined) return;
      check(id, name, item, etag);
      kv!.delete(key);
    },
  };
}

/** SQLite-backed objects keep values up to about 2 MB: a clear error instead of SQLITE_TOOBIG. */
function tooLarge(id: GrainId, name: string, payload: string | null, err: unknown): InvalidArgumentError | undefined {
  if (payload === null || !/too ?big|TOOBIG/i.test((err as Error | null)?.message ?? '')) return undefined;
  const bytes = new TextEncoder().encode(payload).byteLength;
  const grain = `${id.type}/${id.key}`;
  return new InvalidArgumentError(
    `state "${name}" of ${grain} is ${(bytes / 1e6).toFixed(2)} MB of codec text, more than Durable Object storage keeps in one value (about 2 MB); keep large blobs elsewhere (e.g. R2) and store a reference, or use GRANARY_STORAGE="dynamodb", which compresses and splits large states`,
    { data: { grain, stateName: name, bytes }, cause: err },
  );
}
