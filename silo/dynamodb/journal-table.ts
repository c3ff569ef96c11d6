/**
 * The journal table (silo/dynamodb/journal.ts): `pk` S partition key and `n` N sort key,
 * created with the state table by `ensureTable()` (idempotent; PAY_PER_REQUEST by default).
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError, SiloUnavailableError } from '../../runtime/index.js';
import { storageError } from './errors.js';
import type { ResolvedOptions } from './options.js';

async function describe(client: DynamoDBClient, o: ResolvedOptions): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: o.journalTable }))).Table;
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw storageError(err, o, `describe table "${o.journalTable}"`);
  }
}

/** Creates the journal table if it is missing and waits until it is ACTIVE; checks its key schema. */
export async function ensureJournalTable(client: DynamoDBClient, o: ResolvedOptions): Promise<void> {
  if ((await describe(client, o)) === undefined) {
    try {
      await client.send(new CreateTableCommand({
        TableName: o.journalTable,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'n', KeyType: 'RANGE' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'n', AttributeType: 'N' }],
        ...(o.billing === 'PAY_PER_REQUEST'
          ? { BillingMode: 'PAY_PER_REQUEST' as const }
          : { BillingMode: 'PROVISIONED' as const, ProvisionedThroughput: { ReadCapacityUnits: o.billing.readCapacityUnits, WriteCapacityUnits: o.billing.writeCapacityUnits } }),
      }));
    } catch (err) {
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw storageError(err, o, `create table "${o.journalTable}"`);
    }
  }
  const deadline = Date.now() + o.tableActiveTimeoutMs;
  let delay = 20;
  for (;;) {
    const desc = await describe(client, o);
    if (desc?.TableStatus === 'ACTIVE') {
      const keys = (desc.KeySchema ?? []).map((k) => `${k.AttributeName} ${k.KeyType}`).join(', ');
      if (keys !== 'pk HASH, n RANGE') {
        throw new InvalidArgumentError(`DynamoDB table "${o.journalTable}" at ${o.describeEndpoint} has the key schema (${keys}); granary's journal table needs the partition key "pk" (S) and the sort key "n" (N). Set journalTable to another name or recreate it`);
      }
      return;
    }
    if (Date.now() + delay > deadline) {
      throw new SiloUnavailableError(`DynamoDB table "${o.journalTable}" at ${o.describeEndpoint} is not ACTIVE after ${o.tableActiveTimeoutMs} ms; wait until it is and start again`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1_000);
  }
}
