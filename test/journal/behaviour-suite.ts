/**
 * The journaled-grain behaviour suite, seen only through a `GrainClient`: it runs unchanged on
 * TestCluster (memory, dynalite, DynamoDB Local) and on the Worker (Durable Objects in workerd).
 */
import { describe, expect, it } from 'vitest';
import { GrainClient, GrainError, InvalidArgumentError } from 'granary';
import { OrderHistory, ShoppingCart } from '../../grains/index.js';
import { JLedger, JTally, JTxnCaller } from './grains.js';

export function describeJournalBehaviour(host: string, client: () => GrainClient, unique = ''): void {
  const k = (key: string) => `${key}${unique}`;

  describe(`${host}: journaled grains`, () => {
    it('apply is how state changes; version counts confirmed events; BigInt, Date and Map survive', async () => {
      const g = client().getGrain(JLedger, k('model'));
      expect(await g.view()).toMatchObject({ balance: 0n, version: 0, credits: 0 });
      const at = new Date('2026-05-01T10:00:00Z');
      expect(await g.credit(10n ** 20n, at, { by: 'ann' })).toEqual({ balance: 10n ** 20n, version: 1 });
      expect(await g.credit(5n)).toEqual({ balance: 10n ** 20n + 5n, version: 2 });
      const v = await g.view();
      expect(v.tags).toEqual(new Map([['by', 'ann']]));
      expect(v.last).toEqual(new Date(0));
      const [first] = await g.events(0, 1);
      expect(first).toEqual({ type: 'credit', amount: 10n ** 20n, at, tags: new Map([['by', 'ann']]) });
    });

    it('raiseEvents appends a batch as one; retrieveConfirmedEvents returns [from, to) in order', async () => {
      const g = client().getGrain(JLedger, k('batch'));
      await g.credit(1n);
      expect(await g.creditMany(7, 2n)).toBe(8);
      expect((await g.view()).balance).toBe(15n);
      const events = await g.events(2, 6);
      expect(events).toHaveLength(4);
      expect(events.every((e) => e.type === 'credit' && e.amount === 2n)).toBe(true);
      expect(await g.events(8, 8)).toEqual([]);
      const bad = await g.events(3, 99).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(InvalidArgumentError);
    });

    it('an apply that throws rejects the call and leaves the grain at its last confirmed state', async () => {
      const g = client().getGrain(JLedger, k('boom'));
      await g.credit(3n);
      const err = await g.creditThenBoom(100n).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      expect((err as Error).message).toContain('apply refused a boom event');
      expect(await g.view()).toMatchObject({ balance: 3n, version: 1, credits: 1 });
      expect(await g.credit(1n)).toEqual({ balance: 4n, version: 2 });
      expect(await g.events(0, 2)).toHaveLength(2);
    });

    it('an event that cannot be encoded is refused before anything is written', async () => {
      const g = client().getGrain(JLedger, k('unencodable'));
      await g.credit(1n);
      const err = await g.unencodable().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(/cannot be encoded.*nothing was raised or written/);
      expect(await g.view()).toMatchObject({ balance: 1n, version: 1 });
    });

    it('raised but unconfirmed events change only this activation, and are gone when it ends', async () => {
      const g = client().getGrain(JLedger, k('tentative'));
      await g.credit(1n);
      expect(await g.creditTentatively(50n)).toEqual({ balance: 51n, version: 1 });
      await g.bye();
      expect(await g.view()).toMatchObject({ balance: 1n, version: 1 });
    });

    it('writeState and clearState are refused: state changes only through events', async () => {
      const err = await client().getGrain(JLedger, k('direct')).writeDirectly().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toContain('raiseEvent');
    });

    it('a reactivated grain replays its latest snapshot and the events after it', async () => {
      const g = client().getGrain(JLedger, k('replay'));
      for (let i = 1; i <= 12; i++) await g.credit(BigInt(i), new Date(i * 1000), { [`t${i % 3}`]: String(i) });
      const before = await g.view();
      await g.bye();
      const after = await g.view();
      expect(after).toEqual(before);
      expect(after).toMatchObject({ balance: 78n, version: 12, credits: 12, last: new Date(12_000) });
    });

    it('interleaved turns each confirm their own events; none is lost', async () => {
      const g = client().getGrain(JTally, k('tally'));
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => g.add(i + 1)));
      expect(results.every((r) => r.version >= 1 && r.version <= 20)).toBe(true);
      expect(await g.total()).toEqual({ total: 210, version: 20 });
    });

    it('journaled grains do not take part in transactions: refused with transaction_not_allowed, nothing appended', async () => {
      const g = client().getGrain(JLedger, k('txn'));
      await g.credit(1n);
      const own = await g.creditInTransaction(5n).catch((e: unknown) => e) as GrainError;
      expect(own).toBeInstanceOf(GrainError);
      expect(causeCode(own)).toBe('transaction_not_allowed');
      const called = await client().getGrain(JTxnCaller, k('txn')).creditInside(k('txn')).catch((e: unknown) => e) as GrainError;
      expect(causeCode(called)).toBe('transaction_not_allowed');
      expect(await g.view()).toMatchObject({ balance: 1n, version: 1 });
    });

    it('sample: a shopping cart (write side) feeds an order history (read side) through its events', async () => {
      const customer = k('ann');
      const cart = client().getGrain(ShoppingCart, customer);
      expect(await cart.add('apple', 2)).toBe(2);
      expect(await cart.add('pear', 1)).toBe(1);
      await cart.remove('pear');
      expect(await cart.add('apple', 1)).toBe(3);
      const first = await cart.checkout();
      await cart.add('fig', 4);
      const second = await cart.checkout();
      expect(await cart.items()).toEqual({});
      const history = client().getGrain(OrderHistory, customer);
      const orders = await history.orders();
      expect(orders.map((o) => o.orderId)).toEqual([first, second]);
      expect(orders[0]!.lines).toEqual([['apple', 3]]);
      expect(orders[1]!.lines).toEqual([['fig', 4]]);
      expect(orders[0]!.at).toBeInstanceOf(Date);
      // Catching up again changes nothing: the read side counts by version.
      expect(await history.catchUp()).toBe(2);
      const empty = await cart.checkout().catch((e: unknown) => e);
      expect(empty).toBeInstanceOf(InvalidArgumentError);
    });
  });
}

/** The code of an error, or of the error that caused it (a transaction's abort carries its cause). */
function causeCode(err: GrainError): string | undefined {
  if (err.code === 'transaction_not_allowed') return err.code;
  const cause = (err as { cause?: unknown }).cause as GrainError | undefined;
  return cause?.code ?? ((err.data as { cause?: { code?: string } } | undefined)?.cause?.code);
}
