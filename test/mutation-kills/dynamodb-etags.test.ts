/**
 * DynamoDB storage's ETags and conflicts (docs/storage.md: a write is conditional on the
 * stored version; a lost race is `InconsistentStateError` naming the grain, the state, the
 * stored and the expected version). Added where mutation testing found an ETag that merely
 * starts or ends with a version accepted, and the conflict's data unchecked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InconsistentStateError, dynamoStorage, type StorageProvider } from 'granary';
import { encode } from 'granary/internal';
import { rejection, freshId } from '../storage/conformance.js';
import { startDynalite, uniqueTable } from '../support/dynamodb.js';

let db: Awaited<ReturnType<typeof startDynalite>>;
let storage: StorageProvider & { close(): Promise<void>; ensureTable(): Promise<unknown> };

beforeAll(async () => {
  db = await startDynalite();
  storage = dynamoStorage({ table: uniqueTable(), endpoint: db.endpoint, region: 'local' });
  await storage.ensureTable();
});

afterAll(async () => {
  await storage?.close();
  await db?.close();
});

describe('dynamoStorage ETags', () => {
  it('an ETag that only starts or ends like the stored version is a conflict, and nothing is written', async () => {
    const id = freshId('etag-shape');
    const v1 = await storage.write(id, 's', encode({ n: 1 }), undefined);
    expect(v1).toBe('1');
    for (const etag of [`${v1}x`, `x${v1}`, `${v1} `, '01', '0']) {
      const err = await rejection(storage.write(id, 's', encode({ n: 2 }), etag));
      expect(err, etag).toBeInstanceOf(InconsistentStateError);
    }
    expect(await storage.read(id, 's')).toEqual({ payload: encode({ n: 1 }), etag: '1' });
  });

  it('a lost race names the grain, the state, the stored and the expected version', async () => {
    const id = freshId('etag-data');
    const v1 = await storage.write(id, 's', encode(1), undefined);
    const v2 = await storage.write(id, 's', encode(2), v1);
    const err = await rejection(storage.write(id, 's', encode(3), v1));
    expect(err).toBeInstanceOf(InconsistentStateError);
    expect((err as InconsistentStateError).data).toEqual({ grain: `${id.type}/${id.key}`, stateName: 's', stored: v2, expected: v1 });
    expect(err.message).toContain(`stored version ${v2}, expected ${v1}`);
    // Writing from nothing over a stored state: expected is null.
    const fromNothing = await rejection(storage.write(id, 's', encode(4), undefined));
    expect((fromNothing as InconsistentStateError).data).toMatchObject({ stored: v2, expected: null });
  });

  it('a clear after a clear: versions keep counting, and the stale clear is a conflict', async () => {
    const id = freshId('etag-clear');
    const v1 = await storage.write(id, 's', encode(1), undefined);
    const v2 = await storage.clear(id, 's', v1);
    expect(Number(v2)).toBe(Number(v1) + 1);
    const err = await rejection(storage.clear(id, 's', v1));
    expect((err as InconsistentStateError).data).toMatchObject({ stored: v2, expected: v1 });
  });
});
