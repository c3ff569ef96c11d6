/**
 * The embedded default (`npm start`: in-process cluster, dynalite and the stream log under
 * GRANARY_DATA_DIR) keeps streams across a restart: a real silo process publishes over HTTP,
 * stops, starts again on the same data directory, and the items, their seqs and the implicit
 * subscriber's position are still there (no item delivered twice, the next seq follows on).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GrainClient } from 'granary';
import { REPO, spawnSilo, type SiloProcess } from '../process/silo-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'granary-streams-restart-'));
const running: SiloProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  rmSync(dataDir, { recursive: true, force: true });
});

interface Got { item: unknown; seq: number; pid: number }
interface OrderLog { got(): Promise<Got[]> }

describe('streams on the embedded default', () => {
  it('survive a restart of the silo process', async () => {
    const env = { GRANARY_DATA_DIR: join(dataDir, 'state'), GRANARY_GRAINS: join(REPO, 'test', 'process', 'fixtures', 'stream-grains.mjs') };
    const first = await spawnSilo(env);
    running.push(first);
    let c = GrainClient.http(first.url);
    expect(await c.getStream('orders', 'keep').publish({ n: 1 })).toEqual({ seq: 1 });
    expect(await c.getStream('orders', 'keep').publish({ n: 2 })).toEqual({ seq: 2 });
    await expect.poll(async () => (await c.getGrain<OrderLog>('OrderLog', 'keep').got()).map((g) => g.seq), { timeout: 10_000 }).toEqual([1, 2]);
    await c.close();
    expect((await first.signal('SIGTERM')).code).toBe(0);

    const second = await spawnSilo(env);
    running.push(second);
    c = GrainClient.http(second.url);
    const replay: number[] = [];
    const sub = await c.getStream('orders', 'keep').subscribe((_item, meta) => { replay.push(meta.seq); }, { from: 1 });
    await expect.poll(() => replay, { timeout: 10_000 }).toEqual([1, 2]);
    expect(await c.getStream('orders', 'keep').publish({ n: 3 })).toEqual({ seq: 3 });
    await expect.poll(() => replay, { timeout: 10_000 }).toEqual([1, 2, 3]);
    // The implicit subscriber's cursor survived too: it got 3, and 1 and 2 only once.
    await expect.poll(async () => (await c.getGrain<OrderLog>('OrderLog', 'keep').got()).map((g) => g.seq), { timeout: 10_000 }).toEqual([1, 2, 3]);
    await sub.close();
    await c.close();
    expect((await second.signal('SIGTERM')).code).toBe(0);
  }, 90_000);
});
