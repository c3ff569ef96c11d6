/**
 * State hygiene (issue 15, item 3; docs/storage.md, "When a write fails"), on memory storage
 * and on dynalite:
 *  - after a write storage refused or that failed — too deep for the codec, too large for the
 *    provider, a lost ETag race, a storage error — the activation keeps nothing storage
 *    refused: no later write of it (not even `onDeactivate`'s) stores it, the activation
 *    deactivates, and the next call starts from the stored state;
 *  - a method that throws after changing `state` without writing keeps the change in memory
 *    (the rule: keep), stores nothing, and `readState()` rolls it back;
 *  - DynamoDB keys are measured in UTF-8 bytes (2,048 at most), not in characters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Grain, GrainError, InconsistentStateError, InvalidArgumentError, Silo, SiloUnavailableError, dynamoStorage, memoryStorage,
  type DynamoStorage, type StorageProvider,
} from 'granary';
import { CODEC_LIMITS, decodeStoredState, encode, grainId, jsonLogger } from 'granary/internal';
import { INTERNAL, startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startDynalite, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';

/** `levels` arrays nested in one another. */
function nested(levels: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

let activations = 0;
let deactivationWrites: string[] = [];

/** Saves on every call and on deactivation (the pattern that must not store a refused state). */
class Box extends Grain<{ n: number; extra?: unknown }> {
  static grainType = 'Box';
  protected override initialState() { return { n: 0 }; }
  override onActivate() { activations++; }
  override async onDeactivate() {
    try {
      await this.writeState();
      deactivationWrites.push('stored');
    } catch (err) {
      deactivationWrites.push((err as Error).name);
    }
  }
  async set(n: number, extra?: { deep?: number; bytes?: number }): Promise<number> {
    this.state.n = n;
    if (extra?.deep !== undefined) this.state.extra = nested(extra.deep);
    if (extra?.bytes !== undefined) this.state.extra = 'x'.repeat(extra.bytes);
    await this.writeState();
    return n;
  }
  /** Catches the failed write and writes again: refused, since the state is not the stored one. */
  async setTwice(n: number): Promise<string> {
    this.state.n = n;
    try { await this.writeState(); } catch { /* the first failure */ }
    try {
      await this.writeState();
      return 'second write stored';
    } catch (err) {
      return `${(err as Error).name}: ${(err as Error).message}`;
    }
  }
  /** The documented way to go on after a failed write: reload, then change and write again. */
  async setAfterReload(n: number): Promise<number> {
    this.state.n = n;
    try { await this.writeState(); } catch { await this.readState(); }
    this.state.n += 100;
    await this.writeState();
    return this.state.n;
  }
  async get(): Promise<number> { return this.state.n; }
  async bumpThenThrow(): Promise<never> {
    this.state.n++;
    throw new GrainError('refused', 'bumped, then refused');
  }
  async bumpThenThrowRollingBack(): Promise<never> {
    this.state.n++;
    try {
      throw new GrainError('refused', 'bumped, then refused');
    } catch (err) {
      await this.readState(); // roll back to the stored state
      throw err;
    }
  }
}

/** A real provider whose next writes fail, as a storage outage would (memory has no outage of its own). */
function failingWrites(inner: StorageProvider): StorageProvider & { failNext: number } {
  const s = {
    name: `failing(${inner.name})`,
    failNext: 0,
    read: inner.read.bind(inner),
    clear: inner.clear.bind(inner),
    write: (...a: Parameters<StorageProvider['write']>) => {
      if (s.failNext > 0) {
        s.failNext--;
        return Promise.reject(new SiloUnavailableError(`storage write of ${String(a[0])} failed (outage)`));
      }
      return inner.write(...a);
    },
  };
  return s;
}

interface Setup {
  silo: Silo;
  /** The provider the silo writes through (to read and to race it directly). */
  storage: StorageProvider;
  /** Makes the next write fail with a storage error. */
  failNextWrite(): void;
  /** The provider's own size refusal, when it has one. */
  sizeLimit?: { bytes: number };
}

const logged: string[] = [];
const logger = jsonLogger({ level: 'warn', write: (line) => logged.push(line) });

async function stored(storage: StorageProvider, key: string): Promise<number | undefined> {
  const s = await storage.read(grainId('Box', key), 'state');
  return s?.payload === undefined ? undefined : (decodeStoredState(s.payload) as { n: number }).n;
}

/** Waits until the activation of `key` that failed has gone (the next call meets a fresh one). */
async function nextActivation(silo: Silo, key: string, before: number): Promise<number> {
  const n = await silo.getGrain(Box, key).get();
  expect(activations).toBe(before + 1);
  return n;
}

function hygieneSuite(name: string, make: () => Promise<Setup & { close(): Promise<void> }>): void {
  describe(`after a refused or failed writeState: ${name}`, () => {
    let s: Setup & { close(): Promise<void> };
    beforeAll(async () => { s = await make(); });
    afterAll(async () => { await s?.close(); });

    const cases: { cause: string; key: string; fail(key: string): Promise<unknown>; error: new (...a: never[]) => Error; storedAfter: number }[] = [
      {
        cause: 'too deep for the codec',
        key: 'deep',
        fail: (key) => s.silo.getGrain(Box, key).set(2, { deep: CODEC_LIMITS.maxDepth + 5 }),
        error: InvalidArgumentError,
        storedAfter: 1,
      },
      {
        cause: 'a lost ETag race',
        key: 'race',
        fail: async (key) => {
          // Another writer (a twin activation, an operator) stores 7 behind this activation's back.
          const cur = await s.storage.read(grainId('Box', key), 'state');
          await s.storage.write(grainId('Box', key), 'state', encode({ n: 7 }), cur!.etag);
          return s.silo.getGrain(Box, key).set(2);
        },
        error: InconsistentStateError,
        storedAfter: 7,
      },
      {
        cause: 'a storage error',
        key: 'outage',
        fail: (key) => { s.failNextWrite(); return s.silo.getGrain(Box, key).set(2); },
        error: SiloUnavailableError,
        storedAfter: 1,
      },
    ];
    for (const c of cases) {
      it(`${c.cause}: the call fails, nothing refused is stored (not by onDeactivate either), the next call starts from the stored state`, async () => {
        const ref = s.silo.getGrain(Box, c.key);
        expect(await ref.set(1)).toBe(1);
        const before = activations;
        deactivationWrites = [];
        await expect(c.fail(c.key)).rejects.toBeInstanceOf(c.error);
        expect(await nextActivation(s.silo, c.key, before)).toBe(c.storedAfter);
        expect(await stored(s.storage, c.key)).toBe(c.storedAfter);
        // The failed activation's onDeactivate tried to save and was refused.
        expect(deactivationWrites).toEqual(['InconsistentStateError']);
        // The grain works on from the stored state.
        expect(await ref.set(3)).toBe(3);
        expect(await stored(s.storage, c.key)).toBe(3);
      });
    }

    it('too large for the provider: refused before it is written, the same way', async () => {
      if (s.sizeLimit === undefined) return; // memory storage has no size limit; the codec's depth limit is its refusal
      const ref = s.silo.getGrain(Box, 'large');
      expect(await ref.set(1)).toBe(1);
      const before = activations;
      await expect(ref.set(2, { bytes: s.sizeLimit.bytes + 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(await nextActivation(s.silo, 'large', before)).toBe(1);
      expect(await stored(s.storage, 'large')).toBe(1);
    });

    it('a turn that catches the failure cannot write the refused state again; one that reloads first can', async () => {
      const ref = s.silo.getGrain(Box, 'twice');
      expect(await ref.set(1)).toBe(1);
      s.failNextWrite();
      const second = await ref.setTwice(2);
      expect(second).toMatch(/^InconsistentStateError: .*an earlier write of this activation's state failed .*readState\(\)/);
      expect(await stored(s.storage, 'twice')).toBe(1);

      const reloaded = s.silo.getGrain(Box, 'reloaded');
      expect(await reloaded.set(1)).toBe(1);
      s.failNextWrite();
      expect(await reloaded.setAfterReload(2)).toBe(101);
      expect(await stored(s.storage, 'reloaded')).toBe(101);
    });

    it('a method that throws after changing state without writing: the change stays in memory (rule: keep), nothing is stored; readState() rolls back', async () => {
      const ref = s.silo.getGrain(Box, 'throws');
      expect(await ref.set(5)).toBe(5);
      const before = activations;
      await expect(ref.bumpThenThrow()).rejects.toThrow('bumped, then refused');
      expect(await ref.get()).toBe(6); // kept, in the same activation
      expect(activations).toBe(before);
      expect(await stored(s.storage, 'throws')).toBe(5);
      await expect(ref.bumpThenThrowRollingBack()).rejects.toThrow('bumped, then refused');
      expect(await ref.get()).toBe(5);
    });
  });
}

hygieneSuite('memory storage', async () => {
  activations = 0;
  const storage = failingWrites(memoryStorage());
  const silo = await Silo.start({ grains: [Box], storage, logger });
  return { silo, storage, failNextWrite: () => { storage.failNext = 1; }, close: () => silo.stop() };
});

let db: DynamoEndpoint;
let proxy: FaultProxy;
const providers: DynamoStorage[] = [];
beforeAll(async () => {
  db = await startDynalite();
  proxy = await startFaultProxy(db.endpoint);
});
afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await proxy?.close();
  await db?.close();
});

function openDynamo(options: Partial<Parameters<typeof dynamoStorage>[0]> = {}): DynamoStorage {
  const p = dynamoStorage({ table: uniqueTable(), endpoint: proxy.endpoint, region: 'local', ...options });
  providers.push(p);
  return p;
}

hygieneSuite('dynalite', async () => {
  const MAX = 4_000;
  // One attempt: an injected 500 is the storage error, not a retry that then succeeds.
  const storage = openDynamo({ maxStateBytes: MAX, maxAttempts: 1 });
  await storage.ensureTable();
  let failNext = 0;
  proxy.decide = (op) => (op === 'PutItem' && failNext > 0 ? (failNext--, INTERNAL) : 'forward');
  const silo = await Silo.start({ grains: [Box], storage, logger });
  return {
    silo, storage, sizeLimit: { bytes: MAX },
    failNextWrite: () => { failNext = 1; },
    close: async () => { await silo.stop(); proxy.decide = () => 'forward'; },
  };
});

describe('DynamoDB keys are limited in UTF-8 bytes (dynalite counts characters)', () => {
  it('a key of 1,024 × "é" (1,024 characters, 2,058 bytes with type and state name) is refused with InvalidArgumentError; 2,048 bytes is accepted', async () => {
    const storage = openDynamo();
    await storage.ensureTable();
    const accented = grainId('Box', 'é'.repeat(1_024));
    for (const op of [() => storage.write(accented, 'state', '1', undefined), () => storage.read(accented, 'state')]) {
      const err = await op().then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err!.message).toContain('makes a DynamoDB key of 2058 bytes');
      expect(err!.message).toContain('more than the 2048 DynamoDB allows');
    }
    // "Box/" + key + "#state" is exactly 2,048 bytes: the largest key there is.
    const largest = grainId('Box', 'k'.repeat(2_048 - 'Box/'.length - '#state'.length));
    const etag = await storage.write(largest, 'state', encode({ n: 1 }), undefined);
    expect((await storage.read(largest, 'state'))?.etag).toBe(etag);
    const oneMore = grainId('Box', `${largest.key}k`);
    await expect(storage.write(oneMore, 'state', '1', undefined)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('a grain call with such a key fails with InvalidArgumentError, from a silo on dynalite', async () => {
    const storage = openDynamo();
    await storage.ensureTable();
    const silo = await Silo.start({ grains: [Box], storage, logger });
    try {
      await expect(silo.getGrain(Box, 'é'.repeat(1_024)).get()).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(await silo.getGrain(Box, 'é'.repeat(1_000)).set(4)).toBe(4);
    } finally {
      await silo.stop();
    }
  });
});
