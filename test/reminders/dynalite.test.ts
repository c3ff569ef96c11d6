/** The reminders conformance suite on TestCluster with DynamoDB storage on dynalite (one server for the file). */
import { afterAll, beforeAll } from 'vitest';
import { dynamoStorage } from 'granary';
import { startDynalite, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { remindersConformance } from './suite.js';

let db: DynamoEndpoint;
beforeAll(async () => { db = await startDynalite(); });
afterAll(async () => { await db?.close(); });

remindersConformance('dynamodb on dynalite', async () => {
  // Few partitions: every silo polls each of its partitions every second of fake time.
  const storage = dynamoStorage({ table: uniqueTable('reminders'), endpoint: db.endpoint, region: 'local', reminderPartitions: 8 });
  await storage.ensureTable();
  return { storage, close: () => storage.close() };
});
