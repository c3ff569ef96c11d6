/** The per-method transaction options, one by one (Orleans meanings). */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, TransactionAbortedError } from './imports.js';
import { Probe } from './grains.js';
import { abortedWith, type SuiteContext } from './support.js';

export function options(s: SuiteContext): void {
  describe('method options', () => {
    it("'join' outside a transaction rejects with InvalidArgumentError, code transaction_required", async () => {
      const c = await s.start(2);
      const err = await c.client.getGrain(Probe, s.key('p')).joinAdd(1).catch((e) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.code).toBe('transaction_required');
    });

    it("'join' inside a transaction commits and aborts with it", async () => {
      const c = await s.start(2);
      const p = c.client.getGrain(Probe, s.key('p'));
      await c.client.transaction(() => p.joinAdd(2));
      await abortedWith(c.client.transaction(async () => { await p.joinAdd(5); throw new Error('no'); }));
      expect(await p.value()).toBe(2);
    });

    it("'create' runs in its own transaction, outside or inside another", async () => {
      const c = await s.start(2);
      const [p, q] = [c.client.getGrain(Probe, s.key('p')), c.client.getGrain(Probe, s.key('q'))];
      await p.createAdd(3); // outside: committed on return
      expect(await p.value()).toBe(3);
      // Inside: independent, so it stays committed when the outer transaction aborts.
      await abortedWith(c.client.transaction(async () => {
        await q.joinAdd(1);
        await p.createAdd(4);
        throw new Error('outer fails');
      }));
      expect(await p.value()).toBe(7);
      expect(await q.value()).toBe(0);
      // Its own failure aborts its own transaction: nothing of it stays.
      const err = await p.createThrow(100).catch((e) => e);
      expect(err).toBeInstanceOf(TransactionAbortedError);
      expect(err.message).toContain('create failed');
      expect(await p.value()).toBe(7);
    });

    it("'createOrJoin' creates outside, joins inside", async () => {
      const c = await s.start(2);
      const p = c.client.getGrain(Probe, s.key('p'));
      await p.createOrJoinAdd(2);
      expect(await p.value()).toBe(2);
      await abortedWith(c.client.transaction(async () => { await p.createOrJoinAdd(5); throw new Error('no'); }));
      expect(await p.value()).toBe(2);
      await c.client.transaction(() => p.createOrJoinAdd(5));
      expect(await p.value()).toBe(7);
    });

    it("'supported' (and no option) carries a transaction on, but creates none", async () => {
      const c = await s.start(2);
      const [p, q] = [c.client.getGrain(Probe, s.key('p')), c.client.getGrain(Probe, s.key('q'))];
      expect(await p.seesTxn()).toBe(false);
      expect(await c.client.transaction(() => p.seesTxn())).toBe(true);
      const outside = await p.supportedAdd(1).catch((e) => e);
      expect(outside).toBeInstanceOf(InvalidArgumentError);
      expect(outside.code).toBe('transaction_required');
      expect((await p.plainRead().catch((e) => e)).code).toBe('transaction_required');
      await c.client.transaction(async () => { await p.supportedAdd(1); await p.supportedCall(keyOf(q), 2); });
      expect(await p.value()).toBe(1);
      expect(await q.value()).toBe(2);
      await abortedWith(c.client.transaction(async () => { await p.supportedCall(keyOf(q), 10); throw new Error('no'); }));
      expect(await q.value()).toBe(2);
    });

    it("'notAllowed' rejects inside a transaction and runs outside", async () => {
      const c = await s.start(2);
      const p = c.client.getGrain(Probe, s.key('p'));
      expect(await p.notAllowedPing()).toBe('pong');
      const err = await abortedWith(c.client.transaction(() => p.notAllowedPing()));
      expect(err.cause).toBeInstanceOf(InvalidArgumentError);
      expect((err.cause as InvalidArgumentError).code).toBe('transaction_not_allowed');
    });

    it("'suppress' runs outside the transaction and does not carry it on", async () => {
      const c = await s.start(2);
      const [p, q] = [c.client.getGrain(Probe, s.key('p')), c.client.getGrain(Probe, s.key('q'))];
      expect(await c.client.transaction(() => p.suppressSeesTxn())).toBe(false);
      // Its own state access happens outside the transaction...
      const own = await abortedWith(c.client.transaction(() => p.suppressAdd(1)));
      expect((own.cause as InvalidArgumentError).code).toBe('transaction_required');
      // ...and so do the calls it makes: a 'join' method called from it sees no transaction.
      const sub = await abortedWith(c.client.transaction(() => p.suppressCall(keyOf(q), 1)));
      expect((sub.cause as InvalidArgumentError).code).toBe('transaction_required');
      expect(await q.value()).toBe(0);
    });
  });
}

function keyOf(ref: { toString(): string }): string {
  // `GrainRef(Probe/key)` → `key`
  return String(ref).replace(/^GrainRef\(Probe\//, '').replace(/\)$/, '');
}
