/**
 * Storage trouble as an operator sees it, through an entry-point process on DynamoDB storage
 * (a dynalite server this test runs on disk): a conditional write that loses to another
 * writer → 409 `inconsistent_state` and `granary_storage_conflicts_total`; DynamoDB going
 * away → 503 `silo_unavailable` and `granary_storage_errors_total`, and calls succeed again
 * once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoStorage, type DynamoStorage } from 'granary';
import { decodeStoredState, encode, grainId } from 'granary/internal';
import { startDynalite, tempDir, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { post, spawnSilo, type SiloProcess } from './silo-process.js';

const started: SiloProcess[] = [];
const store = tempDir('granary-proc-store-');
let db: (DynamoEndpoint & { dir: string }) | undefined;
let direct: DynamoStorage;
const table = uniqueTable('granary_proc_fail');

beforeAll(async () => {
  db = await startDynalite({ dir: store.dir });
  direct = dynamoStorage({ table, endpoint: db.endpoint, region: 'local' });
  await direct.ensureTable();
});

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await direct?.close();
  await db?.close();
  store.remove();
});

async function silo(): Promise<SiloProcess> {
  const p = await spawnSilo({ GRANARY_DYNAMODB_TABLE: table, GRANARY_DYNAMODB_ENDPOINT: db!.endpoint, AWS_REGION: 'local' });
  started.push(p);
  return p;
}

async function metric(p: SiloProcess, series: string): Promise<number> {
  const text = await (await fetch(p.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  if (line === undefined) throw new Error(`no series ${series} in /metrics:\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('storage failures through a silo process', () => {
  it('a write that loses to another writer: 409 inconsistent_state, counted as a storage conflict; the grain reloads', async () => {
    const p = await silo();
    expect(await post(p.url, '/grains/Counter/raced/add', { args: [1] })).toEqual({ status: 200, body: { result: 1 } });
    expect(await metric(p, 'granary_storage_conflicts_total')).toBe(0);

    // Another writer moves the stored version under the live activation.
    const id = grainId('Counter', 'raced');
    const stored = (await direct.read(id, 'state'))!;
    expect(decodeStoredState(stored.payload!)).toEqual({ value: 1 });
    await direct.write(id, 'state', encode({ value: 100 }), stored.etag);

    const lost = await post(p.url, '/grains/Counter/raced/add', { args: [1] });
    expect(lost.status).toBe(409);
    expect(lost.body.error.code).toBe('inconsistent_state');
    expect(await metric(p, 'granary_storage_conflicts_total')).toBe(1);
    expect(await metric(p, 'granary_storage_errors_total{operation="write"}')).toBe(0);
    // The stale activation was dropped: the next call reads the other writer's value.
    expect(await post(p.url, '/grains/Counter/raced/add', { args: [1] })).toEqual({ status: 200, body: { result: 101 } });
    expect((await p.signal('SIGTERM')).code).toBe(0);
  });

  it('DynamoDB down: 503 silo_unavailable naming the endpoint, counted as storage errors; calls succeed once it is back', async () => {
    const p = await silo();
    expect(await post(p.url, '/grains/Counter/outage/add', { args: [1] })).toEqual({ status: 200, body: { result: 1 } });
    const { port, endpoint } = db!;

    await db!.close();
    db = undefined;
    const write = await post(p.url, '/grains/Counter/outage/add', { args: [1] });
    expect(write.status).toBe(503);
    expect(write.body.error.code).toBe('silo_unavailable');
    expect(write.body.error.message).toContain(endpoint);
    const read = await post(p.url, '/grains/Counter/not-yet-active/get', {});
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('silo_unavailable');
    expect(await metric(p, 'granary_storage_errors_total{operation="write"}')).toBeGreaterThanOrEqual(1);
    expect(await metric(p, 'granary_storage_errors_total{operation="read"}')).toBeGreaterThanOrEqual(1);
    // Liveness does not depend on storage.
    expect((await fetch(p.url + '/healthz')).status).toBe(200);

    db = await startDynalite({ dir: store.dir, port });
    // The activation whose write failed deactivated (docs/storage.md, "When a write fails"):
    // the next call starts from the stored state, without the failed increment.
    expect(await post(p.url, '/grains/Counter/outage/add', { args: [1] })).toEqual({ status: 200, body: { result: 2 } });
    expect(await post(p.url, '/grains/Counter/not-yet-active/get', {})).toEqual({ status: 200, body: { result: 0 } });
    expect((await p.signal('SIGTERM')).code).toBe(0);
  });
});
