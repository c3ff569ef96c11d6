/**
 * Commits whose storage write fails without saying whether it landed (a lost answer, an
 * outage), and deadlines. The commit point of a two-phase commit is the record write; of a
 * one-phase commit, the item write. When the outcome can be found (from the record, or the
 * item's recent commits) the caller gets it; when it cannot, the caller gets
 * `TransactionInDoubtError` — never a success it cannot vouch for.
 */
import { describe, expect, it } from 'vitest';
import type { TestCluster } from 'granary';
import {
  TransactionAbortedError, TransactionInDoubtError, readRecordForTest as readRecord, transactionDefaults,
} from './imports.js';
import { Account } from '../../grains/index.js';
import { faultyStorage, type FaultyStorage } from './faulty-storage.js';
import { Probe } from './grains.js';
import { abortedWith, balances, fund, placeOn, type SuiteContext } from './support.js';

const isRecord = (target: string) => target.startsWith('$txn/') && target.endsWith('#record');

/** Fails the next write that `match` picks with `fault`; other operations pass. */
function failNextWrite(f: FaultyStorage, match: (target: string) => boolean, fault: 'fail' | 'lose-answer' | 'outage'): void {
  let armed = true;
  f.decide = (op, target) => {
    if (!armed || op !== 'write' || !match(target)) return 'pass';
    armed = false;
    return fault;
  };
}

function transfer(c: TestCluster, from: string, to: string, n: number): Promise<void> {
  return c.client.transaction(async () => {
    await c.client.getGrain(Account, from).withdraw(n);
    await c.client.getGrain(Account, to).deposit(n);
  });
}

async function inDoubt(p: Promise<unknown>): Promise<TransactionInDoubtError> {
  const err = await p.then(() => new Error('expected TransactionInDoubtError, but the transaction reported success'), (e: unknown) => e);
  if (!(err instanceof TransactionInDoubtError)) throw new Error(`expected TransactionInDoubtError, got ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
  return err;
}

export function inDoubtCommits(s: SuiteContext): void {
  describe('commits whose outcome is unknown', () => {
    /** Two accounts on two silos, funded, over a storage that can fail on demand. */
    async function twoAccounts(): Promise<{ c: TestCluster; f: FaultyStorage; a: string; b: string }> {
      const f = faultyStorage(s.storage());
      const c = await s.start(2, f.storage);
      const [a, b] = [s.key('a'), s.key('b')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 100 });
      return { c, f, a, b };
    }

    it('two-phase: the commit record landed but its answer was lost → committed, acknowledged, applied', async () => {
      const { c, f, a, b } = await twoAccounts();
      let txnId: string | undefined;
      failNextWrite(f, (t) => { if (isRecord(t)) txnId = t.slice(5, -7); return isRecord(t); }, 'lose-answer');
      await transfer(c, a, b, 30);
      expect(txnId).toBeDefined();
      expect(await readRecord(s.storage(), txnId!)).toBe('committed');
      expect(await balances(c, [a, b])).toEqual([70, 130]);
    });

    it('two-phase: the commit record write failed → settled as aborted, nothing applied', async () => {
      const { c, f, a, b } = await twoAccounts();
      let txnId: string | undefined;
      failNextWrite(f, (t) => { if (isRecord(t)) txnId = t.slice(5, -7); return isRecord(t); }, 'fail');
      const err = await abortedWith(transfer(c, a, b, 30));
      expect(err.message).toContain(txnId!);
      expect(await readRecord(s.storage(), txnId!)).toBe('aborted');
      expect(await balances(c, [a, b])).toEqual([100, 100]);
    });

    it('two-phase: the record write failed and storage stayed down → TransactionInDoubtError; recovery aborts it once storage is back', async () => {
      transactionDefaults.timeoutMs = 2_000;
      const { c, f, a, b } = await twoAccounts();
      let txnId: string | undefined;
      failNextWrite(f, (t) => { if (isRecord(t)) txnId = t.slice(5, -7); return isRecord(t); }, 'outage');
      const err = await inDoubt(transfer(c, a, b, 30));
      expect(err.code).toBe('transaction_in_doubt');
      expect(err.message).toContain(txnId!);
      expect(f.down).toBe(true);

      f.restore();
      transactionDefaults.timeoutMs = 10_000; // the reads below may outlive the transfer's deadline
      // The prepared participants ask the record once the transfer is past its deadline: none → aborted.
      await c.advanceTime(2_000 + 500 + 1);
      expect(await balances(c, [a, b])).toEqual([100, 100]);
      expect(await readRecord(s.storage(), txnId!)).toBe('aborted');
    });

    it('two-phase: the record landed, then storage went down → TransactionInDoubtError; it stays committed', async () => {
      transactionDefaults.timeoutMs = 2_000;
      const { c, f, a, b } = await twoAccounts();
      let txnId: string | undefined;
      let landed = false;
      f.decide = (op, target) => {
        if (landed) return 'outage';
        if (op === 'write' && isRecord(target)) { txnId = target.slice(5, -7); landed = true; return 'lose-answer'; }
        return 'pass';
      };
      await inDoubt(transfer(c, a, b, 30));
      f.restore();
      f.decide = () => 'pass';
      transactionDefaults.timeoutMs = 10_000;
      await c.advanceTime(2_000 + 500 + 1);
      expect(await readRecord(s.storage(), txnId!)).toBe('committed');
      expect(await balances(c, [a, b])).toEqual([70, 130]);
    });

    /** A Probe with value 1, ready for a one-phase commit (one writer, one state). */
    async function oneWriter(): Promise<{ c: TestCluster; f: FaultyStorage; p: string }> {
      const f = faultyStorage(s.storage());
      const c = await s.start(2, f.storage);
      const p = s.key('p');
      await c.client.getGrain(Probe, p).createAdd(1);
      return { c, f, p };
    }
    const probeItem = (p: string) => (t: string) => t === `Probe/${p}#txn:n`;

    it('one-phase: the commit write landed but its answer was lost → found in the item, committed', async () => {
      const { c, f, p } = await oneWriter();
      failNextWrite(f, probeItem(p), 'lose-answer');
      await c.client.transaction(() => c.client.getGrain(Probe, p).joinAdd(5));
      expect(await c.client.getGrain(Probe, p).value()).toBe(6);
    });

    it('one-phase: the commit write failed → the item is fenced, aborted, and the value is unchanged', async () => {
      const { c, f, p } = await oneWriter();
      failNextWrite(f, probeItem(p), 'fail');
      const err = await abortedWith(c.client.transaction(() => c.client.getGrain(Probe, p).joinAdd(5)));
      expect(err).toBeInstanceOf(TransactionAbortedError);
      expect(await c.client.getGrain(Probe, p).value()).toBe(1);
      // The grain's next transaction commits normally.
      await c.client.transaction(() => c.client.getGrain(Probe, p).joinAdd(2));
      expect(await c.client.getGrain(Probe, p).value()).toBe(3);
    });

    it('one-phase: the commit write failed and storage stayed down → in doubt at the grain; it settles once storage is back, and its lock goes', async () => {
      const { c, f, p } = await oneWriter();
      failNextWrite(f, probeItem(p), 'outage');
      const outcome = c.client.transaction(() => c.client.getGrain(Probe, p).joinAdd(5)).then(() => undefined, (e: unknown) => e);
      while (!f.down) await c.settle();
      // The grain tries to settle the outcome from the item, cannot reach storage, and answers in doubt.
      for (let i = 0; i < 20; i++) await c.settle();
      f.restore();
      let settled = false;
      void outcome.then(() => { settled = true; });
      // Its own retry (on the silo's clock) settles it; the coordinator, still asking, learns the outcome.
      for (let i = 0; i < 100 && !settled; i++) await c.advanceTime(100);
      const err = await outcome;
      expect(err).toBeInstanceOf(TransactionAbortedError);
      // The grain's in-doubt answer crossed the wire as its own class.
      expect((err as TransactionAbortedError).cause).toBeInstanceOf(TransactionInDoubtError);
      expect(await c.client.getGrain(Probe, p).value()).toBe(1);
      await c.client.transaction(() => c.client.getGrain(Probe, p).joinAdd(2));
      expect(await c.client.getGrain(Probe, p).value()).toBe(3);
    });
  });

  describe('deadlines', () => {
    it('a call that reaches a new participant after the deadline aborts with cause transaction_timeout', async () => {
      transactionDefaults.timeoutMs = 2_000;
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 100 });
      const err = await abortedWith(c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(10);
        await c.advanceTime(2_000);
        await c.client.getGrain(Account, b).deposit(10);
      }));
      expect((err.cause as { code?: string }).code).toBe('transaction_timeout');
      expect(await balances(c, [a, b])).toEqual([100, 100]);
    });

    it('a transaction whose function runs past its timeout aborts with cause transaction_timeout', async () => {
      transactionDefaults.timeoutMs = 2_000;
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 100 });
      const err = await abortedWith(c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(10);
        await c.client.getGrain(Account, b).deposit(10);
        await c.advanceTime(2_000);
      }));
      expect((err.cause as { code?: string }).code).toBe('transaction_timeout');
      expect(await balances(c, [a, b])).toEqual([100, 100]);
    });
  });
}
