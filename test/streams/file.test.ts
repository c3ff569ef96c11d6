/**
 * The embedded default's stream provider: memory logged to a file. The conformance suite, and
 * what a restart keeps (items, seqs, subscriptions, cursors), replayed from the log; a torn
 * last line (a crash mid-write) is dropped.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStreams } from '../../silo/memory/stream-file.js';
import { streamProviderConformance } from './provider-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'granary-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

streamProviderConformance('memory logged to a file', async ({ retention }) => {
  const provider = await fileStreams(join(dir, `conf-${++n}.log`), { retention });
  return { provider, close: () => provider.close() };
});

describe('file-logged streams across a restart', () => {
  it('keeps items, seqs, subscriptions and cursors; compacts to what is retained', async () => {
    const path = join(dir, 'restart.log');
    const a = await fileStreams(path, { retention: 3 });
    for (let i = 1; i <= 5; i++) await a.append('chat', 'r1', JSON.stringify(i));
    const rec = { namespace: 'chat', key: 'r1', id: 'L/x#onItem', grain: 'L/x', method: 'onItem' };
    await a.putSubscription(rec, 2, false);
    await a.setCursor('chat', 'r1', rec.id, 4);
    await a.setCursor('chat', 'r1', 'implicit:Archive', 5);
    await a.close();
    // A crash in the middle of writing a change leaves a torn last line.
    appendFileSync(path, '{"op":"append","ns":"chat","key":"r1","se');

    const b = await fileStreams(path, { retention: 3 });
    const read = await b.read('chat', 'r1', 1, 10);
    expect(read.items.map((i) => i.seq)).toEqual([3, 4, 5]);
    expect(read.first).toBe(3);
    expect(await b.append('chat', 'r1', '6')).toBe(6);
    expect(await b.subscriptions('chat', 'r1')).toEqual([rec]);
    expect(await b.subscriptionsOf('L/x')).toEqual([rec]);
    expect(await b.cursor('chat', 'r1', rec.id)).toBe(4);
    expect(await b.cursor('chat', 'r1', 'implicit:Archive')).toBe(5);
    await b.close();
    const c = await fileStreams(path, { retention: 3 });
    expect((await c.read('chat', 'r1', 1, 10)).items.map((i) => i.seq)).toEqual([4, 5, 6]);
    await c.close();
  });
});
