/**
 * DynamoDB Local (AWS's own emulator, one JVM for this file): the conformance suite, the
 * suite shared with dynalite (large states, retries and lost answers through a fault proxy),
 * and the table management and item layout that dynalite could get wrong. Where dynalite and
 * DynamoDB Local disagree, DynamoDB Local is right.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { TableNotFoundError, dynamoStorage, type DynamoStorage } from 'granary';
import { encode, grainId } from 'granary/internal';
import { startDynamoDBLocal, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { storageConformance } from './conformance.js';
import { dynamoBehaviour } from './dynamodb-behaviour.js';

let db: DynamoEndpoint;
const opened: DynamoStorage[] = [];
function open(table = uniqueTable()): DynamoStorage {
  const s = dynamoStorage({ table, endpoint: db.endpoint, region: 'local' });
  opened.push(s);
  return s;
}

beforeAll(async () => {
  db = await startDynamoDBLocal();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await db?.close();
});

storageConformance('dynamodb on DynamoDB Local', async () => {
  const storage = open();
  await storage.ensureTable();
  return { storage };
});

dynamoBehaviour('DynamoDB Local', () => db.endpoint);

describe('DynamoDB Local specifics', () => {
  it('ensureTable is idempotent and creates an on-demand table with the one string key', async () => {
    const s = open();
    expect(await s.ensureTable()).toEqual({ created: true });
    expect(await s.ensureTable()).toEqual({ created: false });
    const t = (await s.client.send(new DescribeTableCommand({ TableName: s.table }))).Table!;
    expect(t.TableStatus).toBe('ACTIVE');
    expect(t.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(t.AttributeDefinitions).toEqual([{ AttributeName: 'pk', AttributeType: 'S' }]);
    expect(t.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('a missing table gives TableNotFoundError with the create-table command', async () => {
    const s = open(uniqueTable('never_created'));
    const err = await s.read(grainId('Counter', 'a'), 'state').then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(TableNotFoundError);
    expect(err!.message).toContain(`granary create-table --table ${s.table} --endpoint ${db.endpoint} --region local`);
  });

  it('the stored item: numeric version, text payload, and chunks that each fit the 400 KB item limit', async () => {
    const s = open();
    await s.ensureTable();
    const id = grainId('Layout', 'one');
    await s.write(id, 'state', '{"value":1}', undefined);
    const item = (await s.client.send(new GetItemCommand({ TableName: s.table, Key: { pk: { S: 'Layout/one#state' } }, ConsistentRead: true }))).Item!;
    expect(item.version).toEqual({ N: '1' });
    expect(item.payload).toEqual({ S: '{"value":1}' });
    // DynamoDB Local enforces the item limit like the service: ~1.5 MB of base64 text (~1.1 MB
    // deflated) needs chunks, each under the limit.
    const bytes = new Uint8Array(1_100_000);
    for (let at = 0; at < bytes.length; at += 65_536) crypto.getRandomValues(bytes.subarray(at, Math.min(bytes.length, at + 65_536)));
    const big = encode({ blob: bytes });
    const etag = await s.write(id, 'state', big, '1');
    expect(await s.read(id, 'state')).toEqual({ payload: big, etag });
    const head = (await s.client.send(new GetItemCommand({ TableName: s.table, Key: { pk: { S: 'Layout/one#state' } }, ConsistentRead: true }))).Item!;
    expect(Number(head.chunks?.N)).toBeGreaterThanOrEqual(3);
    expect(head.payload).toBeUndefined();
  });
});
