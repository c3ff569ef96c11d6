/**
 * dynamoStorage beyond the conformance suite, on dynalite: table management, the missing-table
 * error, key limits and close(); and the suite shared with DynamoDB Local (dynamodb-behaviour.ts:
 * large states and their chunks, retries, a lost answer, an endpoint that never answers).
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError, Silo, SiloUnavailableError, TableNotFoundError, dynamoStorage, type DynamoStorage } from 'granary';
import { grainId, jsonLogger } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { startDynalite, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { rejection } from './conformance.js';
import { dynamoBehaviour } from './dynamodb-behaviour.js';

let db: DynamoEndpoint;
const opened: DynamoStorage[] = [];
/** A provider closed after the file. */
function open(options: Partial<Parameters<typeof dynamoStorage>[0]> = {}): DynamoStorage {
  const s = dynamoStorage({ table: uniqueTable(), endpoint: db.endpoint, region: 'local', ...options });
  opened.push(s);
  return s;
}

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await db?.close();
});

describe('ensureTable and checkTable', () => {
  it('creates the table on demand (PAY_PER_REQUEST, ACTIVE), once, and is idempotent', async () => {
    const s = open();
    expect(await s.ensureTable()).toEqual({ created: true });
    expect(await s.ensureTable()).toEqual({ created: false });
    const t = (await s.client.send(new DescribeTableCommand({ TableName: s.table }))).Table!;
    expect(t.TableStatus).toBe('ACTIVE');
    expect(t.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(t.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    await s.checkTable();
    // Several silos ensuring the same new table at once: one creates it, none fails.
    const table = uniqueTable();
    const results = await Promise.all([1, 2, 3].map(() => open({ table }).ensureTable()));
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('waits while a new table is CREATING (dynalite as its defaults have it: 500 ms)', async () => {
    const slow = (createRequire(import.meta.url)('dynalite') as (o: object) => Server)({});
    await new Promise<void>((ok) => slow.listen(0, '127.0.0.1', ok));
    const s = dynamoStorage({ table: uniqueTable(), endpoint: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`, region: 'local' });
    try {
      const started = Date.now();
      expect(await s.ensureTable()).toEqual({ created: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(await s.write(grainId('Slow', 'a'), 'state', '1', undefined)).toBe('1');
    } finally {
      await s.close();
      await new Promise<void>((ok) => slow.close(() => ok()));
    }
  });

  it('a missing table fails reads, writes, checkTable and grain calls with how to create it', async () => {
    const s = open({ table: uniqueTable('never_created') });
    const howTo = `granary create-table --table ${s.table} --endpoint ${db.endpoint} --region local`;
    for (const call of [() => s.read(grainId('Counter', 'a'), 'state'), () => s.write(grainId('Counter', 'a'), 'state', '1', undefined), () => s.checkTable()]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(TableNotFoundError);
      expect(err).toBeInstanceOf(SiloUnavailableError);
      expect(err.message).toContain(`"${s.table}" does not exist at ${db.endpoint}`);
      expect(err.message).toContain(howTo);
      expect(err.message).toContain('ensureTable()');
    }
    const silo = await Silo.start({ grains: [Counter], storage: s, logger: jsonLogger({ level: 'error' }) });
    try {
      const err = await rejection(silo.getGrain(Counter, 'a').add(1));
      expect(err).toBeInstanceOf(SiloUnavailableError);
      expect(err.message).toContain(howTo);
    } finally {
      await silo.stop();
    }
  });

  it('a table with another key schema is refused, naming the key granary needs', async () => {
    const s = open();
    await s.client.send(new CreateTableCommand({
      TableName: s.table,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    for (const call of [() => s.ensureTable(), () => s.checkTable()]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toMatch(/key schema \(id HASH\).*"pk"/);
    }
  });
});

dynamoBehaviour('dynalite', () => db.endpoint);

describe('limits of the key', () => {
  it('a grain key too long for a DynamoDB key, or a state name with "#", is refused as an invalid argument', async () => {
    const s = open();
    await s.ensureTable();
    const long = grainId('Long', 'k'.repeat(3_000));
    const err = await rejection(s.write(long, 'state', '1', undefined));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    // Refused before any request: DynamoDB counts the key in UTF-8 bytes (state-hygiene.test.ts).
    expect(err.message).toContain(`grain Long/${'k'.repeat(64)}… with state "state" makes a DynamoDB key of 3011 bytes`);
    const hash = await rejection(s.read(grainId('Counter', 'a'), 'st#ate'));
    expect(hash).toBeInstanceOf(InvalidArgumentError);
    expect(hash.message).toContain('"st#ate"');
  });
});

describe('close', () => {
  it('releases the client; later calls fail with SiloUnavailableError', async () => {
    const s = open();
    await s.ensureTable();
    await s.write(grainId('Closed', 'a'), 'state', '1', undefined);
    await s.close();
    await s.close();
    const err = await rejection(s.read(grainId('Closed', 'a'), 'state'));
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect(err.message).toContain('closed');
  });
});
