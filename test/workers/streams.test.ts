/**
 * Streams on Workers in miniflare: one Durable Object per stream. Publishing over HTTP and
 * from a grain, the implicit subscriber and a durable explicit subscription (also after the
 * subscriber deactivated), replay with `from`, Server-Sent Events, and refused items.
 */
import { describe, expect, it } from 'vitest';
import type { StreamItemMeta } from 'granary';
import { useTestWorker } from './worker-host.js';

interface Got { item: unknown; seq: number; key: string }
interface Archive { got(): Promise<Got[]> }
interface Listener { follow(ns: string, key: string, o?: { from?: number }): Promise<string>; got(): Promise<Got[]>; sleep(): Promise<void>; subscriptions(): Promise<unknown[]>; unfollowAll(): Promise<number>; publish(ns: string, key: string, item: unknown): Promise<number> }

const w = useTestWorker('granary-worker-streams-');
const poll = { timeout: 15_000, interval: 100 };

describe('streams on Workers (a Durable Object per stream)', () => {
  it('publish gives seqs 1, 2, 3; the implicit subscriber gets every item in order', async () => {
    const s = w.client.getStream('chat', 'w-room');
    expect(await s.publish({ text: 'a' })).toEqual({ seq: 1 });
    expect(await s.publish({ text: 'b', at: new Date(3) })).toEqual({ seq: 2 });
    expect(await w.client.getGrain<Listener>('StreamListener', 'pub').publish('chat', 'w-room', { text: 'c' })).toBe(3);
    const archive = w.client.getGrain<Archive>('StreamChatArchive', 'w-room');
    await expect.poll(async () => (await archive.got()).map((g) => g.seq), poll).toEqual([1, 2, 3]);
    expect(((await archive.got())[1]!.item as { at: Date }).at).toEqual(new Date(3));
  });

  it('durable subscriptions replay from a seq, survive deactivation, list and unsubscribe', async () => {
    const s = w.client.getStream('news', 'w-k');
    await s.publish('old');
    const l = w.client.getGrain<Listener>('StreamListener', 'w-l');
    await l.follow('news', 'w-k', { from: 1 });
    await expect.poll(async () => (await l.got()).map((g) => g.item), poll).toEqual(['old']);
    await l.sleep();
    await s.publish('new');
    await expect.poll(async () => (await l.got()).map((g) => g.item), poll).toEqual(['old', 'new']);
    expect(await l.subscriptions()).toEqual([{ namespace: 'news', key: 'w-k', method: 'onItem' }]);
    expect(await l.unfollowAll()).toBe(1);
    expect(await l.subscriptions()).toEqual([]);
  });

  it('serves Server-Sent Events from a seq', async () => {
    const s = w.client.getStream<number>('ticks', 'w-sse');
    await s.publish(1);
    await s.publish(2);
    const got: Array<[number, StreamItemMeta]> = [];
    const sub = await s.subscribe((item, meta) => { got.push([item, meta]); }, { from: 1 });
    await s.publish(3);
    await expect.poll(() => got.map(([i]) => i), poll).toEqual([1, 2, 3]);
    expect(got[2]![1]).toEqual({ namespace: 'ticks', key: 'w-sse', seq: 3 });
    await sub.close();
  });

  it('refuses bad names and oversized items with nothing appended', async () => {
    const r = await fetch(`${w.worker.url}/streams/a.b/k`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":1}' });
    expect(r.status).toBe(400);
    const s = w.client.getStream('chat', 'w-big');
    await expect(s.publish('x'.repeat(300 * 1024))).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await s.publish('ok')).toEqual({ seq: 1 });
  });
});
