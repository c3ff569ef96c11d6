/** The reminder store conformance suite on memory, DynamoDB on dynalite, and DynamoDB Local. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoStorage, memoryStorage, type DynamoStorage } from 'granary';
import { memoryReminderStore } from 'granary/internal';
import { startDynalite, startDynamoDBLocal, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { reminderStoreConformance } from './reminder-store-conformance.js';

reminderStoreConformance('memory', async () => ({ store: memoryReminderStore() }));
reminderStoreConformance('memoryStorage().reminders, one partition', async () => ({ store: memoryReminderStore({ partitions: 1 }) }));

reminderStoreConformance('dynamodb on dynalite', async () => {
  const db = await startDynalite();
  const storage = dynamoStorage({ table: uniqueTable('remstore'), endpoint: db.endpoint, region: 'local' });
  await storage.ensureTable();
  return { store: storage.reminders, async close() { await storage.close(); await db.close(); } };
});

describe('on DynamoDB Local', () => {
  let db: DynamoEndpoint;
  const opened: DynamoStorage[] = [];
  beforeAll(async () => { db = await startDynamoDBLocal(); });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await db?.close();
  });

  reminderStoreConformance('dynamodb on DynamoDB Local', async () => {
    const storage = dynamoStorage({ table: uniqueTable('remstore'), endpoint: db.endpoint, region: 'local' });
    opened.push(storage);
    await storage.ensureTable();
    return { store: storage.reminders };
  });

  it('ensureTable creates the reminders table: grain and name keys, and the due index (partition, due time)', async () => {
    const storage = dynamoStorage({ table: uniqueTable('remlayout'), endpoint: db.endpoint, region: 'local' });
    opened.push(storage);
    await storage.ensureTable();
    const t = (await storage.client.send(new DescribeTableCommand({ TableName: `${storage.table}_reminders` }))).Table!;
    expect(t.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    expect(t.GlobalSecondaryIndexes!.map((i) => [i.IndexName, i.KeySchema, i.Projection?.ProjectionType])).toEqual([
      ['due', [{ AttributeName: 'part', KeyType: 'HASH' }, { AttributeName: 'dueAt', KeyType: 'RANGE' }], 'ALL'],
    ]);
  });

  it('a missing reminders table is TableNotFoundError naming the create-table command', async () => {
    const storage = dynamoStorage({ table: uniqueTable('never'), endpoint: db.endpoint, region: 'local' });
    opened.push(storage);
    const err = await storage.reminders.list('A/b').then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('TableNotFoundError');
    expect(err!.message).toContain(`granary create-table --table ${storage.table}`);
    expect(err!.message).toContain(`${storage.table}_reminders`);
  });
});

it('memoryStorage() keeps reminders', () => {
  expect(memoryStorage().reminders.partitions).toBe(64);
});
