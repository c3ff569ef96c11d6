/**
 * The Worker with DynamoDB storage (GRANARY_DYNAMODB_TABLE set): the AWS SDK bundled into the
 * Worker, on fetch, against a real dynalite on a free port. The portable behaviour suite
 * passes unchanged, transactions across objects included, and the state is the same items a
 * Node silo on that table reads and writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, Silo, dynamoStorage, type DynamoStorage } from 'granary';
import { decodeStoredState, grainId } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { startDynalite, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { describeGrainBehaviour, httpClient } from './behaviour-suite.js';
import { buildWorker, startWorker, tempDir, type RunningWorker } from './worker-host.js';

const build = tempDir('granary-worker-dynamodb-');
const table = uniqueTable('granary_workers');
let dynalite: DynamoEndpoint;
let storage: DynamoStorage;
let worker: RunningWorker;
let client: GrainClient;

beforeAll(async () => {
  dynalite = await startDynalite();
  storage = dynamoStorage({ table, endpoint: dynalite.endpoint, region: 'local' });
  await storage.ensureTable();
  await buildWorker('test/workers/worker-entry.ts', `${build.dir}/worker.js`);
  worker = await startWorker({
    scriptPath: `${build.dir}/worker.js`,
    // As documented: the table set means DynamoDB storage; wrangler.toml's GRANARY_STORAGE is overridden.
    vars: { GRANARY_STORAGE: 'dynamodb', GRANARY_DYNAMODB_TABLE: table, GRANARY_DYNAMODB_ENDPOINT: dynalite.endpoint, AWS_REGION: 'local' },
  });
  client = httpClient(worker.url);
});

afterAll(async () => {
  await client?.close();
  await worker?.dispose();
  await storage?.close();
  await dynalite?.close();
  build.remove();
});

describeGrainBehaviour('Worker on DynamoDB', () => client);

describe('Worker on DynamoDB: one table for Workers and silos', () => {
  it('what a grain object writes is the item a Node silo reads, ETag included', async () => {
    expect(await client.getGrain(Counter, 'shared').add(41)).toBe(41);
    const stored = await storage.read(grainId('Counter', 'shared'), 'state');
    expect(decodeStoredState(stored!.payload!)).toEqual({ value: 41 });

    const silo = await Silo.start({ grains: [Counter], storage });
    try {
      expect(await silo.getGrain(Counter, 'shared').get()).toBe(41);
    } finally {
      await silo.stop();
    }
    // The Worker's activation still holds the current ETag: its next write commits.
    expect(await client.getGrain(Counter, 'shared').add(1)).toBe(42);
    expect(decodeStoredState((await storage.read(grainId('Counter', 'shared'), 'state'))!.payload!)).toEqual({ value: 42 });
  });

  it('a write from a stale version loses with InconsistentStateError (409) and the stale activation goes, as on silos', async () => {
    await client.getGrain(Counter, 'raced').add(1);
    // Another writer (here: directly on the table) moves the version on.
    const current = await storage.read(grainId('Counter', 'raced'), 'state');
    await storage.write(grainId('Counter', 'raced'), 'state', '{"value":100}', current!.etag);
    const res = await fetch(`${worker.url}/grains/Counter/raced/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args":[1]}' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('inconsistent_state');
    // The stale activation went away; the next call activates with the stored state.
    expect(await client.getGrain(Counter, 'raced').add(1)).toBe(101);
  });
});
