/**
 * The embedded dynalite on disk, and DynamoDB going away under a running silo: state survives
 * closing and reopening the store; while the endpoint is down grain calls fail with
 * SiloUnavailableError naming it; once it is back (same port, same store) they succeed again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Silo, SiloUnavailableError, dynamoStorage, startEmbeddedDynalite, type DynamoStorage, type EmbeddedDynalite } from 'granary';
import { decodeStoredState, jsonLogger, grainId } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { tempDir, uniqueTable } from '../support/dynamodb.js';
import { workloadRandom } from '../support/random.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

describe('embedded dynalite on disk', () => {
  it('state survives closing and reopening the store on the same directory', async () => {
    const tmp = tempDir('granary-dynalite-disk-');
    cleanups.push(() => tmp.remove());
    const table = uniqueTable();
    const first = await startEmbeddedDynalite({ dir: tmp.dir });
    const s1 = dynamoStorage({ table, endpoint: first.endpoint, region: 'local' });
    await s1.ensureTable();
    const silo = await Silo.start({ grains: [Counter], storage: s1 });
    expect(await silo.getGrain(Counter, 'kept').add(41)).toBe(41);
    const random = workloadRandom('outage: big state rows');
    const big = JSON.stringify({ rows: Array.from({ length: 50_000 }, (_, i) => `row ${i} ${random()}`) });
    const bigEtag = await s1.write(grainId('Disk', 'big'), 'state', big, undefined);
    await silo.stop();
    await s1.close();
    await first.close();

    const second = await startEmbeddedDynalite({ dir: tmp.dir });
    cleanups.push(() => second.close());
    const s2 = dynamoStorage({ table, endpoint: second.endpoint, region: 'local' });
    cleanups.push(() => s2.close());
    await s2.checkTable();
    expect(decodeStoredState((await s2.read(grainId('Counter', 'kept'), 'state'))!.payload!)).toEqual({ value: 41 });
    expect(await s2.read(grainId('Disk', 'big'), 'state')).toEqual({ payload: big, etag: bigEtag });
    const again = await Silo.start({ grains: [Counter], storage: s2 });
    cleanups.push(() => again.stop());
    expect(await again.getGrain(Counter, 'kept').add(1)).toBe(42);
  });

  it('a second dynalite on a directory in use is refused with a clear error', async () => {
    const tmp = tempDir('granary-dynalite-lock-');
    cleanups.push(() => tmp.remove());
    const first = await startEmbeddedDynalite({ dir: tmp.dir });
    cleanups.push(() => first.close());
    await expect(startEmbeddedDynalite({ dir: tmp.dir })).rejects.toThrow(/is in use by another process/);
  });
});

describe('DynamoDB unreachable under a running silo', () => {
  it('calls fail with SiloUnavailableError naming the endpoint, and calls succeed from the stored state once it is back', async () => {
    const tmp = tempDir('granary-dynalite-outage-');
    cleanups.push(() => tmp.remove());
    let server: EmbeddedDynalite | undefined = await startEmbeddedDynalite({ dir: tmp.dir });
    cleanups.push(() => server?.close());
    const port = server.port;
    const storage: DynamoStorage = dynamoStorage({ table: uniqueTable(), endpoint: server.endpoint, region: 'local', maxAttempts: 2, connectTimeoutMs: 500 });
    cleanups.push(() => storage.close());
    await storage.ensureTable();
    // The failed activation below is logged as a warning; expected here, so not shown.
    const silo = await Silo.start({ grains: [Counter], storage, logger: jsonLogger({ level: 'error' }) });
    cleanups.push(() => silo.stop());
    const c = silo.getGrain(Counter, 'steady');
    expect(await c.add(1)).toBe(1);
    expect(await c.add(1)).toBe(2);

    await server.close();
    server = undefined;
    const failedWrite = await rejection(c.add(1));
    expect(failedWrite).toBeInstanceOf(SiloUnavailableError);
    expect(failedWrite.message).toContain(`DynamoDB at ${storage.endpoint} is unreachable`);
    expect(failedWrite.message).toContain('Counter/steady');
    // A grain that is not active yet cannot load its state: its activation fails, cleanly.
    const failedActivation = await rejection(silo.getGrain(Counter, 'newcomer').get());
    expect(failedActivation).toBeInstanceOf(SiloUnavailableError);
    expect(failedActivation.message).toContain(storage.endpoint);

    server = await startEmbeddedDynalite({ dir: tmp.dir, port });
    // The activation whose write failed has deactivated (docs/storage.md, "When a write
    // fails"): the next call starts from the stored state, without the failed increment.
    const after = await c.add(1);
    expect(after).toBe(3);
    expect(decodeStoredState((await storage.read(grainId('Counter', 'steady'), 'state'))!.payload!)).toEqual({ value: after });
    expect(await silo.getGrain(Counter, 'newcomer').add(5)).toBe(5);
    expect(silo.activationCount('Counter')).toBe(2);
  });
});
