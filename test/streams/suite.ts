/**
 * The streams behaviour suite on a cluster: publish/seq, implicit and explicit durable
 * subscribers (after deactivation and a silo crash), client subscriptions, slow and fast
 * subscribers sharing a stream, retries and skips, bad input. `make` builds the cluster.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, type GrainClient, type StreamItemMeta, type TestCluster } from 'granary';
import { ChatArchive, Listener, Publisher, StreamLedger, failures, gates, slowMode } from './grains.js';

export const STREAM_GRAINS = [ChatArchive, Listener, Publisher, StreamLedger];

export interface StreamClusterUnderTest {
  cluster: TestCluster;
  /** Waits until deliveries are done (fake time moves if the cluster has it). */
  settle(): Promise<void>;
  /** Moves time (retry backoffs). */
  advance(ms: number): Promise<void>;
  client: GrainClient;
  close(): Promise<void>;
}

let n = 0;
const uniq = (s: string) => `${s}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

export function streamsSuite(name: string, make: () => Promise<StreamClusterUnderTest>): void {
  describe(`streams: ${name}`, () => {
    let t: StreamClusterUnderTest | undefined;
    afterEach(async () => {
      slowMode.open = true;
      for (const g of gates.splice(0)) g();
      await t?.close();
      slowMode.open = false;
      t = undefined;
      failures.clear();
      gates.length = 0;
    });
    const start = async () => (t = await make());

    it('publish resolves with per-stream seqs; the implicit subscriber gets every item in order', async () => {
      const { client, settle } = await start();
      const room = uniq('room');
      const s = client.getStream<{ text: string }>('chat', room);
      expect(await s.publish({ text: 'a' })).toEqual({ seq: 1 });
      expect(await s.publish({ text: 'b' })).toEqual({ seq: 2 });
      expect(await client.getStream('chat', uniq('other')).publish({ text: 'x' })).toEqual({ seq: 1 });
      expect((await client.getGrain(Publisher, 'p').send('chat', room, { text: 'c', at: new Date(5) }))).toBe(3);
      await settle();
      const got = await client.getGrain(ChatArchive, room).got();
      expect(got.map((g) => g.seq)).toEqual([1, 2, 3]);
      expect(got.map((g) => (g.item as { text: string }).text)).toEqual(['a', 'b', 'c']);
      // Items go through the codec: a Date arrives as a Date.
      expect((got[2]!.item as { at: Date }).at).toBeInstanceOf(Date);
      expect(got.every((g) => g.key === room)).toBe(true);
    });

    it('activates an implicit subscriber on demand, and again after it deactivated', async () => {
      const { client, settle, cluster } = await start();
      const room = uniq('room');
      await client.getStream('chat', room).publish('one');
      await settle();
      await client.getGrain(ChatArchive, room).sleep();
      await settle();
      expect(cluster.activationCount(ChatArchive)).toBe(0);
      await client.getStream('chat', room).publish('two');
      await settle();
      expect((await client.getGrain(ChatArchive, room).got()).map((g) => g.item)).toEqual(['one', 'two']);
    });

    it('explicit durable subscriptions: from replays, survive deactivation, list and unsubscribe', async () => {
      const { client, settle, cluster } = await start();
      const key = uniq('k');
      const s = client.getStream('news', key);
      await s.publish('old1');
      await s.publish('old2');
      const a = client.getGrain(Listener, uniq('a'));
      const b = client.getGrain(Listener, uniq('b'));
      await a.follow('news', key, { from: 1 }); // replays everything retained
      await b.follow('news', key); // only new items
      await settle();
      expect((await a.got()).map((g) => g.seq)).toEqual([1, 2]);
      expect(await b.got()).toEqual([]);
      await a.sleep();
      await b.sleep();
      await settle();
      expect(cluster.activationCount(Listener)).toBe(0);
      await s.publish('new3');
      await settle();
      expect((await a.got()).map((g) => g.item)).toEqual(['old1', 'old2', 'new3']);
      expect((await b.got()).map((g) => g.item)).toEqual(['new3']);
      expect(await a.subscriptions()).toEqual([{ namespace: 'news', key, method: 'onItem' }]);
      // Subscribing again with the same method is the same subscription (no duplicate delivery).
      await a.follow('news', key);
      expect(await a.subscriptions()).toHaveLength(1);
      expect(await a.unfollowAll()).toBe(1);
      expect(await a.subscriptions()).toEqual([]);
      await s.publish('after');
      await settle();
      expect((await a.got()).map((g) => g.item)).toEqual(['old1', 'old2', 'new3']);
      expect((await b.got()).map((g) => g.item)).toEqual(['new3', 'after']);
    });

    it('a slow subscriber holds back only its own delivery, with bounded in-flight items', async () => {
      const { client, settle, cluster } = await start();
      const key = uniq('shared');
      const slow = client.getGrain(Listener, uniq('slow'));
      const fast = client.getGrain(Listener, uniq('fast'));
      await slow.followSlowly('feed', key);
      await fast.follow('feed', key);
      const s = client.getStream('feed', key);
      for (let i = 1; i <= 40; i++) await s.publish(i);
      // No settle here: the slow grain's turn is blocked on purpose. The fast one gets
      // everything while the slow one is still on its first item.
      await expect.poll(async () => (await fast.got()).length).toBe(40);
      expect((await fast.got()).map((g) => g.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      // (The slow grain cannot be asked: its one turn at a time is the blocked delivery.)
      expect(gates.length).toBe(1); // one item in its turn, the rest not sent
      const active = () => cluster.silos.reduce((k, x) => k + x.streams!.counters.active, 0);
      await expect.poll(active).toBe(1); // only the slow consumer is running
      // Open the gate item by item: it gets them all, in order.
      for (let i = 0; i < 40; i++) {
        await expect.poll(() => gates.length, { interval: 2 }).toBe(1);
        gates.shift()!();
      }
      await settle();
      expect((await slow.got()).map((g) => g.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it('delivery resumes on another silo when the silo delivering a stream crashes, and reaches subscribers of the dead silo', async () => {
      const { client, settle, cluster, advance } = await start();
      const key = uniq('crash');
      const l = client.getGrain(Listener, uniq('sub'));
      await l.follow('orders', key);
      const s = client.getStream('orders', key);
      await s.publish('o1');
      await settle();
      // Kill the silo that delivers this stream, and the one hosting the subscriber.
      const owner = cluster.silos.find((x) => x.streams!.owns('orders', key))!;
      await cluster.killSilo(owner);
      const host = cluster.silos.find((x) => x.activationCount('StreamListener') > 0);
      if (host !== undefined && cluster.silos.length > 1) await cluster.killSilo(host);
      await s.publish('o2');
      await s.publish('o3');
      // Time moves (the subscriber's new silo, retries of calls to the dead one) until it has them.
      await expect.poll(async () => { await advance(1_000); return [...new Set((await l.got()).map((g) => g.seq))]; }, { timeout: 30_000, interval: 100 })
        .toEqual([1, 2, 3]);
      // At least once, in order: never going back.
      const seqs = (await l.got()).map((g) => g.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    });

    it('a throwing subscriber is retried with backoff, then the item is skipped and counted', async () => {
      const { client, settle, advance, cluster } = await start();
      const key = uniq('flaky');
      const l = client.getGrain(Listener, key);
      await l.follow('jobs', key);
      failures.set(`listener/${key}`, 2); // fails twice, then works: nothing skipped
      await client.getStream('jobs', key).publish('j1');
      await settle();
      await expect.poll(async () => { await advance(500); return (await l.got()).map((g) => g.item); }, { timeout: 30_000, interval: 50 }).toEqual(['j1']);
      failures.set(`listener/${key}`, 100); // always fails: skipped after the attempts
      await client.getStream('jobs', key).publish('j2');
      await client.getStream('jobs', key).publish('j3');
      await settle();
      const skipped = () => cluster.silos.reduce((k, x) => k + x.streams!.counters.skipped, 0);
      await expect.poll(async () => { await advance(2_000); return skipped(); }, { timeout: 30_000, interval: 50 }).toBe(2);
      failures.delete(`listener/${key}`);
      await client.getStream('jobs', key).publish('j4');
      await settle();
      await expect.poll(async () => (await l.got()).map((g) => g.item), { timeout: 10_000 }).toEqual(['j1', 'j4']);
    });

    it('a client subscription gets items in order from `from`, and stops when closed', async () => {
      const { client, settle } = await start();
      const key = uniq('c');
      const s = client.getStream<number>('ticks', key);
      await s.publish(1);
      await s.publish(2);
      const got: Array<[number, StreamItemMeta]> = [];
      const sub = await s.subscribe((item, meta) => { got.push([item, meta]); }, { from: 2 });
      await s.publish(3);
      await settle();
      await expect.poll(() => got.map(([i]) => i)).toEqual([2, 3]);
      expect(got[1]![1]).toEqual({ namespace: 'ticks', key, seq: 3 });
      const newOnly: number[] = [];
      const sub2 = await s.subscribe((item) => { newOnly.push(item); });
      await s.publish(4);
      await expect.poll(() => newOnly).toEqual([4]);
      await sub.close();
      await sub2.close();
      await s.publish(5);
      await settle();
      expect(got.map(([i]) => i)).toEqual([2, 3, 4]);
    });

    it('a journaled grain with `static journalStream` publishes its confirmed events to its stream, in order', async () => {
      const { client } = await start();
      const key = uniq('ledger');
      const got: Array<[unknown, number]> = [];
      const sub = await client.getStream('ledger', key).subscribe((item, meta) => { got.push([item, meta.seq]); }, { from: 1 });
      expect(await client.getGrain(StreamLedger, key).add(5, 7)).toBe(12);
      expect(await client.getGrain(StreamLedger, key).add(1)).toBe(13);
      await expect.poll(() => got, { timeout: 10_000 }).toEqual([[{ amount: 5 }, 1], [{ amount: 7 }, 2], [{ amount: 1 }, 3]]);
      await sub.close();
    });

    it('refuses bad stream names and items that cannot be encoded or are too large; nothing is appended', async () => {
      const { client, settle } = await start();
      const key = uniq('bad');
      expect(() => client.getStream('', key)).toThrow(InvalidArgumentError);
      expect(() => client.getStream('a.b', key)).toThrow(/namespace/);
      expect(() => client.getStream('chat', '')).toThrow(InvalidArgumentError);
      expect(() => client.getStream('chat', 'x\u0000y')).toThrow(/control/);
      const s = client.getStream('chat', key);
      await expect(s.publish(() => 1)).rejects.toThrow(InvalidArgumentError);
      await expect(s.publish('x'.repeat(300 * 1024))).rejects.toThrow(/over the limit/);
      await expect(client.getGrain(Publisher, 'p').send('chat', key, Symbol('no'))).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(s.subscribe(() => {}, { from: 0 })).rejects.toThrow(/from/);
      // A grain cannot subscribe a method it does not have; nothing is stored.
      const l = client.getGrain(Listener, uniq('nomethod'));
      await expect(l.followWith('chat', key, 'noSuchMethod')).rejects.toMatchObject({ code: 'invalid_argument' });
      expect(await l.subscriptions()).toEqual([]);
      expect(await s.publish('ok')).toEqual({ seq: 1 });
      await settle();
      expect((await client.getGrain(ChatArchive, key).got()).map((g) => g.item)).toEqual(['ok']);
    });
  });
}
