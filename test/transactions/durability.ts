/**
 * Durability: a silo crash at each step of the commit. The coordinating participant's silo
 * is killed between prepare and commit, and between the commit record and apply; the
 * survivors and the grains' next activations resolve the pending state through the record.
 */
import { describe, expect, it } from 'vitest';
import type { TestCluster } from 'granary';
import { SiloUnavailableError, TransactionAbortedError, readRecordForTest as readRecord, transactionDefaults } from './imports.js';
import { Account, Bank } from '../../grains/index.js';
import { Probe } from './grains.js';
import { abortedWith, balances, fund, hostOf, pending, placeOn, type SuiteContext } from './support.js';

export function durability(s: SuiteContext): void {
  describe('durability', () => {
    it('client coordinator, manager silo killed between prepare and commit: aborted, nothing applied', async () => {
      const c = await s.start(3);
      const [a, b] = [s.key('a'), s.key('b')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 100 });
      const gate = s.pauseAt('beforeCommit');
      const t = transfer(c, a, b, 30);
      const txnId = await gate.reached;
      await c.killSilo(hostOf(c, `Account/${a}`)!);
      const err = await abortedWith(t);
      expect(err.cause).toBeInstanceOf(SiloUnavailableError);
      gate.fail();
      expect(await balances(c, [a, b])).toEqual([100, 100]);
      expect(await readRecord(s.storage(), txnId)).toBe('aborted');
    });

    it('client coordinator, manager silo killed after the commit record: acknowledged and applied everywhere', async () => {
      const c = await s.start(3);
      const [a, b] = [s.key('a'), s.key('b')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 100 });
      const gate = s.pauseAt('afterCommitRecord');
      const t = transfer(c, a, b, 30);
      const txnId = await gate.reached;
      await c.killSilo(hostOf(c, `Account/${a}`)!);
      await t; // the coordinator found the record: committed
      gate.fail();
      expect(await readRecord(s.storage(), txnId)).toBe('committed');
      expect(await balances(c, [a, b])).toEqual([70, 130]);
    });

    it('grain coordinator and manager killed between prepare and commit: recovery aborts at activation and at the deadline', async () => {
      transactionDefaults.timeoutMs = 2_000;
      const c = await s.start(3);
      const [a, b, bank] = [s.key('a'), s.key('b'), s.key('bank')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 0, Bank, bank);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 100 });
      const gate = s.pauseAt('beforeCommit');
      const t = c.client.getGrain(Bank, bank).transfer(a, b, 30);
      const txnId = await gate.reached;
      transactionDefaults.timeoutMs = 10_000; // the reads below may outlive the transfer's deadline
      await c.killSilo(0);
      // Re-sent to another silo, the transfer is not run again: its first run may have committed.
      const refused = await t.catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SiloUnavailableError);
      expect((refused as SiloUnavailableError).data).toMatchObject({ reason: 'transaction_not_rerun' });
      gate.fail();
      // a's next activation finds its pending value; no record yet and not old: it waits.
      const readA = c.client.getGrain(Account, a).balance();
      const readB = c.client.getGrain(Account, b).balance();
      expect(await pending(readA)).toBe(true);
      expect(await pending(readB)).toBe(true);
      await c.advanceTime(2_000 + 500 + 1);
      expect(await readA).toBe(100);
      expect(await readB).toBe(100);
      expect(await readRecord(s.storage(), txnId)).toBe('aborted');
    });

    it('grain coordinator and manager killed after the commit record: activation applies at once, survivors at the deadline', async () => {
      transactionDefaults.timeoutMs = 2_000;
      const c = await s.start(3);
      const [a, b, bank] = [s.key('a'), s.key('b'), s.key('bank')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 0, Bank, bank);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 100 });
      const gate = s.pauseAt('afterCommitRecord');
      const t = c.client.getGrain(Bank, bank).transfer(a, b, 30);
      await gate.reached;
      transactionDefaults.timeoutMs = 10_000;
      await c.killSilo(0);
      // Re-sent to another silo, the transfer is not run again: its first run may have committed.
      const refused = await t.catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SiloUnavailableError);
      expect((refused as SiloUnavailableError).data).toMatchObject({ reason: 'transaction_not_rerun' });
      gate.fail();
      // a's new activation reads the record (committed) and applies without waiting.
      expect(await c.client.getGrain(Account, a).balance()).toBe(70);
      // b is prepared and was never told: it holds its lock until it asks the record.
      const readB = c.client.getGrain(Account, b).balance();
      expect(await pending(readB)).toBe(true);
      await c.advanceTime(2_000 + 500 + 1);
      expect(await readB).toBe(130);
    });

    it('a participant killed after it prepared: the commit still applies there', async () => {
      const c = await s.start(3);
      const [a, b] = [s.key('a'), s.key('b')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 100 });
      const gate = s.pauseAt('beforeCommit');
      const t = transfer(c, a, b, 30);
      await gate.reached;
      await c.killSilo(hostOf(c, `Account/${b}`)!);
      gate.release();
      await t;
      expect(await balances(c, [a, b])).toEqual([70, 130]);
    });

    it('one-phase commit, manager killed before its write: settled as aborted, the write can no longer land', async () => {
      const c = await s.start(3);
      const p = s.key('p');
      await placeOn(c, 0, Probe, p);
      await c.client.getGrain(Probe, p).createAdd(1);
      const gate = s.pauseAt('beforeCommit');
      const t = c.client.transaction(() => c.client.getGrain(Probe, p).joinAdd(5));
      await gate.reached;
      await c.killSilo(hostOf(c, `Probe/${p}`)!);
      const err = await t.catch((e) => e);
      expect(err).toBeInstanceOf(TransactionAbortedError);
      gate.release(); // the dead silo's write is refused
      expect(await c.client.getGrain(Probe, p).value()).toBe(1);
    });

    it('a state survives deactivation and a graceful silo stop with its committed value', async () => {
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 0 });
      await transfer(c, a, b, 40);
      await c.stopSilo(0);
      await c.startSilo();
      await c.stopSilo(0);
      await c.startSilo();
      expect(await balances(c, [a, b])).toEqual([60, 40]);
    });
  });
}

function transfer(c: TestCluster, from: string, to: string, n: number): Promise<void> {
  return c.client.transaction(async () => {
    await c.client.getGrain(Account, from).withdraw(n);
    await c.client.getGrain(Account, to).deposit(n);
  });
}
