/** Isolation: serializable; no two transactions commit from one version; consistent snapshots; no dirty reads. */
import { describe, expect, it } from 'vitest';
import { TransactionAbortedError } from './imports.js';
import { Account, Bank } from '../../grains/index.js';
import { Overdraft } from './grains.js';
import { abortedWith, balances, deferred, fund, pending, placeOn, retrying, type SuiteContext } from './support.js';
import { workloadRandom } from '../support/random.js';

export function isolation(s: SuiteContext): void {
  describe('isolation', () => {
    it('concurrent transactions on one account never both commit from the same version', async () => {
      const c = await s.start(3);
      const [a, b] = [s.key('a'), s.key('b')];
      await fund(c, { [a]: 100, [b]: 0 });
      const results = await Promise.allSettled(Array.from({ length: 40 }, () => c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(10);
        await c.client.getGrain(Account, b).deposit(10);
      })));
      const committed = results.filter((r) => r.status === 'fulfilled').length;
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TransactionAbortedError);
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThanOrEqual(10);
      expect(await balances(c, [a, b])).toEqual([100 - 10 * committed, 10 * committed]);
    });

    it('no lost update: concurrent deposits, each retried until it commits, all count', async () => {
      const c = await s.start(3);
      const a = s.key('a');
      await Promise.all(Array.from({ length: 25 }, () => retrying(() => c.client.transaction(() => c.client.getGrain(Account, a).deposit(1)))));
      expect(await c.client.getGrain(Account, a).balance()).toBe(25);
    });

    it('write skew is impossible (serializable, not snapshot isolation)', async () => {
      const c = await s.start(2);
      for (let round = 0; round < 5; round++) {
        const [x, y] = [s.key('x'), s.key('y')];
        const bothRead = [deferred(), deferred()];
        const go = Promise.all(bothRead.map((d) => d.promise));
        // Each reads both (50 + 50) and takes 60 from its own side if the sum allows it,
        // retried until it commits. The first attempts both read before either writes: the
        // schedule under which snapshot isolation would let both take.
        const take = (mine: string, i: number) => {
          let attempt = 0;
          return retrying(() => c.client.transaction(async () => {
            const first = attempt++ === 0;
            const [bx, by] = await Promise.all([c.client.getGrain(Overdraft, x).balance(), c.client.getGrain(Overdraft, y).balance()]);
            if (first) {
              bothRead[i]!.resolve();
              await go;
            }
            if (bx + by < 60) return false;
            await c.client.getGrain(Overdraft, mine).add(-60);
            return true;
          }));
        };
        const took = await Promise.all([take(x, 0), take(y, 1)]);
        // In any serial order exactly one takes; the other then sees 40 and does not.
        expect(took.filter(Boolean)).toHaveLength(1);
        const [bx, by] = await Promise.all([c.client.getGrain(Overdraft, x).balance(), c.client.getGrain(Overdraft, y).balance()]);
        expect([bx, by].sort((m, n) => m - n)).toEqual([-10, 50]);
      }
    });

    it('reads see a consistent snapshot while transfers run', async () => {
      const c = await s.start(3);
      const keys = [s.key('a'), s.key('b'), s.key('c')];
      await fund(c, Object.fromEntries(keys.map((k) => [k, 100])));
      let stop = false;
      const seen: number[] = [];
      const random = workloadRandom('isolation: transfers during reads');
      // Transfers move money around; the total is invariant, so a torn read would show.
      const movers = Array.from({ length: 3 }, async () => {
        for (let i = 0; i < 40; i++) {
          const [from, to] = pick2(keys, random);
          const n = 1 + Math.floor(random() * 5);
          await c.client.transaction(async () => {
            await c.client.getGrain(Account, from).withdraw(n);
            await c.client.getGrain(Account, to).deposit(n);
          }).catch((e) => { if (!(e instanceof TransactionAbortedError)) throw e; });
          await new Promise((res) => setTimeout(res, 2)); // leave the readers a window
        }
      });
      const readers = Array.from({ length: 3 }, async (_, r) => {
        while (!stop) {
          try {
            const total = r === 0
              ? await c.client.getGrain(Bank, s.key('bank')).total(keys)
              : await c.client.transaction(async () => (await Promise.all(keys.map((k) => c.client.getGrain(Account, k).balance()))).reduce((x, y) => x + y, 0));
            seen.push(total);
          } catch (e) {
            if (!(e instanceof TransactionAbortedError)) throw e;
          }
          await new Promise((res) => setTimeout(res, 1));
        }
      });
      await Promise.all(movers);
      stop = true;
      await Promise.all(readers);
      expect(seen.length).toBeGreaterThan(0);
      for (const t of seen) expect(t).toBe(300);
      expect((await balances(c, keys)).reduce((x, y) => x + y, 0)).toBe(300);
    });

    it('a transaction reads its own writes; others see none of them before the commit', async () => {
      const c = await s.start(2);
      const [a, b] = [s.key('a'), s.key('b')];
      await placeOn(c, 0, Account, a);
      await placeOn(c, 1, Account, b);
      await fund(c, { [a]: 100, [b]: 100 });
      const wrote = deferred();
      const finish = deferred();
      const t = c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(10);
        await c.client.getGrain(Account, b).deposit(10);
        const inside = await Promise.all([c.client.getGrain(Account, a).balance(), c.client.getGrain(Account, b).balance()]);
        wrote.resolve();
        await finish.promise;
        return inside;
      });
      await wrote.promise;
      // Running: another transaction's read meets the write lock and aborts at once (no-wait).
      const during = await abortedWith(c.client.getGrain(Account, a).balance());
      // (balance() coordinates its own transaction on the grain: the cause comes back in data.)
      expect((during.data as { cause?: { code?: string } }).cause?.code).toBe('transaction_conflict');
      // Prepared, not yet committed: a read waits for the outcome instead of seeing either value.
      const gate = s.pauseAt('beforeCommit');
      finish.resolve();
      await gate.reached;
      const waiting = c.client.getGrain(Account, b).balance();
      expect(await pending(waiting)).toBe(true);
      gate.release();
      expect(await t).toEqual([90, 110]);
      expect(await waiting).toBe(110);
      expect(await balances(c, [a, b])).toEqual([90, 110]);
    });
  });
}

function pick2<T>(xs: T[], random: () => number): [T, T] {
  const i = Math.floor(random() * xs.length);
  let j = Math.floor(random() * (xs.length - 1));
  if (j >= i) j++;
  return [xs[i]!, xs[j]!];
}
