/**
 * The journal port's conformance suite (runtime/journal-storage.ts): the behaviour of
 * `memoryStorage().journal` (the reference), run unchanged against every provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InconsistentStateError, InvalidArgumentError } from 'granary';
import { grainId, type JournalBatch, type JournalStorage } from 'granary/internal';
import { freshId, rejection } from './conformance.js';

export interface JournalUnderTest {
  journal: JournalStorage;
  close?(): Promise<void>;
}

const ev = (n: number) => JSON.stringify({ n });
const batch = (from: number, count: number, eventVersion = 1): JournalBatch =>
  ({ from, events: Array.from({ length: count }, (_, i) => ev(from + i)), eventVersion });

/** Every event of `batches`, in order, checking they are contiguous from `start`. */
function flatten(start: number, batches: JournalBatch[]): string[] {
  const out: string[] = [];
  let at = start;
  for (const b of batches) {
    expect(b.from).toBe(at);
    out.push(...b.events);
    at += b.events.length;
  }
  return out;
}

export function journalConformance(name: string, setup: () => Promise<JournalUnderTest>): void {
  describe(`journal conformance: ${name}`, () => {
    let sut: JournalUnderTest;
    let j: JournalStorage;
    beforeAll(async () => {
      sut = await setup();
      j = sut.journal;
    });
    afterAll(async () => {
      await sut?.close?.();
    });

    it('an empty journal loads as no snapshot and no batches', async () => {
      expect(await j.load(freshId('empty'))).toEqual({ snapshot: undefined, batches: [] });
      expect(await j.readEvents(freshId('empty'), 0, 10)).toEqual([]);
    });

    it('appends batches in order and loads them back, eventVersion kept', async () => {
      const id = freshId('append');
      await j.append(id, batch(0, 1));
      await j.append(id, batch(1, 3, 2));
      await j.append(id, batch(4, 2, 2));
      const loaded = await j.load(id);
      expect(loaded.snapshot).toBeUndefined();
      expect(flatten(0, loaded.batches)).toEqual([0, 1, 2, 3, 4, 5].map(ev));
      expect(loaded.batches.map((b) => [b.from, b.eventVersion])).toContainEqual([1, 2]);
      expect(loaded.batches[0]!.eventVersion).toBe(1);
    });

    it('an append from a version that moved is refused with InconsistentStateError and writes nothing', async () => {
      const id = freshId('race');
      await j.append(id, batch(0, 2));
      await j.append(id, batch(2, 1));
      for (const from of [0, 2]) {
        const behind = await rejection(j.append(id, { from, events: ['"x"'], eventVersion: 1 }));
        expect(behind).toBeInstanceOf(InconsistentStateError);
      }
      expect(flatten(0, (await j.load(id)).batches)).toEqual([ev(0), ev(1), ev(2)]);
    });

    it('two appends racing from one version: exactly one wins', async () => {
      const id = freshId('twins');
      await j.append(id, batch(0, 1));
      const results = await Promise.allSettled([
        j.append(id, { from: 1, events: ['"a1"', '"a2"'], eventVersion: 1 }),
        j.append(id, { from: 1, events: ['"b1"'], eventVersion: 1 }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(InconsistentStateError);
      const events = flatten(0, (await j.load(id)).batches);
      expect([[ev(0), '"a1"', '"a2"'], [ev(0), '"b1"']]).toContainEqual(events);
    });

    it('refuses an empty batch or a negative version with InvalidArgumentError', async () => {
      const id = freshId('bad');
      expect(await rejection(j.append(id, { from: 0, events: [], eventVersion: 1 }))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(j.append(id, { from: -1, events: ['1'], eventVersion: 1 }))).toBeInstanceOf(InvalidArgumentError);
    });

    it('load returns the latest snapshot and only the batches after it', async () => {
      const id = freshId('snap');
      await j.append(id, batch(0, 3));
      await j.writeSnapshot(id, { version: 3, payload: '{"sum":3}', eventVersion: 1 });
      await j.append(id, batch(3, 2));
      await j.append(id, batch(5, 1));
      await j.writeSnapshot(id, { version: 5, payload: '{"sum":5}', eventVersion: 1 });
      await j.append(id, batch(6, 2));
      const loaded = await j.load(id, 10);
      expect(loaded.snapshot).toEqual({ version: 5, payload: '{"sum":5}', eventVersion: 1 });
      expect(flatten(5, loaded.batches.filter((b) => b.from >= 5))).toEqual([5, 6, 7].map(ev));
      expect(loaded.batches.every((b) => b.from + b.events.length > 5)).toBe(true);
      // A snapshot never hides an event: every event is still readable.
      expect(flatten(0, await j.readEvents(id, 0, 8))).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map(ev));
    });

    it('readEvents returns the batches covering [from, to)', async () => {
      const id = freshId('range');
      await j.append(id, batch(0, 4));
      await j.append(id, batch(4, 4));
      await j.append(id, batch(8, 4));
      const got = await j.readEvents(id, 5, 9);
      const all = got.flatMap((b) => b.events.map((e, i) => [b.from + i, e] as const));
      for (let n = 5; n < 9; n++) expect(all).toContainEqual([n, ev(n)]);
      expect(got[0]!.from).toBeLessThanOrEqual(5);
    });

    it('keeps Date, Map and BigInt codec text byte for byte, and unicode', async () => {
      const id = freshId('codec');
      const texts = ['{"$":"date","v":"2026-01-01T00:00:00.000Z"}', '{"$":"big","v":"123456789012345678901234567890"}', '"héllo ✓ 😀"'];
      await j.append(id, { from: 0, events: texts, eventVersion: 1 });
      expect(flatten(0, (await j.load(id)).batches)).toEqual(texts);
    });

    it('a batch larger than one storage item is appended and loaded whole', async () => {
      const id = freshId('large');
      const big = Array.from({ length: 6 }, (_, i) => JSON.stringify('x'.repeat(150_000) + i));
      await j.append(id, { from: 0, events: big, eventVersion: 1 });
      await j.append(id, batch(6, 1));
      expect(flatten(0, (await j.load(id)).batches)).toEqual([...big, ev(6)]);
      expect(await rejection(j.append(id, { from: 0, events: big, eventVersion: 1 }))).toBeInstanceOf(InconsistentStateError);
      expect(flatten(0, await j.readEvents(id, 0, 7))).toEqual([...big, ev(6)]);
    });

    it('journals of different grains are separate (keys that share a prefix included)', async () => {
      const a = grainId('JournalConf', `k-${Date.now().toString(36)}`);
      const b = grainId('JournalConf', `${a.key}0`);
      await j.append(a, batch(0, 1));
      await j.append(b, batch(0, 2));
      expect(flatten(0, (await j.load(a)).batches)).toEqual([ev(0)]);
      expect(flatten(0, (await j.load(b)).batches)).toEqual([ev(0), ev(1)]);
    });

    // The call record (exactly-once, runtime/call-log.ts) commits with its batch and comes back from load.
    const record = (id: string) => JSON.stringify([[id, 2, 1, '{"n":1}', 0]]);

    it('a batch\'s call record comes back from load on the last batch; a batch without one keeps the latest', async () => {
      const id = freshId('calls');
      await j.append(id, batch(0, 1));
      expect((await j.load(id)).batches.at(-1)!.calls).toBeUndefined();
      await j.append(id, { ...batch(1, 2), calls: record('c1') });
      expect((await j.load(id)).batches.at(-1)!.calls).toBe(record('c1'));
      await j.append(id, { ...batch(3, 1), calls: record('c2') });
      const loaded = await j.load(id);
      expect(flatten(0, loaded.batches)).toEqual([0, 1, 2, 3].map(ev));
      expect(loaded.batches.at(-1)!.calls).toBe(record('c2'));
      // A refused append stores neither its events nor its record.
      await rejection(j.append(id, { ...batch(1, 1), calls: record('lost') }));
      expect((await j.load(id)).batches.at(-1)!.calls).toBe(record('c2'));
      // The latest record of the batches that have one.
      await j.append(id, batch(4, 1));
      const after = (await j.load(id)).batches;
      expect(after.map((b) => b.calls).filter((c) => c !== undefined).at(-1)).toBe(record('c2'));
    });

    it('a snapshot\'s call record comes back from load', async () => {
      const id = freshId('snapcalls');
      await j.append(id, { ...batch(0, 2), calls: record('s1') });
      await j.writeSnapshot(id, { version: 2, payload: '{"sum":1}', eventVersion: 1, calls: record('s1') });
      const loaded = await j.load(id, 10);
      expect(loaded.snapshot).toEqual({ version: 2, payload: '{"sum":1}', eventVersion: 1, calls: record('s1') });
      expect(loaded.batches).toEqual([]);
      await j.append(id, { ...batch(2, 1), calls: record('s2') });
      const next = await j.load(id, 10);
      expect(next.snapshot!.calls).toBe(record('s1'));
      expect(next.batches.at(-1)!.calls).toBe(record('s2'));
    });

    it('a snapshot written again at its version replaces the stored one: a newer call record with no new events', async () => {
      const id = freshId('recordonly');
      await j.append(id, { ...batch(0, 1), calls: record('r1') });
      await j.writeSnapshot(id, { version: 1, payload: '{"sum":0}', eventVersion: 1, calls: record('r1') });
      await j.writeSnapshot(id, { version: 1, payload: '{"sum":0}', eventVersion: 1, calls: record('r2') });
      const loaded = await j.load(id, 10);
      expect(loaded.snapshot).toEqual({ version: 1, payload: '{"sum":0}', eventVersion: 1, calls: record('r2') });
      expect(loaded.batches).toEqual([]);
      // A record stored with no new events at the end of the journal: the next load's latest.
      await j.append(id, { ...batch(1, 1), calls: record('r3') });
      await j.writeSnapshot(id, { version: 2, payload: '{"sum":1}', eventVersion: 1, calls: record('r4') });
      expect((await j.load(id, 10)).snapshot!.calls).toBe(record('r4'));
    });

    it('a call record too large for one storage item with its batch is appended, loaded and snapshotted whole', async () => {
      const id = freshId('bigcalls');
      const big = JSON.stringify([['big', 0, { v: 'y'.repeat(400_000) }]]);
      await j.append(id, { ...batch(0, 1), calls: big });
      expect((await j.load(id)).batches.at(-1)!.calls).toBe(big);
      const events = Array.from({ length: 2 }, (_, i) => JSON.stringify('x'.repeat(200_000) + i));
      await j.append(id, { from: 1, events, eventVersion: 1, calls: big + ' ' });
      const loaded = await j.load(id);
      expect(flatten(0, loaded.batches)).toEqual([ev(0), ...events]);
      expect(loaded.batches.at(-1)!.calls).toBe(big + ' ');
      await j.writeSnapshot(id, { version: 3, payload: JSON.stringify('z'.repeat(100_000)), eventVersion: 1, calls: big });
      const snap = (await j.load(id, 10)).snapshot!;
      expect(snap.calls).toBe(big);
      expect(snap.payload).toBe(JSON.stringify('z'.repeat(100_000)));
    });
  });
}
