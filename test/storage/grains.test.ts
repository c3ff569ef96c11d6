/**
 * Grains on DynamoDB storage (dynalite): TestCluster with `dynamoStorage(...)`, state across a
 * silo crash and idle deactivation, split brain between two clusters, and the foundation's
 * cluster conformance suite run with DynamoDB storage instead of memory.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InconsistentStateError, TestCluster, dynamoStorage, memoryCluster, type DynamoStorage } from 'granary';
import { decodeStoredState, grainId } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { clusterConformance, hostOf } from '../conformance/cluster.js';
import { startDynalite, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';

let db: DynamoEndpoint;
const opened: DynamoStorage[] = [];
async function freshStorage(table = uniqueTable()): Promise<DynamoStorage> {
  const s = dynamoStorage({ table, endpoint: db.endpoint, region: 'local' });
  opened.push(s);
  await s.ensureTable();
  return s;
}

/** Tables for the cluster conformance suite: each of its tests starts on an empty one. */
const spare: DynamoStorage[] = [];

beforeAll(async () => {
  db = await startDynalite();
  for (let i = 0; i < 12; i++) spare.push(await freshStorage());
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await db?.close();
});

describe('TestCluster on DynamoDB storage', () => {
  let clusters: TestCluster[] = [];
  afterEach(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
    clusters = [];
  });
  async function cluster(storage: DynamoStorage, silos = 2): Promise<TestCluster> {
    const c = await TestCluster.start({ silos, grains: [Counter], storage });
    clusters.push(c);
    return c;
  }

  it('state survives killing the silo that hosted the grain', async () => {
    const storage = await freshStorage();
    const c = await cluster(storage, 3);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const k of keys) for (let i = 0; i < 3; i++) await c.client.getGrain(Counter, k).add(1);
    const host = hostOf(c, 'Counter/a');
    expect(host).toBeGreaterThanOrEqual(0);
    await c.killSilo(host);
    for (const k of keys) expect(await c.client.getGrain(Counter, k).get()).toBe(3);
    // The new activation holds the stored version: its writes commit.
    expect(await c.client.getGrain(Counter, 'a').add(10)).toBe(13);
    await c.killSilo(hostOf(c, 'Counter/a'));
    await c.startSilo();
    expect(await c.client.getGrain(Counter, 'a').get()).toBe(13);
    expect(decodeStoredState((await storage.read(grainId('Counter', 'a'), 'state'))!.payload!)).toEqual({ value: 13 });
  });

  it('state survives idle deactivation', async () => {
    const storage = await freshStorage();
    const c = await cluster(storage);
    expect(await c.client.getGrain(Counter, 'idle').add(7)).toBe(7);
    expect(c.activationCount(Counter)).toBe(1);
    await c.advanceTime(Counter.idleTimeoutMs + 5_000);
    expect(c.activationCount(Counter)).toBe(0);
    expect(await c.client.getGrain(Counter, 'idle').get()).toBe(7);
    expect(await c.client.getGrain(Counter, 'idle').add(1)).toBe(8);
  });

  it('two clusters on one table (split brain): their activations never both commit', async () => {
    const table = uniqueTable();
    // Separate providers, as two processes would have.
    const one = await cluster(await freshStorage(table));
    const two = await cluster(await freshStorage(table));
    const a = one.client.getGrain(Counter, 'shared');
    const b = two.client.getGrain(Counter, 'shared');
    expect(await a.get()).toBe(0);
    expect(await b.get()).toBe(0);
    expect(await a.add(1)).toBe(1);
    const err = await b.add(100).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(InconsistentStateError);
    expect(err!.message).toContain('Counter/shared');
    expect(await a.add(1)).toBe(2);
    const stored = await opened.at(-1)!.read(grainId('Counter', 'shared'), 'state');
    expect(decodeStoredState(stored!.payload!)).toEqual({ value: 2 });
  });
});

let next = 0;
clusterConformance('in-memory cluster, DynamoDB storage on dynalite', () => ({
  provider: () => memoryCluster(),
  storage: () => {
    const s = spare[next++];
    if (s === undefined) throw new Error('grains.test.ts: create more spare tables for the cluster conformance suite');
    return s;
  },
}));
