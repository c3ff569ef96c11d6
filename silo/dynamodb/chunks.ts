/**
 * Chunk items of states too large for one item. A chunk set is written under a fresh random
 * id before the head item that names it, and never changed afterwards; so two writers racing
 * from the same version never mix their chunks, and the loser's set (or the winner's previous
 * one) is deleted afterwards, best effort. Plain GetItem/PutItem/DeleteItem/Scan: nothing
 * that dynalite lacks (no transactions).
 *
 * What that best effort misses — a process that dies between writing a chunk set and its
 * head, or a head write whose outcome stayed unknown — is collected by `collectOrphanChunks`,
 * a bounded sweep: chunk items carry the time they were written (`updatedAt`), and a set
 * that no head names and that is older than any write can take is deleted.
 */
import {
  ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, PutItemCommand, ScanCommand,
  type AttributeValue, type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { A, chunkKey, parseChunkKey } from './layout.js';
import type { ChunkSet } from './payload.js';

export async function putChunks(client: DynamoDBClient, table: string, pk: string, chunks: ChunkSet, now = Date.now()): Promise<void> {
  await Promise.all(chunks.parts.map((part, i) => client.send(new PutItemCommand({
    TableName: table,
    Item: { [A.pk]: { S: chunkKey(pk, chunks.set, i) }, [A.data]: { B: part }, [A.updatedAt]: { N: String(now) } },
  }))));
}

/** The concatenated chunk bytes, or `undefined` when a chunk is gone (a newer write replaced the set). */
export async function getChunks(client: DynamoDBClient, table: string, pk: string, set: string, count: number): Promise<Uint8Array | undefined> {
  const parts = await Promise.all(Array.from({ length: count }, (_, i) => client.send(new GetItemCommand({
    TableName: table,
    Key: { [A.pk]: { S: chunkKey(pk, set, i) } },
    ConsistentRead: true,
  })).then((out) => out.Item?.[A.data]?.B)));
  if (parts.some((p) => p === undefined)) return undefined;
  return Buffer.concat(parts as Uint8Array[]);
}

export async function deleteChunks(client: DynamoDBClient, table: string, pk: string, set: string, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => client.send(new DeleteItemCommand({
    TableName: table,
    Key: { [A.pk]: { S: chunkKey(pk, set, i) } },
  }))));
}

export interface CollectChunksOptions {
  /**
   * Only chunk items written at least this long ago are collected (default 10 minutes): a
   * write in progress has written its chunks but not yet its head, and must keep them. It
   * must exceed the longest a write can take (`maxAttempts × (connect + request timeout)`
   * plus backoff, seconds by default).
   */
  olderThanMs?: number;
  /** Items examined by this call at most (default 1,000): one call is one bounded slice of the table. */
  maxItems?: number;
  /** Where to go on: the `next` of the previous call (absent: from the start of the table). */
  startAfter?: string;
  /** The current time, epoch ms (tests). */
  now?: number;
}

export interface CollectChunksResult {
  /** Items examined. */
  scanned: number;
  /** Orphaned chunk items deleted. */
  deleted: number;
  /** Pass as `startAfter` to go on; absent when the sweep reached the end of the table. */
  next?: string;
}

/**
 * Deletes chunk items that no head item names (orphans), examining at most `maxItems` items.
 * A chunk item is recognised by its key (`<head pk>@<set>/<i>`) and by having no `version`;
 * its head is read consistently, and the chunk is deleted only when the head names another
 * set (or no head exists) and the chunk is older than `olderThanMs`. The delete is
 * conditional on the item still having no `version`, so a head is never deleted.
 */
export async function collectOrphanChunks(client: DynamoDBClient, table: string, options: CollectChunksOptions = {}): Promise<CollectChunksResult> {
  const olderThanMs = options.olderThanMs ?? 10 * 60_000;
  const maxItems = options.maxItems ?? 1_000;
  if (!(olderThanMs >= 0)) throw new RangeError(`collectOrphanChunks: olderThanMs must be a non-negative number of milliseconds (got ${olderThanMs})`);
  if (!(maxItems >= 1)) throw new RangeError(`collectOrphanChunks: maxItems must be at least 1 (got ${maxItems})`);
  const cutoff = (options.now ?? Date.now()) - olderThanMs;
  const heads = new Map<string, string | undefined>();
  let start: Record<string, AttributeValue> | undefined = options.startAfter === undefined ? undefined : { [A.pk]: { S: options.startAfter } };
  let scanned = 0;
  let deleted = 0;
  while (scanned < maxItems) {
    const page = await client.send(new ScanCommand({
      TableName: table,
      ExclusiveStartKey: start,
      Limit: Math.min(maxItems - scanned, 500),
      ConsistentRead: true,
      // Never the chunk bytes: only what says whether an item is an old chunk.
      ProjectionExpression: '#pk, #v, #u',
      ExpressionAttributeNames: { '#pk': A.pk, '#v': A.version, '#u': A.updatedAt },
    }));
    for (const item of page.Items ?? []) {
      scanned++;
      const pk = item[A.pk]?.S;
      if (pk === undefined || item[A.version] !== undefined) continue;
      const chunk = parseChunkKey(pk);
      if (chunk === undefined) continue;
      const at = item[A.updatedAt]?.N;
      // Chunks written before chunk items carried their time count as old.
      if (at !== undefined && Number(at) > cutoff) continue;
      if (!heads.has(chunk.head)) heads.set(chunk.head, await namedSet(client, table, chunk.head));
      if (heads.get(chunk.head) === chunk.set) continue;
      try {
        await client.send(new DeleteItemCommand({
          TableName: table,
          Key: { [A.pk]: { S: pk } },
          ConditionExpression: 'attribute_not_exists(#v)',
          ExpressionAttributeNames: { '#v': A.version },
        }));
        deleted++;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException) && (err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
      }
    }
    start = page.LastEvaluatedKey;
    if (start === undefined) return { scanned, deleted };
  }
  return { scanned, deleted, next: start?.[A.pk]?.S };
}

/** The chunk set the head item names, or undefined (no head, or a head without chunks). */
async function namedSet(client: DynamoDBClient, table: string, pk: string): Promise<string | undefined> {
  const out = await client.send(new GetItemCommand({
    TableName: table,
    Key: { [A.pk]: { S: pk } },
    ConsistentRead: true,
    ProjectionExpression: '#s',
    ExpressionAttributeNames: { '#s': A.chunkSet },
  }));
  return out.Item?.[A.chunkSet]?.S;
}
