/**
 * The stream provider conformance suite (runtime/stream-storage.ts): every provider runs it
 * unchanged. `make` gives a fresh provider with the given retention (and a way to close it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamProvider, StreamSubscriptionRecord } from 'granary/internal';

export interface ProviderUnderTest {
  provider: StreamProvider;
  close(): Promise<void>;
}

export function streamProviderConformance(name: string, make: (options: { retention?: number }) => Promise<ProviderUnderTest>): void {
  describe(`stream provider conformance: ${name}`, () => {
    let open: ProviderUnderTest[] = [];
    const fresh = async (options: { retention?: number } = {}) => {
      const p = await make(options);
      open.push(p);
      return p.provider;
    };
    afterEach(async () => {
      await Promise.all(open.map((p) => p.close()));
      open = [];
    });

    it('numbers appends 1, 2, 3… per stream and reads them back in order', async () => {
      const p = await fresh();
      expect(await p.append('chat', 'r1', '"a"')).toBe(1);
      expect(await p.append('chat', 'r1', '"b"')).toBe(2);
      expect(await p.append('chat', 'r2', '"x"')).toBe(1);
      expect(await p.append('chat', 'r1', '"c"')).toBe(3);
      const r = await p.read('chat', 'r1', 1, 100);
      expect(r.items).toEqual([{ seq: 1, payload: '"a"' }, { seq: 2, payload: '"b"' }, { seq: 3, payload: '"c"' }]);
      expect(r.first).toBe(1);
      expect(r.last).toBe(3);
      expect((await p.read('chat', 'r1', 2, 1)).items).toEqual([{ seq: 2, payload: '"b"' }]);
      expect((await p.read('chat', 'r1', 4, 10)).items).toEqual([]);
      expect((await p.read('other', 'none', 1, 10))).toMatchObject({ items: [], last: 0 });
    });

    it('numbers concurrent appends without gaps or duplicates', async () => {
      const p = await fresh();
      const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => p.append('ns', 'k', String(i))));
      expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const r = await p.read('ns', 'k', 1, 100);
      expect(r.items.map((i) => i.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      // Each seq holds the payload its append was answered with.
      for (let i = 0; i < 50; i++) expect(r.items[seqs[i]! - 1]!.payload).toBe(String(i));
    });

    it('keeps the last `retention` items; reading before them starts at the first retained', async () => {
      const p = await fresh({ retention: 5 });
      expect(p.retention).toBe(5);
      for (let i = 1; i <= 12; i++) await p.append('ns', 'k', String(i));
      const r = await p.read('ns', 'k', 1, 100);
      expect(r.first).toBe(8);
      expect(r.last).toBe(12);
      expect(r.items.map((i) => i.seq)).toEqual([8, 9, 10, 11, 12]);
      expect(await p.append('ns', 'k', '13')).toBe(13);
    });

    it('tells listeners of appends', async () => {
      const p = await fresh();
      const seen: string[] = [];
      const off = p.onAppend((ns, key, seq) => seen.push(`${ns}/${key}#${seq}`));
      await p.append('a', 'b', '1');
      await p.append('a', 'b', '2');
      await expect.poll(() => seen.length).toBeGreaterThanOrEqual(2);
      expect(seen).toContain('a/b#2');
      // An announcement (a subscription made elsewhere) reaches them with seq 0.
      await p.announce('a', 'c d');
      await expect.poll(() => seen).toContain('a/c d#0');
      off();
    });

    it('keeps durable subscriptions with their cursors; subscribing again keeps the cursor unless reset', async () => {
      const p = await fresh();
      const rec: StreamSubscriptionRecord = { namespace: 'chat', key: 'r1', id: 'Archive/a#onChat', grain: 'Archive/a', method: 'onChat' };
      await p.putSubscription(rec, 0, false);
      expect(await p.subscriptions('chat', 'r1')).toEqual([rec]);
      expect(await p.subscriptionsOf('Archive/a')).toEqual([rec]);
      expect(await p.cursor('chat', 'r1', rec.id)).toBe(0);
      await p.setCursor('chat', 'r1', rec.id, 3);
      await p.setCursor('chat', 'r1', rec.id, 2); // never backwards
      expect(await p.cursor('chat', 'r1', rec.id)).toBe(3);
      await p.putSubscription(rec, 0, false);
      expect(await p.cursor('chat', 'r1', rec.id)).toBe(3);
      await p.putSubscription(rec, 1, true);
      expect(await p.cursor('chat', 'r1', rec.id)).toBe(1);
      expect((await p.streams()).map((s) => `${s.namespace}/${s.key}`)).toContain('chat/r1');
      expect(await p.removeSubscription('chat', 'r1', rec.id)).toBe(true);
      expect(await p.removeSubscription('chat', 'r1', rec.id)).toBe(false);
      expect(await p.subscriptions('chat', 'r1')).toEqual([]);
      expect(await p.subscriptionsOf('Archive/a')).toEqual([]);
      expect(await p.cursor('chat', 'r1', rec.id)).toBeUndefined();
    });

    it('keeps cursors of implicit consumers apart per stream', async () => {
      const p = await fresh();
      await p.setCursor('chat', 'r1', 'implicit:Archive', 4);
      await p.setCursor('chat', 'r2', 'implicit:Archive', 1);
      expect(await p.cursor('chat', 'r1', 'implicit:Archive')).toBe(4);
      expect(await p.cursor('chat', 'r2', 'implicit:Archive')).toBe(1);
      expect(await p.cursor('chat', 'r3', 'implicit:Archive')).toBeUndefined();
    });

    it('states its item size limit', async () => {
      const p = await fresh();
      expect(p.maxItemBytes).toBeGreaterThan(1024);
    });
  });
}
