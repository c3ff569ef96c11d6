/**
 * Retention of transaction records (runtime/features/transactions/retention.ts): a record
 * goes once no item holds a pending value of its transaction — at the items' next writes,
 * or by a fold write of an idle item after `foldAfterMs` — and a record recovery created
 * goes `recordRetentionMs` after it was created. Counted in storage before and after.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Account } from '../../grains/index.js';
import type { TestCluster } from 'granary';
import { decode, grainId, readRecordForTest, TransactionAbortedError, transactionDefaults, type StorageProvider } from './imports.js';
import { balances, fund, hostOf, placeOn, type SuiteContext } from './support.js';

/** The run's storage, noting every transaction record created, so they can be counted in storage. */
function trackRecords(inner: StorageProvider): { storage: StorageProvider; created(): number; stored(): Promise<number>; failDeletes: boolean } {
  const ids = new Set<string>();
  // Own, writable members over the provider (the silo's storage proxies need configurable properties).
  const member = (value: unknown): PropertyDescriptor => ({ value, writable: true, configurable: true, enumerable: true });
  const storage: StorageProvider = Object.create(inner, {
    write: member((id: Parameters<StorageProvider['write']>[0], name: string, payload: string, etag: string | undefined) => {
      if (id.type === '$txn') ids.add(id.key);
      return inner.write(id, name, payload, etag);
    }),
    delete: member((id: Parameters<StorageProvider['write']>[0], name: string, etag: string) => {
      if (tracker.failDeletes) return Promise.reject(new Error('storage is down (test)'));
      return inner.delete!(id, name, etag);
    }),
  });
  const tracker = {
    failDeletes: false,
    storage,
    created: () => ids.size,
    async stored() {
      const found = await Promise.all([...ids].map((k) => inner.read(grainId('$txn', k), 'record')));
      return found.filter((r) => r?.payload !== undefined).length;
    },
  };
  return tracker;
}

/** Polls `get` until `want` (storage on dynalite answers in real time, after the fake clock moved), or gives its last value. */
async function until(c: TestCluster, get: () => Promise<number>, want: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await c.settle();
    const v = await get();
    if (v === want || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function recordRetention(s: SuiteContext): void {
  describe('transaction record retention', () => {
    // Shorter than the defaults (the suite restores them after each test): fake time, but
    // advancing it settles the cluster every second, which on dynalite takes real time.
    beforeEach(() => {
      transactionDefaults.foldAfterMs = 3_000;
      transactionDefaults.recordRetentionMs = 8_000;
    });

    it('records go once no item holds their pending value: at the next writes, then by folding idle items', async () => {
      const tracked = trackRecords(s.storage());
      const c = await s.start(2, tracked.storage);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 100 });
      for (let i = 0; i < 10; i++) {
        await c.client.transaction(async () => {
          await c.client.getGrain(Account, a).withdraw(1);
          await c.client.getGrain(Account, b).deposit(1);
        });
      }
      // 11 two-phase transactions, 11 records; each transfer's prepares folded the one before
      // in, so only the last is still held (by both items).
      expect(tracked.created()).toBe(11);
      expect(await until(c, tracked.stored, 1)).toBe(1);
      const item = await s.storage().read(grainId('Account', a), 'txn:balance');
      expect((decode(item!.payload!) as { p?: unknown }).p).toBeDefined();
      // Idle past foldAfterMs: each item writes its settled pending value in, and the record goes.
      await c.advanceTime(transactionDefaults.foldAfterMs + 1);
      expect(await until(c, tracked.stored, 0)).toBe(0);
      const folded = decode((await s.storage().read(grainId('Account', a), 'txn:balance'))!.payload!) as { p?: unknown; v: number };
      expect(folded.p).toBeUndefined();
      expect(folded.v).toBe(90);
      // Nothing was lost: fresh activations read the folded items (no record needed).
      const fresh = await s.start(1, tracked.storage);
      expect(await balances(fresh, [a, b])).toEqual([90, 110]);
    });

    it('the duty to collect is stored with the item: records a failed collection left are collected by the next activation', async () => {
      const tracked = trackRecords(s.storage());
      const c = await s.start(2, tracked.storage);
      const [a, b] = [s.key('a'), s.key('b')];
      tracked.failDeletes = true;
      await fund(c, { [a]: 100, [b]: 100 });
      for (let i = 0; i < 2; i++) {
        await c.client.transaction(async () => {
          await c.client.getGrain(Account, a).withdraw(1);
          await c.client.getGrain(Account, b).deposit(1);
        });
      }
      await c.settle();
      expect(await tracked.stored()).toBe(3);
      const item = decode((await s.storage().read(grainId('Account', a), 'txn:balance'))!.payload!) as { d?: string[] };
      expect(item.d).toHaveLength(2);
      // Every activation is lost (the cluster stops); storage is back.
      await c.stop();
      tracked.failDeletes = false;
      const next = await s.start(1, tracked.storage);
      expect(await balances(next, [a, b])).toEqual([98, 102]);
      // Loading the items took the duties up: the two dropped records go, the held one stays …
      expect(await until(next, tracked.stored, 1)).toBe(1);
      // … until the idle items fold it in.
      await next.advanceTime(transactionDefaults.foldAfterMs + 1);
      expect(await until(next, tracked.stored, 0)).toBe(0);
    });

    it('a record recovery created (a crashed commit) goes recordRetentionMs after it was created', async () => {
      const tracked = trackRecords(s.storage());
      const c = await s.start(2, tracked.storage);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 100 });
      await c.advanceTime(transactionDefaults.foldAfterMs + 1);
      expect(await until(c, tracked.stored, 0)).toBe(0);
      // The manager dies after both prepares, before the record: the items hold pending values.
      const gate = s.pauseAt('beforeCommit');
      const run = c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(5);
        await c.client.getGrain(Account, b).deposit(5);
      }, { timeoutMs: 1_000 });
      run.catch(() => undefined);
      await gate.reached;
      gate.fail();
      await run.catch(() => undefined);
      // Recovery settles it `aborted` (a record without the list of items that hold it).
      await c.advanceTime(1_000 + transactionDefaults.recoveryGraceMs + 1);
      expect(await until(c, tracked.stored, 1)).toBe(1);
      expect(await balances(c, [a, b])).toEqual([100, 100]);
      // Folded in and past the retention: gone.
      // Folded in after foldAfterMs, but younger than the retention: kept until then.
      expect(transactionDefaults.foldAfterMs + 2_000).toBeLessThan(transactionDefaults.recordRetentionMs);
      await c.advanceTime(transactionDefaults.foldAfterMs + 1);
      await until(c, async () => (decode((await s.storage().read(grainId('Account', a), 'txn:balance'))!.payload!) as { p?: unknown }).p === undefined ? 1 : 0, 1);
      expect(await tracked.stored()).toBe(1);
      await c.advanceTime(transactionDefaults.recordRetentionMs + 1);
      expect(await until(c, tracked.stored, 0)).toBe(0);
      const fresh = await s.start(1, tracked.storage);
      expect(await balances(fresh, [a, b])).toEqual([100, 100]);
    });

    it('a coordinator that lost its manager after the commit point is never told "aborted", even once the record was collected', async () => {
      const c = await s.start(3);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 100 });
      // The manager (a, the first writer) on silo 0, b on silo 1; the client's calls go there.
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      const managerSilo = hostOf(c, `Account/${a}`)!;
      // The manager writes the record `committed`, then stops before it answers the client.
      const gate = s.pauseAt('afterCommitRecord');
      const run = c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(5);
        await c.client.getGrain(Account, b).deposit(5);
      }, { timeoutMs: 1_000 });
      run.catch(() => undefined);
      const txnId = await gate.reached;
      expect(await readRecordForTest(s.storage(), txnId)).toBe('committed');
      // Past the deadline the participants settle it from the record; idle, they fold it in,
      // and the record goes (no item holds its pending value any more).
      await c.advanceTime(1_000 + transactionDefaults.recoveryGraceMs + 1);
      await c.advanceTime(transactionDefaults.foldAfterMs + 1);
      expect(await until(c, async () => ((await readRecordForTest(s.storage(), txnId)) === undefined ? 1 : 0), 1)).toBe(1);
      // Later commits of a push it out of the item's memory of recent commits.
      for (let i = 0; i < 20; i++) await c.client.transaction(() => c.client.getGrain(Account, a).deposit(1));
      // Now the manager's silo dies: the client, in doubt, asks the participants.
      await c.killSilo(managerSilo);
      const outcome = await run.then(() => 'committed', (err) => err);
      expect(await balances(c, [a, b])).toEqual([100 - 5 + 20, 105]);
      // It committed: the client learns so, or at worst that it is in doubt — never "aborted".
      expect(outcome instanceof TransactionAbortedError ? `aborted: ${outcome.message}` : 'not aborted').toBe('not aborted');
    });
  });
}
