/**
 * Chunk items of states too large for one item. A chunk set is written under a fresh random
 * id before the head item that names it, and never changed afterwards; so two writers racing
 * from the same version never mix their chunks, and the loser's set (or the winner's previous
 * one) is deleted afterwards, best effort. Plain GetItem/PutItem/DeleteItem: nothing that
 * dynalite lacks (no transactions).
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { A, chunkKey } from './layout.js';
import type { ChunkSet } from './payload.js';

export async function putChunks(client: DynamoDBClient, table: string, pk: string, chunks: ChunkSet): Promise<void> {
  await Promise.all(chunks.parts.map((part, i) => client.send(new PutItemCommand({
    TableName: table,
    Item: { [A.pk]: { S: chunkKey(pk, chunks.set, i) }, [A.data]: { B: part } },
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
