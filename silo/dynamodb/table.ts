/**
 * Table management: an explicit, idempotent `ensureTable()` (PAY_PER_REQUEST by default,
 * waits until ACTIVE), and `checkTable()` for a silo to fail at start with the fix spelled out
 * rather than on its first grain call.
 */
import {
  CreateTableCommand, DescribeTableCommand, type DynamoDBClient, type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError, SiloUnavailableError } from '../../runtime/index.js';
import { storageError, tableMissing } from './errors.js';
import { ensureJournalTable } from './journal-table.js';
import { ensureReminderTable } from './reminders.js';
import { A } from './layout.js';
import type { ResolvedOptions } from './options.js';

export interface EnsureTableResult {
  /** True when this call created the table; false when it existed already. */
  created: boolean;
}

/** The table's description, or `undefined` when it does not exist. */
export async function describeTable(client: DynamoDBClient, o: ResolvedOptions): Promise<TableDescription | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: o.table }));
    return out.Table;
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw storageError(err, o, `describe table "${o.table}"`);
  }
}

export async function ensureTable(client: DynamoDBClient, o: ResolvedOptions): Promise<EnsureTableResult> {
  let created = false;
  if ((await describeTable(client, o)) === undefined) {
    try {
      await client.send(new CreateTableCommand({
        TableName: o.table,
        KeySchema: [{ AttributeName: A.pk, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: A.pk, AttributeType: 'S' }],
        ...(o.billing === 'PAY_PER_REQUEST'
          ? { BillingMode: 'PAY_PER_REQUEST' as const }
          : { BillingMode: 'PROVISIONED' as const, ProvisionedThroughput: { ReadCapacityUnits: o.billing.readCapacityUnits, WriteCapacityUnits: o.billing.writeCapacityUnits } }),
      }));
      created = true;
    } catch (err) {
      // Someone else created it between our look and our create: fine, that is what we wanted.
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw storageError(err, o, `create table "${o.table}"`);
    }
  }
  checkSchema(await waitActive(client, o), o);
  // The journal table of journaled grains (journal.ts) comes with it.
  await ensureJournalTable(client, o);
  // And the reminders table (reminders.ts).
  await ensureReminderTable(client, o);
  return { created };
}

export async function checkTable(client: DynamoDBClient, o: ResolvedOptions): Promise<void> {
  const desc = await describeTable(client, o);
  if (desc === undefined) throw tableMissing(o);
  checkSchema(desc.TableStatus === 'ACTIVE' ? desc : await waitActive(client, o), o);
}

/** Polls until the table is ACTIVE, within `tableActiveTimeoutMs`. */
async function waitActive(client: DynamoDBClient, o: ResolvedOptions): Promise<TableDescription> {
  const deadline = Date.now() + o.tableActiveTimeoutMs;
  let delay = 20;
  for (;;) {
    const desc = await describeTable(client, o);
    if (desc === undefined) throw tableMissing(o);
    if (desc.TableStatus === 'ACTIVE') return desc;
    if (Date.now() + delay > deadline) {
      throw new SiloUnavailableError(`DynamoDB table "${o.table}" at ${o.describeEndpoint} is still ${desc.TableStatus} after ${o.tableActiveTimeoutMs} ms; wait until it is ACTIVE and start again`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1_000);
  }
}

function checkSchema(desc: TableDescription, o: ResolvedOptions): void {
  const keys = desc.KeySchema ?? [];
  const pkType = desc.AttributeDefinitions?.find((d) => d.AttributeName === A.pk)?.AttributeType;
  if (keys.length !== 1 || keys[0]!.AttributeName !== A.pk || keys[0]!.KeyType !== 'HASH' || pkType !== 'S') {
    const has = keys.map((k) => `${k.AttributeName} ${k.KeyType}`).join(', ');
    throw new InvalidArgumentError(
      `DynamoDB table "${o.table}" at ${o.describeEndpoint} has the key schema (${has}); granary needs a table whose only key is the string partition key "${A.pk}". Use another table name (granary creates it) or recreate this one`,
    );
  }
}
