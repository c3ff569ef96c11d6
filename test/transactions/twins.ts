/**
 * Twin activations: two live activations of one grain (what a network partition can cause,
 * until the directory settles it). Writers are checked by ETag; a read-only participant is
 * checked too, at prepare, against the version stored now — so a twin that kept a value in
 * memory after the other one wrote cannot serve it inside a serializable transaction.
 *
 * The twin is forced with two clusters over one storage: each activates the same account.
 */
import { describe, expect, it } from 'vitest';
import { Account } from '../../grains/index.js';
import { abortedWith, fund, type SuiteContext } from './support.js';

export function twinReads(s: SuiteContext): void {
  describe('twin activations (a partition): reads are validated against storage', () => {
    it('a read-only participant whose value another activation replaced votes no: the stale read aborts', async () => {
      const left = await s.start(1);
      const right = await s.start(1);
      const [x, y] = [s.key('x'), s.key('y')];
      await fund(left, { [x]: 100, [y]: 0 });
      // Left's activation of x now holds 100 in memory.
      expect(await left.client.getGrain(Account, x).balance()).toBe(100);
      // Right activates x too (a twin) and commits a deposit: storage holds 150.
      await right.client.transaction(() => right.client.getGrain(Account, x).deposit(50));
      expect(await right.client.getGrain(Account, x).balance()).toBe(150);

      // Read only: left's twin still has 100 in memory; validation refuses it.
      const ro = await abortedWith(left.client.transaction(() => left.client.getGrain(Account, x).balance()));
      expect(ro.cause).toMatchObject({ code: 'transaction_conflict' });
      expect((ro.cause as Error).message).toContain('changed in storage since it was read');

      // The refusal dropped the stale view: the next transaction reads what is stored.
      expect(await left.client.transaction(() => left.client.getGrain(Account, x).balance())).toBe(150);

      // Stale again (right deposits 50 more), now read beside a one-phase writer: the stale
      // read would have been copied into y.
      await right.client.transaction(() => right.client.getGrain(Account, x).deposit(50));
      const rw = await abortedWith(left.client.transaction(async () => {
        const seen = await left.client.getGrain(Account, x).balance();
        await left.client.getGrain(Account, y).deposit(seen);
      }));
      expect(rw.cause).toMatchObject({ code: 'transaction_conflict' });
      expect(await right.client.getGrain(Account, y).balance()).toBe(0);

      expect(await left.client.transaction(() => left.client.getGrain(Account, x).balance())).toBe(200);
    });

    it('a stale reader beside a two-phase transaction aborts it, and nothing is applied', async () => {
      const left = await s.start(1);
      const right = await s.start(1);
      const [x, a, b] = [s.key('x'), s.key('a'), s.key('b')];
      await fund(left, { [x]: 100, [a]: 10, [b]: 0 });
      expect(await left.client.getGrain(Account, x).balance()).toBe(100);
      await right.client.transaction(() => right.client.getGrain(Account, x).withdraw(100));
      const err = await abortedWith(left.client.transaction(async () => {
        if ((await left.client.getGrain(Account, x).balance()) < 50) throw new Error('x is too low');
        await left.client.getGrain(Account, a).withdraw(10);
        await left.client.getGrain(Account, b).deposit(10);
      }));
      expect(err.cause).toMatchObject({ code: 'transaction_conflict' });
      expect([await right.client.getGrain(Account, a).balance(), await right.client.getGrain(Account, b).balance()]).toEqual([10, 0]);
    });
  });
}
