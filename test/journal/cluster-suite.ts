/**
 * What journaled grains must do on a cluster of silos over one storage, beyond what a client
 * sees of one grain: racing activations, crashed silos, a crash between an append and its
 * snapshot, journals written by older code, projections. Runs on memory, dynalite and
 * DynamoDB Local.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainError, InconsistentStateError, JournaledGrain, TestCluster, memoryCluster, registerJournalPublisher, type JournalPublication, type StorageProvider } from 'granary';
import { grainId, journalTestHooks } from 'granary/internal';
import { JLedger, journalTestGrains } from './grains.js';

export interface JournalHost {
  storage: StorageProvider;
  close?(): Promise<void>;
}

let seq = 0;
const fresh = (label: string) => `${label}-${Date.now().toString(36)}-${++seq}`;

/** Version 1 of a note's events: `{ text }`. */
class NoteV1 extends JournaledGrain<{ lines: string[] }, { text: string }> {
  static grainType = 'JNote';
  static override snapshotEvery = 2;
  protected override initialState() { return { lines: [] as string[] }; }
  protected override apply(s: { lines: string[] }, e: { text: string }) { s.lines.push(e.text); }
  async write(text: string): Promise<number> { this.raiseEvent({ text }); await this.confirmEvents(); return this.version; }
}

/** Version 2: `{ body, words }`; v1 events are upcast, and v1 snapshots (another state shape) are not used. */
type NoteV2Event = { body: string; words: number };
class NoteV2 extends JournaledGrain<{ entries: { body: string; words: number }[] }, NoteV2Event> {
  static grainType = 'JNote';
  static override snapshotEvery = 2;
  static override eventVersion = 2;
  protected override initialState() { return { entries: [] as NoteV2Event[] }; }
  protected override apply(s: { entries: NoteV2Event[] }, e: NoteV2Event) { s.entries.push(e); }
  protected override upcast(e: unknown, from: number): NoteV2Event {
    if (from !== 1) throw new Error(`no upcast from eventVersion ${from}`);
    const text = (e as { text: string }).text;
    return { body: text, words: text.split(/\s+/).filter(Boolean).length };
  }
  async write(body: string): Promise<number> { this.raiseEvent({ body, words: body.split(' ').length }); await this.confirmEvents(); return this.version; }
  async entries(): Promise<NoteV2Event[]> { return this.state.entries; }
  async events(): Promise<NoteV2Event[]> { return this.retrieveConfirmedEvents(0, this.version); }
}

export function journalClusterSuite(name: string, setup: () => Promise<JournalHost>): void {
  describe(`journaled grains on a cluster: ${name}`, () => {
    let host: JournalHost;
    const clusters: TestCluster[] = [];
    const start = async (silos = 2, grains: TestCluster extends never ? never : Parameters<typeof TestCluster.start>[0]['grains'] = journalTestGrains) => {
      const c = await TestCluster.start({ silos, grains, storage: host.storage, cluster: memoryCluster({ name: fresh('journal') }) });
      clusters.push(c);
      return c;
    };
    beforeAll(async () => { host = await setup(); });
    afterAll(async () => {
      await Promise.all(clusters.map((c) => c.stop()));
      await host?.close?.();
    });

    it('twin activations (two clusters on one storage): exactly one append wins; the loser reloads and its retry succeeds', async () => {
      const key = fresh('twin');
      const [a, b] = [await start(1), await start(1)];
      const ga = a.client.getGrain(JLedger, key);
      const gb = b.client.getGrain(JLedger, key);
      await ga.credit(1n);
      await gb.view(); // both activations now hold version 1
      const results = await Promise.allSettled([ga.credit(10n), gb.credit(20n)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(InconsistentStateError);
      const loser = results[0]!.status === 'rejected' ? ga : gb;
      // The loser holds the stored truth already: its retry appends after the winner's event.
      expect((await loser.view()).version).toBe(2);
      const retried = await loser.credit(100n);
      expect(retried.version).toBe(3);
      expect(retried.balance).toBe(1n + 100n + ((won[0] as PromiseFulfilledResult<{ balance: bigint }>).value.balance - 1n));
      expect(await host.storage.journal!.readEvents(grainId('JLedger', key), 0, 3).then((bs) => bs.reduce((n, b) => n + b.events.length, 0))).toBe(3);
    });

    it('a killed silo loses only unconfirmed events; the grain reactivates elsewhere from its journal', async () => {
      const c = await start(3);
      const key = fresh('kill');
      const g = c.client.getGrain(JLedger, key);
      for (let i = 0; i < 7; i++) await g.credit(2n);
      await g.creditTentatively(1_000n);
      const hosting = c.silos.find((s) => s.activationCount('JLedger') > 0)!;
      await c.killSilo(hosting);
      await c.settle();
      expect(await g.view()).toMatchObject({ balance: 14n, version: 7, credits: 7 });
      expect(await g.credit(1n)).toEqual({ balance: 15n, version: 8 });
    });

    it('a crash between an append and its snapshot loses no event', async () => {
      const c = await start(2);
      const key = fresh('snapcrash');
      const g = c.client.getGrain(JLedger, key);
      for (let i = 0; i < 4; i++) await g.credit(1n);
      let reached!: () => void;
      const atSnapshot = new Promise<void>((r) => { reached = r; });
      let release!: (err: Error) => void;
      journalTestHooks.beforeSnapshot = (grain, version) => {
        if (!grain.endsWith(key) || version !== 5) return;
        reached();
        return new Promise<void>((_, reject) => { release = reject; });
      };
      try {
        const fifth = g.credit(1n).catch((e: unknown) => e);
        await atSnapshot; // the fifth event is appended; its snapshot is not written yet
        const hosting = c.silos.find((s) => s.activationCount('JLedger') > 0)!;
        await c.killSilo(hosting);
        release(new Error('the silo died'));
        await fifth;
      } finally {
        delete journalTestHooks.beforeSnapshot;
      }
      await c.settle();
      const loaded = await host.storage.journal!.load(grainId('JLedger', key));
      expect(loaded.snapshot).toBeUndefined();
      expect(await g.view()).toMatchObject({ balance: 5n, version: 5 });
      for (let i = 0; i < 5; i++) await g.credit(1n);
      // The reactivated grain found no snapshot: it writes one at its next confirm.
      const later = await host.storage.journal!.load(grainId('JLedger', key), 5);
      expect(later.snapshot?.version).toBe(6);
      expect(later.batches.map((b) => b.from)).toEqual([6, 7, 8, 9]);
    });

    it('snapshots bound replay: activation reads the latest snapshot and only the events after it', async () => {
      const c = await start(1);
      const key = fresh('bounded');
      const g = c.client.getGrain(JLedger, key);
      for (let i = 0; i < 13; i++) await g.credit(1n);
      const loaded = await host.storage.journal!.load(grainId('JLedger', key), 5);
      expect(loaded.snapshot?.version).toBe(10);
      expect(loaded.batches.map((b) => b.from)).toEqual([10, 11, 12]);
      await g.bye();
      expect(await g.view()).toMatchObject({ balance: 13n, version: 13 });
    });

    it('versioned events: a journal written by the previous shape loads, upcast, in the new code', async () => {
      const key = fresh('note');
      const old = await start(1, [NoteV1]);
      const v1 = old.client.getGrain(NoteV1, key);
      await v1.write('hello world');
      await v1.write('one');
      await v1.write('a b c');
      await old.stop();
      const next = await start(1, [NoteV2]);
      const v2 = next.client.getGrain(NoteV2, key);
      const expected = [{ body: 'hello world', words: 2 }, { body: 'one', words: 1 }, { body: 'a b c', words: 3 }];
      expect(await v2.entries()).toEqual(expected);
      expect(await v2.events()).toEqual(expected);
      expect(await v2.write('new shape')).toBe(4);
      const stored = await host.storage.journal!.readEvents(grainId('JNote', key), 0, 4);
      expect(stored.map((b) => b.eventVersion)).toEqual([1, 1, 1, 2]);
      // Old code meeting a newer journal refuses to guess.
      await next.stop();
      const stale = await start(1, [NoteV1]);
      const err = await stale.client.getGrain(NoteV1, key).write('x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      expect((err as Error).message).toContain('eventVersion 2');
    });

    it('projections: every confirmed event goes to the registered publishers with the stream namespace and key', async () => {
      const c = await start(2);
      const key = fresh('proj');
      const seen: JournalPublication[] = [];
      const off = registerJournalPublisher((p) => { if (p.key === key) seen.push(p); });
      const offBroken = registerJournalPublisher(() => { throw new Error('a broken publisher fails no call'); });
      try {
        const g = c.client.getGrain(JLedger, key);
        await g.credit(1n);
        await g.creditMany(2, 3n);
        await g.creditTentatively(9n); // never confirmed: never published
        expect(seen.map((p) => [p.namespace, p.key, p.events.map((e) => e.version)])).toEqual([
          ['ledgers', key, [0]],
          ['ledgers', key, [1, 2]],
        ]);
        expect(seen[1]!.events[0]!.event).toMatchObject({ type: 'credit', amount: 3n });
        expect(seen[0]!.grain).toEqual(grainId('JLedger', key));
      } finally {
        off();
        offBroken();
      }
    });
  });
}
