/** Atomicity: everything a transaction changed commits, or nothing does and nothing is left. */
import { describe, expect, it } from 'vitest';
import { GrainError, TransactionAbortedError, decode, decodeStoredState, grainId, readRecordForTest, type StorageProvider } from './imports.js';
import { Account, Bank, Ledger } from '../../grains/index.js';
import { Pair, Probe } from './grains.js';
import { abortedWith, balances, deferred, fund, pending, placeOn, retrying, type SuiteContext } from './support.js';

export function atomicity(s: SuiteContext): void {
  describe('atomicity', () => {
    it('commits changes to grains on different silos together', async () => {
      const c = await s.start(3);
      const [a, b] = [s.key('a'), s.key('b')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 5 });
      await c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(30);
        await c.client.getGrain(Account, b).deposit(30);
      });
      expect(await balances(c, [a, b])).toEqual([70, 35]);
    });

    it('an exception in fn aborts with the cause attached and leaves no trace', async () => {
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 100 });
      const boom = new Error('boom');
      const err = await abortedWith(c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(10);
        await c.client.getGrain(Account, b).deposit(10);
        throw boom;
      }));
      expect(err.cause).toBe(boom);
      expect(err.message).toContain('boom');
      expect(await balances(c, [a, b])).toEqual([100, 100]);
      // No lock left: the next transaction on both runs at once; no pending value in storage.
      await c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(1);
        await c.client.getGrain(Account, b).deposit(1);
      });
      // (A pending value of an earlier, committed transaction may stay until the next write.)
      const txn = (err.data as { txn: string }).txn;
      for (const k of [a, b]) expect((await storedItem(s.storage(), 'Account', k, 'balance') as { p?: { t: string } }).p?.t).not.toBe(txn);
      expect(await readRecordForTest(s.storage(), txn)).toBeUndefined();
    });

    it('a failing participant ("insufficient funds") aborts everything changed before it', async () => {
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 10, [b]: 0 });
      const err = await abortedWith(c.client.transaction(async () => {
        await c.client.getGrain(Account, b).deposit(50);
        await c.client.getGrain(Account, a).withdraw(50);
      }));
      expect((err.cause as Error).message).toBe('insufficient funds');
      expect(await balances(c, [a, b])).toEqual([10, 0]);
    });

    it('a grain-coordinated transfer with its ledger entry commits or aborts as one', async () => {
      const c = await s.start(3);
      const [a, b, bank] = [s.key('a'), s.key('b'), s.key('bank')];
      await fund(c, { [a]: 50, [b]: 0 });
      await c.client.getGrain(Bank, bank).transfer(a, b, 20, 't1');
      const err = await c.client.getGrain(Bank, bank).transfer(a, b, 40, 't2').catch((e) => e);
      expect(err).toBeInstanceOf(TransactionAbortedError);
      expect(err.message).toContain('insufficient funds');
      // The cause crossed the wire inside the error's data and is restored by the client.
      expect(err.data.cause).toMatchObject({ code: 'grain_error', message: 'insufficient funds' });
      expect(err.cause).toBeInstanceOf(GrainError);
      expect(err.cause).toMatchObject({ code: 'grain_error', message: 'insufficient funds' });
      expect(await balances(c, [a, b])).toEqual([30, 20]);
      expect((await c.client.getGrain(Ledger, a).entries()).map((e) => e.id)).toEqual(['t1']);
    });

    it('a conflict aborts the later transaction at once (it does not wait for a running one)', async () => {
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 0 });
      const holding = deferred();
      const go = deferred();
      const first = c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(10);
        holding.resolve();
        await go.promise;
        await c.client.getGrain(Account, b).deposit(10);
      });
      await holding.promise;
      const err = await abortedWith(c.client.transaction(() => c.client.getGrain(Account, a).deposit(1)));
      expect(err.message).toMatch(/locked by transaction .* still running/);
      expect((err.cause as { code?: string }).code).toBe('transaction_conflict');
      go.resolve();
      await first;
      expect(await balances(c, [a, b])).toEqual([90, 10]);
    });

    it('a lock wait is bounded: waiting on a prepared transaction gives up after lockWaitMs', async () => {
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 0 });
      const gate = s.pauseAt('beforeCommit');
      const first = c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(10);
        await c.client.getGrain(Account, b).deposit(10);
      });
      await gate.reached; // both prepared, commit held back
      const second = c.client.transaction(() => c.client.getGrain(Account, a).withdraw(5), { lockWaitMs: 1_000 });
      expect(await pending(second)).toBe(true);
      await c.advanceTime(999);
      expect(await pending(second)).toBe(true);
      await c.advanceTime(2);
      const err = await abortedWith(second);
      expect(err.message).toContain('lock-wait bound');
      expect((err.cause as { code?: string }).code).toBe('transaction_lock_timeout');
      gate.release();
      await first;
      expect(await balances(c, [a, b])).toEqual([90, 10]);
    });

    it('a call left running when fn returns aborts the transaction', async () => {
      const c = await s.start(2);
      const p = s.key('p');
      const err = await abortedWith(c.client.transaction(async () => {
        void c.client.getGrain(Probe, p).joinAdd(1).catch(() => undefined);
      }));
      expect(err.message).toContain('await every call');
      expect(err.cause).toBeDefined();
      // Once the orphaned call returns, its participant is told too: its lock goes at once
      // (no time passes here), and nothing was committed.
      expect(await retrying(() => c.client.getGrain(Probe, p).value())).toBe(0);
    });

    it('one grain changing two states commits both through a record (two items, one writer)', async () => {
      const c = await s.start(2);
      const k = s.key('pair');
      await c.client.getGrain(Pair, k).move(3);
      expect(await c.client.getGrain(Pair, k).both()).toEqual([7, 3]);
    });
  });
}

async function storedItem(storage: StorageProvider, type: string, key: string, name: string): Promise<unknown> {
  const stored = await storage.read(grainId(type, key), `txn:${name}`);
  return stored?.payload === undefined ? undefined : decodeStoredState(stored.payload);
}

