/** Journaled grains on clusters over memory storage, and the checks that need no storage at all. */
import { describe, expect, it } from 'vitest';
import { GrainError, JournaledGrain, Silo, SiloUnavailableError, memoryStorage, type StorageProvider } from 'granary';
import { journalClusterSuite } from './cluster-suite.js';
import { JLedger } from './grains.js';

journalClusterSuite('memory', async () => ({ storage: memoryStorage() }));

describe('journaled grain classes', () => {
  it('bad statics fail the silo start with a TypeError naming the fix', async () => {
    class BadEvery extends JournaledGrain<object, object> {
      static grainType = 'BadEvery';
      static override snapshotEvery = -1;
      protected override apply() {}
    }
    class InTxn extends JournaledGrain<object, object> {
      static grainType = 'InTxn';
      static transactions = { go: 'join' } as const;
      protected override apply() {}
      async go(): Promise<void> {}
    }
    await expect(Silo.start({ grains: [BadEvery] })).rejects.toThrow(/snapshotEvery must be a whole number/);
    await expect(Silo.start({ grains: [InTxn] })).rejects.toThrow(/cannot take part in transactions/);
  });

  it('transactionalState on a journaled grain is refused with transaction_not_allowed', async () => {
    class TxnState extends JournaledGrain<object, object> {
      static grainType = 'JTxnState';
      readonly balance = this.transactionalState('balance', () => 0);
      protected override apply() {}
      async get(): Promise<number> { return this.balance.read(); }
    }
    const silo = await Silo.start({ grains: [TxnState] });
    try {
      const err = await silo.getGrain(TxnState, 'a').get().catch((e: unknown) => e) as GrainError;
      expect(err).toBeInstanceOf(GrainError);
      expect(err.code).toBe('transaction_not_allowed');
      expect(err.message).toContain('journaled grains do not take part in transactions');
    } finally {
      await silo.stop();
    }
  });

  it('none of JournaledGrain\'s own members is callable through a reference', async () => {
    const silo = await Silo.start({ grains: [JLedger] });
    try {
      expect([...silo.types.get('JLedger')!.methods].sort()).toEqual(
        ['bye', 'credit', 'creditInTransaction', 'creditMany', 'creditTentatively', 'creditThenBoom', 'events', 'unencodable', 'view', 'writeDirectly']);
    } finally {
      await silo.stop();
    }
  });

  it('a storage that keeps no journals fails activation with a configuration error naming the fix', async () => {
    const plain = memoryStorage();
    const noJournal: StorageProvider = { name: 'plain', read: plain.read, write: plain.write, clear: plain.clear };
    const silo = await Silo.start({ grains: [JLedger], storage: noJournal });
    try {
      const err = await silo.getGrain(JLedger, 'x').view().catch((e: unknown) => e) as GrainError;
      expect(err).toBeInstanceOf(GrainError);
      expect(err.code).toBe('configuration_error');
      expect(err.message).toContain('keeps no journals');
    } finally {
      await silo.stop();
    }
  });
});

describe('an append whose outcome is unknown', () => {
  it('rejects the call; the activation reloads the stored truth before its next call', async () => {
    const real = memoryStorage();
    let loseAnswer = false;
    // The append lands, but its answer is lost (a network failure after the write).
    const storage: StorageProvider = {
      ...real,
      name: 'memory-losing-answers',
      read: real.read, write: real.write, clear: real.clear,
      journal: {
        ...real.journal!,
        async append(id, batch) {
          await real.journal!.append(id, batch);
          if (loseAnswer) { loseAnswer = false; throw new SiloUnavailableError('the answer was lost; the append may or may not have applied'); }
        },
      },
    };
    const silo = await Silo.start({ grains: [JLedger], storage });
    try {
      const g = silo.getGrain(JLedger, 'unknown');
      await g.credit(1n);
      loseAnswer = true;
      expect(await g.credit(2n).catch((e: unknown) => e)).toBeInstanceOf(SiloUnavailableError);
      // The event did land: the next call sees it (reloaded), and appends after it.
      expect(await g.view()).toMatchObject({ balance: 3n, version: 2 });
      expect(await g.credit(4n)).toEqual({ balance: 7n, version: 3 });
    } finally {
      await silo.stop();
    }
  });
});
