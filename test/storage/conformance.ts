/**
 * The storage conformance suite: the behaviour of `memoryStorage()` (the port's reference),
 * run unchanged against every storage provider. A provider is done when this suite passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grain, InconsistentStateError, Silo, type GrainId, type StorageProvider } from 'granary';
import { decode, decodeStoredState, encode, grainId, parseStoredPayload } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { workloadRandom } from '../support/random.js';

export interface StorageUnderTest {
  storage: StorageProvider;
  /** Releases what setup started (after the suite). */
  close?(): Promise<void>;
}

/** A grain whose state can be cleared through a call. */
export class Notebook extends Grain<{ notes: string[] }> {
  static grainType = 'ConformanceNotebook';
  protected override initialState() { return { notes: [] as string[] }; }
  async add(note: string): Promise<number> {
    this.state.notes.push(note);
    await this.writeState();
    return this.state.notes.length;
  }
  async list(): Promise<string[]> { return this.state.notes; }
  async wipe(): Promise<void> { await this.clearState(); }
}

let seq = 0;
/** A grain id no other test (nor an earlier run against a kept table) has used. */
export function freshId(label: string): GrainId {
  return grainId('Conformance', `${label}-${Date.now().toString(36)}-${++seq}`);
}

const S = 'state';

/** Rejects with what the promise rejected with, failing if it resolved. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Random bytes as a Uint8Array (crypto fills at most 64 KiB per call). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65_536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65_536)));
  return out;
}

export function storageConformance(name: string, setup: () => Promise<StorageUnderTest>): void {
  describe(`storage conformance: ${name}`, () => {
    let sut: StorageUnderTest;
    let storage: StorageProvider;
    beforeAll(async () => {
      sut = await setup();
      storage = sut.storage;
    });
    afterAll(async () => {
      await sut?.close?.();
    });

    it('a state never written reads as undefined, and its grain starts from initialState()', async () => {
      expect(await storage.read(freshId('missing'), S)).toBeUndefined();
      const silo = await Silo.start({ grains: [Counter], storage });
      try {
        const key = `fresh-${Date.now().toString(36)}-${++seq}`;
        const c = silo.getGrain(Counter, key);
        expect(await c.get()).toBe(0);
        expect(await c.add(5)).toBe(5);
        const stored = await storage.read(grainId('Counter', key), S);
        expect(stored?.payload).toBeDefined();
        expect(decodeStoredState(stored!.payload!)).toEqual({ value: 5 });
      } finally {
        await silo.stop();
      }
    });

    it('rich values round-trip through the codec', async () => {
      const value = {
        date: new Date(Date.UTC(2026, 10, 23, 12, 34, 56, 789)),
        map: new Map<unknown, unknown>([[1, 'one'], ['k', { n: 1n }], [2.5, new Set(['a'])]]),
        set: new Set<unknown>([1, 'x', null]),
        big: 123456789012345678901234567890n,
        bytes: Uint8Array.from([0, 1, 127, 128, 255]),
        missing: undefined,
        nonFinite: [NaN, Infinity, -Infinity, -0],
        text: 'ünïcødé 😀 \u0000 "quotes" \\ back\nslash',
        empty: '',
        dollar: { $: 'looks like a tag', v: 1 },
        nested: { a: [undefined, { deep: new Map([['x', new Set([new Date(0)])]]) }] },
      };
      const id = freshId('rich');
      const payload = encode(value);
      const etag = await storage.write(id, S, payload, undefined);
      const stored = await storage.read(id, S);
      expect(stored).toEqual({ payload, etag });
      const back = decode(stored!.payload!) as typeof value;
      expect(back).toEqual(value);
      expect(back.big).toBe(value.big);
      expect('missing' in back && back.missing === undefined).toBe(true);
      expect(Object.is(back.nonFinite[3], -0)).toBe(true);
      expect(back.bytes).toBeInstanceOf(Uint8Array);
      expect(back.map.get('k')).toEqual({ n: 1n });
    });

    it('payloads of any size and content come back exactly; state names and keys are separate items', async () => {
      const id = freshId('shapes');
      const payloads = ['', 'x', '{"a":1}', JSON.stringify({ rows: Array.from({ length: 3_000 }, (_, i) => ({ i, name: `row ${i}`, tags: ['a', 'b'] })) })];
      let etag: string | undefined;
      for (const p of payloads) {
        etag = await storage.write(id, S, p, etag);
        expect(await storage.read(id, S)).toEqual({ payload: p, etag });
      }
      // Other state names of the same grain, and keys that contain separators, are other items.
      const other = await storage.write(id, 'other', 'other-state', undefined);
      expect(await storage.read(id, 'other')).toEqual({ payload: 'other-state', etag: other });
      expect((await storage.read(id, S))?.payload).toBe(payloads.at(-1));
      const odd = grainId('Conformance', `${id.key}/with#separators and spaces 😀`);
      expect(await storage.read(odd, S)).toBeUndefined();
      const oddEtag = await storage.write(odd, S, 'odd', undefined);
      expect(await storage.read(odd, S)).toEqual({ payload: 'odd', etag: oddEtag });
      expect((await storage.read(id, S))?.payload).toBe(payloads.at(-1));
    });

    it('ETag: of two writers from the same version exactly one commits; the other gets InconsistentStateError', async () => {
      for (let round = 0; round < 5; round++) {
        const id = freshId(`race${round}`);
        // Two creators of a state that does not exist yet.
        const created = await Promise.allSettled([storage.write(id, S, 'A0', undefined), storage.write(id, S, 'B0', undefined)]);
        expect(created.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const base = (await storage.read(id, S))!;
        // Two writers from that version.
        const results = await Promise.allSettled([storage.write(id, S, 'A1', base.etag), storage.write(id, S, 'B1', base.etag)]);
        const won = results.findIndex((r) => r.status === 'fulfilled');
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(lost?.reason).toBeInstanceOf(InconsistentStateError);
        expect(lost!.reason.message).toContain(`${id.type}/${id.key}`);
        expect(lost!.reason.message).toContain(S);
        expect(lost!.reason.message).toContain(`expected ${base.etag}`);
        const after = await storage.read(id, S);
        expect(after).toEqual({ payload: won === 0 ? 'A1' : 'B1', etag: (results[won] as PromiseFulfilledResult<string>).value });
        expect(after!.etag).not.toBe(base.etag);
      }
    });

    it('a write from no version, a stale version or a made-up ETag is refused', async () => {
      const id = freshId('stale');
      const e1 = await storage.write(id, S, 'one', undefined);
      const e2 = await storage.write(id, S, 'two', e1);
      for (const bad of [undefined, e1, 'made-up', '0', String(Number(e2) + 1000)]) {
        const err = await rejection(storage.write(id, S, 'bad', bad));
        expect(err).toBeInstanceOf(InconsistentStateError);
      }
      expect(await storage.read(id, S)).toEqual({ payload: 'two', etag: e2 });
      // Nothing stored yet: only "no version" may write.
      const fresh = freshId('stale-fresh');
      expect(await rejection(storage.write(fresh, S, 'x', e1))).toBeInstanceOf(InconsistentStateError);
      expect(await storage.read(fresh, S)).toBeUndefined();
    });

    it('clear is conditional too, leaves a tombstone, and versions never repeat (no ABA)', async () => {
      const id = freshId('clear');
      const e1 = await storage.write(id, S, 'a', undefined);
      const e2 = await storage.write(id, S, 'b', e1);
      expect(await rejection(storage.clear(id, S, e1))).toBeInstanceOf(InconsistentStateError);
      expect(await rejection(storage.clear(id, S, undefined))).toBeInstanceOf(InconsistentStateError);
      expect(await storage.read(id, S)).toEqual({ payload: 'b', etag: e2 });
      const e3 = await storage.clear(id, S, e2);
      expect(await storage.read(id, S)).toEqual({ payload: undefined, etag: e3 });
      // A writer still holding an ETag from before the clear must not resurrect anything:
      for (const old of [e1, e2, undefined]) {
        expect(await rejection(storage.write(id, S, 'zombie', old))).toBeInstanceOf(InconsistentStateError);
      }
      const e4 = await storage.write(id, S, 'c', e3);
      const e5 = await storage.clear(id, S, e4);
      const e6 = await storage.write(id, S, 'd', e5);
      expect(new Set([e1, e2, e3, e4, e5, e6]).size).toBe(6);
      expect(await storage.read(id, S)).toEqual({ payload: 'd', etag: e6 });
      // Clearing a state never written leaves a tombstone with a version of its own.
      const never = freshId('clear-never');
      const t1 = await storage.clear(never, S, undefined);
      expect(await storage.read(never, S)).toEqual({ payload: undefined, etag: t1 });
      expect(await rejection(storage.clear(never, S, undefined))).toBeInstanceOf(InconsistentStateError);
      const t2 = await storage.clear(never, S, t1);
      expect(t2).not.toBe(t1);
    });

    it('delete (optional port method): conditional on the version, leaves nothing, and a later create starts afresh', async (ctx) => {
      if (storage.delete === undefined) ctx.skip();
      const del = storage.delete!.bind(storage);
      const id = freshId('delete');
      const e1 = await storage.write(id, S, '{"s":"committed"}', undefined);
      const e2 = await storage.write(id, S, '{"s":"other"}', e1);
      // Conditional: a stale or made-up version is refused and nothing is removed.
      expect(await rejection(del(id, S, e1))).toBeInstanceOf(InconsistentStateError);
      expect(await rejection(del(id, S, 'not-a-version'))).toBeInstanceOf(InconsistentStateError);
      expect(await storage.read(id, S)).toEqual({ payload: '{"s":"other"}', etag: e2 });
      await del(id, S, e2);
      // Gone, tombstone and all: a create-only write succeeds again.
      expect(await storage.read(id, S)).toBeUndefined();
      await del(id, S, e2); // deleting what is gone resolves (a retried delete whose first attempt landed)
      const e3 = await storage.write(id, S, '{"s":"again"}', undefined);
      expect(await storage.read(id, S)).toEqual({ payload: '{"s":"again"}', etag: e3 });
      // A tombstone (clear) can be deleted too; other state names of the id are untouched.
      await storage.write(id, 'other', '{"keep":true}', undefined);
      const e4 = await storage.clear(id, S, e3);
      await del(id, S, e4);
      expect(await storage.read(id, S)).toBeUndefined();
      expect((await storage.read(id, 'other'))?.payload).toBe('{"keep":true}');
    });

    it('clearState through a grain resets it to initialState() and persists the cleared state (the call record stays: docs/exactly-once.md)', async () => {
      const silo = await Silo.start({ grains: [Notebook], storage });
      try {
        const key = `nb-${Date.now().toString(36)}-${++seq}`;
        const nb = silo.getGrain(Notebook, key);
        await nb.add('x');
        await nb.add('y');
        await nb.wipe();
        expect(await nb.list()).toEqual([]);
        const stored = await storage.read(grainId('ConformanceNotebook', key), S);
        // The calls came with ids, so the clear is a write of their record and no state.
        const { state, log } = parseStoredPayload(stored!.payload!);
        expect(state).toBeNull();
        expect(log!.size).toBe(3);
        expect(await nb.add('z')).toBe(1);
      } finally {
        await silo.stop();
      }
    });

    it('two activations of one grain (split brain): the second writer gets InconsistentStateError at the call', async () => {
      // Two silos on separate in-process clusters share the storage: each activates the grain.
      const a = await Silo.start({ grains: [Counter], storage });
      const b = await Silo.start({ grains: [Counter], storage });
      try {
        const key = `split-${Date.now().toString(36)}-${++seq}`;
        expect(await a.getGrain(Counter, key).get()).toBe(0);
        expect(await b.getGrain(Counter, key).get()).toBe(0);
        expect(await a.getGrain(Counter, key).add(1)).toBe(1);
        const err = await rejection(b.getGrain(Counter, key).add(10));
        expect(err).toBeInstanceOf(InconsistentStateError);
        expect(err.message).toContain(`Counter/${key}`);
        expect(decodeStoredState((await storage.read(grainId('Counter', key), S))!.payload!)).toEqual({ value: 1 });
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    it('20 concurrent read-modify-write loops never lose an acknowledged write', async () => {
      const id = freshId('counter');
      const workers = 20;
      const perWorker = 2;
      const acked: string[] = [];
      const backoff = workloadRandom('conformance: read-modify-write backoff');
      const loop = async () => {
        for (let i = 0; i < perWorker; i++) {
          for (;;) {
            const cur = await storage.read(id, S);
            const n = cur?.payload === undefined ? 0 : (decode(cur.payload) as number);
            try {
              acked.push(await storage.write(id, S, encode(n + 1), cur?.etag));
              break;
            } catch (err) {
              if (!(err instanceof InconsistentStateError)) throw err;
              await new Promise((r) => setTimeout(r, backoff() * 3));
            }
          }
        }
      };
      await Promise.all(Array.from({ length: workers }, loop));
      expect(acked).toHaveLength(workers * perWorker);
      expect(new Set(acked).size).toBe(acked.length);
      const final = await storage.read(id, S);
      expect(decode(final!.payload!)).toBe(workers * perWorker);
    });

    it('a 1 MB state round-trips; racing 1 MB writers never mix; it can shrink, grow and be cleared', async () => {
      const id = freshId('large');
      // 768 KiB of random bytes: ~1 MiB of incompressible codec text.
      const big1 = encode({ blob: randomBytes(768 * 1024) });
      // ~1.1 MB of very compressible text.
      const big2 = encode({ rows: Array.from({ length: 20_000 }, (_, i) => ({ id: i, label: `item number ${i}`, on: i % 2 === 0 })) });
      expect(big1.length).toBeGreaterThan(1_000_000);
      expect(big2.length).toBeGreaterThan(1_000_000);
      const e1 = await storage.write(id, S, big1, undefined);
      expect(await storage.read(id, S)).toEqual({ payload: big1, etag: e1 });
      const e2 = await storage.write(id, S, '"small"', e1);
      expect(await storage.read(id, S)).toEqual({ payload: '"small"', etag: e2 });
      const e3 = await storage.write(id, S, big2, e2);
      expect(await storage.read(id, S)).toEqual({ payload: big2, etag: e3 });
      // Two large writers from the same version: one wins, and the state is exactly its text.
      const big3 = encode({ blob: randomBytes(768 * 1024) });
      const results = await Promise.allSettled([storage.write(id, S, big1, e3), storage.write(id, S, big3, e3)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const won = results.findIndex((r) => r.status === 'fulfilled');
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(InconsistentStateError);
      const e4 = (results[won] as PromiseFulfilledResult<string>).value;
      expect(await storage.read(id, S)).toEqual({ payload: won === 0 ? big1 : big3, etag: e4 });
      const e5 = await storage.clear(id, S, e4);
      expect(await storage.read(id, S)).toEqual({ payload: undefined, etag: e5 });
    });
  });
}
