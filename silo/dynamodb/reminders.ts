/**
 * Durable reminders on DynamoDB: a table of their own (`<table>_reminders` by default), one item per reminder,
 * and a global secondary index that answers "partition p, due before T" with one Query — no
 * scan, whatever the number of reminders (docs/reminders.md shows the access patterns).
 *
 * | attribute     | type | meaning |
 * | ------------- | ---- | ------- |
 * | `pk`          | S    | `type/key` of the grain (hash key): `getReminders` is one Query |
 * | `sk`          | S    | the reminder's name (range key) |
 * | `part`        | N    | its partition, `fnv1a(pk) % partitions` (hash key of the `due` index) |
 * | `dueAt`       | N    | when it fires next, epoch ms (range key of the `due` index) |
 * | `scheduledAt` | N    | the tick due (its `firingId`), kept across retries |
 * | `attempt`     | N    | failed attempts of that tick |
 * | `periodMs` / `cron` / `timeZone` | N / S / S | how it repeats |
 * | `version`     | N    | changes with every write: moving a reminder on is conditional on it |
 *
 * The index is eventually consistent: a poll may see a reminder a little late or in an older
 * form, which is why a firing re-reads its item (`get`, strongly consistent) before it delivers.
 */
import {
  CreateTableCommand, DeleteItemCommand, DescribeTableCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand,
  type AttributeValue, type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  reminderPartition,
  type ReminderAdvance, type ReminderInput, type ReminderRecord, type ReminderStore,
} from '../../runtime/index.js';
import { TableNotFoundError, createTableCommand, storageError } from './errors.js';
import type { ResolvedOptions } from './options.js';

/** The index polled for due reminders. */
export const DUE_INDEX = 'due';

export interface DynamoReminderStore extends ReminderStore {
  readonly table: string;
}

export function dynamoReminderStore(client: DynamoDBClient, o: ResolvedOptions): DynamoReminderStore {
  const table = o.remindersTable;
  const partitions = o.reminderPartitions;

  function fail(err: unknown, what: string): never {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') {
      throw new TableNotFoundError(
        `DynamoDB table "${table}" (the reminders of table "${o.table}") does not exist at ${o.describeEndpoint} (region ${o.region}). ` +
          `Create both tables once with \`${createTableCommand(o)}\`, or call \`await dynamoStorage({...}).ensureTable()\` before starting silos.`,
        { cause: err, data: { table, endpoint: o.describeEndpoint, region: o.region } },
      );
    }
    throw storageError(err, o, what);
  }

  const key = (grain: string, name: string) => ({ pk: { S: grain }, sk: { S: name } });

  return {
    partitions,
    table,
    async put(input: ReminderInput): Promise<ReminderRecord> {
      const record: ReminderRecord = { ...input, version: newVersion() };
      try {
        await client.send(new PutItemCommand({ TableName: table, Item: itemOf(record, partitions) }));
      } catch (err) {
        fail(err, `register reminder "${input.name}" of ${input.grain}`);
      }
      return record;
    },
    async remove(grain, name) {
      try {
        const out = await client.send(new DeleteItemCommand({ TableName: table, Key: key(grain, name), ReturnValues: 'ALL_OLD' }));
        return out.Attributes !== undefined;
      } catch (err) {
        fail(err, `unregister reminder "${name}" of ${grain}`);
      }
    },
    async get(grain, name) {
      try {
        const out = await client.send(new GetItemCommand({ TableName: table, Key: key(grain, name), ConsistentRead: true }));
        return out.Item === undefined ? undefined : recordOf(out.Item);
      } catch (err) {
        fail(err, `read reminder "${name}" of ${grain}`);
      }
    },
    async list(grain) {
      const out: ReminderRecord[] = [];
      let start: Record<string, AttributeValue> | undefined;
      try {
        do {
          const page = await client.send(new QueryCommand({
            TableName: table, KeyConditionExpression: 'pk = :g', ExpressionAttributeValues: { ':g': { S: grain } },
            ConsistentRead: true, ExclusiveStartKey: start,
          }));
          for (const item of page.Items ?? []) out.push(recordOf(item));
          start = page.LastEvaluatedKey;
        } while (start !== undefined);
      } catch (err) {
        fail(err, `list the reminders of ${grain}`);
      }
      return out;
    },
    async due(partition, until, limit) {
      const out: ReminderRecord[] = [];
      let start: Record<string, AttributeValue> | undefined;
      try {
        do {
          const page = await client.send(new QueryCommand({
            TableName: table, IndexName: DUE_INDEX,
            KeyConditionExpression: 'part = :p AND dueAt < :u',
            ExpressionAttributeValues: { ':p': { N: String(partition) }, ':u': { N: String(until) } },
            Limit: limit - out.length, ExclusiveStartKey: start,
          }));
          for (const item of page.Items ?? []) out.push(recordOf(item));
          start = page.LastEvaluatedKey;
        } while (start !== undefined && out.length < limit);
      } catch (err) {
        fail(err, `read the reminders of partition ${partition} due before ${new Date(until).toISOString()}`);
      }
      return out;
    },
    async advance(record: ReminderRecord, next: ReminderAdvance | undefined) {
      const condition = { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': { N: String(record.version) } } };
      try {
        if (next === undefined) {
          await client.send(new DeleteItemCommand({ TableName: table, Key: key(record.grain, record.name), ...condition }));
        } else {
          await client.send(new UpdateItemCommand({
            TableName: table, Key: key(record.grain, record.name),
            UpdateExpression: 'SET dueAt = :d, scheduledAt = :s, attempt = :a, version = :nv',
            ConditionExpression: condition.ConditionExpression,
            ExpressionAttributeValues: {
              ...condition.ExpressionAttributeValues,
              ':d': { N: String(next.dueAt) }, ':s': { N: String(next.scheduledAt) }, ':a': { N: String(next.attempt) }, ':nv': { N: String(newVersion()) },
            },
          }));
        }
        return true;
      } catch (err) {
        if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return false;
        fail(err, `move reminder "${record.name}" of ${record.grain} on`);
      }
    },
  };
}

/** Creates the reminders table and its index if missing (idempotent); waits until ACTIVE. */
export async function ensureReminderTable(client: DynamoDBClient, o: ResolvedOptions): Promise<void> {
  const table = o.remindersTable;
  const describe = async () => {
    try {
      return (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
    } catch (err) {
      if ((err as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw storageError(err, o, `describe table "${table}"`);
    }
  };
  if ((await describe()) === undefined) {
    const provisioned = o.billing === 'PAY_PER_REQUEST' ? undefined : { ReadCapacityUnits: o.billing.readCapacityUnits, WriteCapacityUnits: o.billing.writeCapacityUnits };
    try {
      await client.send(new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'part', AttributeType: 'N' }, { AttributeName: 'dueAt', AttributeType: 'N' },
        ],
        GlobalSecondaryIndexes: [{
          IndexName: DUE_INDEX,
          KeySchema: [{ AttributeName: 'part', KeyType: 'HASH' }, { AttributeName: 'dueAt', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'ALL' },
          ...(provisioned !== undefined ? { ProvisionedThroughput: provisioned } : {}),
        }],
        ...(provisioned === undefined ? { BillingMode: 'PAY_PER_REQUEST' as const } : { BillingMode: 'PROVISIONED' as const, ProvisionedThroughput: provisioned }),
      }));
    } catch (err) {
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw storageError(err, o, `create table "${table}"`);
    }
  }
  const deadline = Date.now() + o.tableActiveTimeoutMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 1_000)) {
    const desc = await describe();
    const indexActive = (desc?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE');
    if (desc?.TableStatus === 'ACTIVE' && indexActive) return;
    if (Date.now() + delay > deadline) throw storageError(new Error(`table "${table}" is not ACTIVE after ${o.tableActiveTimeoutMs} ms`), o, `create table "${table}"`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Unique per write (equality is all `advance` needs): time plus randomness, within 2^53. */
function newVersion(): number {
  return Date.now() * 1_000 + Math.floor(Math.random() * 1_000);
}

function itemOf(r: ReminderRecord, partitions: number): Record<string, AttributeValue> {
  return {
    pk: { S: r.grain },
    sk: { S: r.name },
    part: { N: String(reminderPartition(r.grain, partitions)) },
    dueAt: { N: String(r.dueAt) },
    scheduledAt: { N: String(r.scheduledAt) },
    attempt: { N: String(r.attempt) },
    version: { N: String(r.version) },
    ...(r.periodMs !== undefined ? { periodMs: { N: String(r.periodMs) } } : {}),
    ...(r.cron !== undefined ? { cron: { S: r.cron } } : {}),
    ...(r.timeZone !== undefined ? { timeZone: { S: r.timeZone } } : {}),
  };
}

function recordOf(item: Record<string, AttributeValue>): ReminderRecord {
  return {
    grain: item.pk!.S!,
    name: item.sk!.S!,
    dueAt: Number(item.dueAt!.N),
    scheduledAt: Number(item.scheduledAt!.N),
    attempt: Number(item.attempt?.N ?? 0),
    version: Number(item.version!.N),
    ...(item.periodMs?.N !== undefined ? { periodMs: Number(item.periodMs.N) } : {}),
    ...(item.cron?.S !== undefined ? { cron: item.cron.S } : {}),
    ...(item.timeZone?.S !== undefined ? { timeZone: item.timeZone.S } : {}),
  };
}
