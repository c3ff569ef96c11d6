/**
 * The journal conformance suite against dynamoStorage's journal on dynalite (in-process) and
 * on DynamoDB Local (AWS's emulator, which enforces the 400 KB item limit), plus the layout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeTableCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { TableNotFoundError, dynamoStorage, type DynamoStorage } from 'granary';
import { grainId } from 'granary/internal';
import { startDynalite, startDynamoDBLocal, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { journalConformance } from './journal-conformance.js';

journalConformance('dynamodb on dynalite', async () => {
  const db = await startDynalite();
  const storage = dynamoStorage({ table: uniqueTable(), endpoint: db.endpoint, region: 'local' });
  await storage.ensureTable();
  return { journal: storage.journal, async close() { await storage.close(); await db.close(); } };
});

describe('on DynamoDB Local', () => {
  let db: DynamoEndpoint;
  const opened: DynamoStorage[] = [];
  const open = (table = uniqueTable()) => {
    const s = dynamoStorage({ table, endpoint: db.endpoint, region: 'local' });
    opened.push(s);
    return s;
  };
  beforeAll(async () => { db = await startDynamoDBLocal(); });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await db?.close();
  });

  journalConformance('dynamodb on DynamoDB Local', async () => {
    const storage = open();
    await storage.ensureTable();
    return { journal: storage.journal };
  });

  it('ensureTable creates the journal table with pk (S) and the numeric sort key n', async () => {
    const s = open();
    await s.ensureTable();
    const t = (await s.client.send(new DescribeTableCommand({ TableName: `${s.table}_journal` }))).Table!;
    expect(t.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'n', KeyType: 'RANGE' }]);
  });

  it('one item per batch at n = 2·from, a snapshot at n = 2·version − 1, and a large batch split under a header', async () => {
    const s = open();
    await s.ensureTable();
    const id = grainId('JLayout', 'one');
    await s.journal.append(id, { from: 0, events: ['1', '2'], eventVersion: 1 });
    await s.journal.writeSnapshot(id, { version: 2, payload: '{"s":2}', eventVersion: 1 });
    const big = Array.from({ length: 4 }, () => JSON.stringify('y'.repeat(200_000)));
    await s.journal.append(id, { from: 2, events: big, eventVersion: 1 });
    const items = (await s.client.send(new QueryCommand({
      TableName: `${s.table}_journal`, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'JLayout/one' } },
    }))).Items!;
    expect(items.map((i) => Number(i.n!.N))).toEqual([0, 3, 4]);
    expect(items[0]!.events!.L).toEqual([{ S: '1' }, { S: '2' }]);
    expect(items[1]!.state).toEqual({ S: '{"s":2}' });
    expect(Number(items[2]!.parts!.N)).toBeGreaterThanOrEqual(3);
    expect(items[2]!.events).toBeUndefined();
    const loaded = await s.journal.load(id, 10);
    expect(loaded.snapshot?.version).toBe(2);
    expect(loaded.batches.map((b) => b.events.length)).toEqual([4]);
  });

  it('a missing journal table is TableNotFoundError naming it and the create-table command', async () => {
    const s = open(uniqueTable('never_created'));
    const err = await s.journal.load(grainId('JLayout', 'x')).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(TableNotFoundError);
    expect(err!.message).toContain(`${s.table}_journal`);
    expect(err!.message).toContain('granary create-table');
  });
});
