/** Storage writes per transaction: what the protocol costs (and the benchmark reports). */
import { describe, expect, it } from 'vitest';
import type { StorageProvider } from 'granary';
import { Account, Bank, Ledger } from '../../grains/index.js';
import { Pair, Probe } from './grains.js';
import { fund, type SuiteContext } from './support.js';

export function countWrites(inner: StorageProvider): { storage: StorageProvider; writes(): number } {
  let writes = 0;
  return {
    writes: () => writes,
    storage: {
      name: `${inner.name}+count`,
      read: (id, n) => inner.read(id, n),
      write: (id, n, p, e) => { writes++; return inner.write(id, n, p, e); },
      clear: (id, n, e) => { writes++; return inner.clear(id, n, e); },
    },
  };
}

export function writeCounts(s: SuiteContext): void {
  describe('storage writes per transaction', () => {
    it('transfer: 3 (two prepares + the record); one-phase: 1; read only: 0; two states of one grain: 3; transfer + ledger: 4', async () => {
      const counted = countWrites(s.storage());
      const c = await s.start(2, counted.storage);
      const [a, b, p, pair, bank] = [s.key('a'), s.key('b'), s.key('p'), s.key('pair'), s.key('bank')];
      await fund(c, { [a]: 100, [b]: 100 });
      await c.client.getGrain(Probe, p).value();
      await c.client.getGrain(Pair, pair).both();
      await c.client.getGrain(Ledger, a).entries();
      await c.client.getGrain(Bank, bank).total([]);
      const cost = async (fn: () => Promise<unknown>) => {
        const before = counted.writes();
        await fn();
        return counted.writes() - before;
      };
      expect(await cost(() => c.client.transaction(async () => {
        await c.client.getGrain(Account, a).withdraw(1);
        await c.client.getGrain(Account, b).deposit(1);
      }))).toBe(3);
      expect(await cost(() => c.client.getGrain(Probe, p).createAdd(1))).toBe(1);
      expect(await cost(() => c.client.getGrain(Account, a).balance())).toBe(0);
      expect(await cost(() => c.client.transaction(async () => {
        await c.client.getGrain(Account, a).balance();
        await c.client.getGrain(Account, b).balance();
      }))).toBe(0);
      expect(await cost(() => c.client.getGrain(Pair, pair).move(1))).toBe(3);
      expect(await cost(() => c.client.getGrain(Bank, bank).transfer(a, b, 1, 'w1'))).toBe(4);
      // Later transactions fold the earlier committed pending values in: still 3.
      expect(await cost(() => c.client.transaction(async () => {
        await c.client.getGrain(Account, b).withdraw(1);
        await c.client.getGrain(Account, a).deposit(1);
      }))).toBe(3);
    });
  });
}
