/**
 * Exactly-once effects for journaled grains (issue 15, item 1; runtime/call-log.ts): each
 * appended batch carries the grain's call record in the same atomic write as its events. A
 * call in flight when its silo dies is re-sent with its id; when its append committed, the
 * re-sent call replays from the state before it (its committed confirms skipped) and answers
 * the same, with its events in the journal once. On TestCluster with memory storage and
 * with DynamoDB (dynalite).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Grain, JournaledGrain, TestCluster, dynamoStorage, memoryStorage, type DynamoStorage, type StorageProvider } from 'granary';
import { CallLog, grainId, type JournalBatch } from 'granary/internal';
import { holdingStorage } from './holding-storage.js';
import { startDynalite, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';

interface Added { by: number }

/** A journaled counter: one event per add, a snapshot every 3 events (so the record rides in snapshots too). */
class JTally extends JournaledGrain<{ n: number }, Added> {
  static grainType = 'JTally';
  static override snapshotEvery = 3;
  protected override initialState() { return { n: 0 }; }
  protected override apply(s: { n: number }, e: Added): void { s.n += e.by; }
  async add(by: number): Promise<number> {
    this.raiseEvent({ by });
    await this.confirmEvents();
    return this.state.n;
  }
  /** Two confirms in one call. */
  async addTwice(by: number): Promise<number> {
    this.raiseEvent({ by });
    await this.confirmEvents();
    this.raiseEvent({ by });
    await this.confirmEvents();
    return this.state.n;
  }
  async fail(by: number): Promise<never> {
    this.raiseEvent({ by });
    await this.confirmEvents();
    throw new Error(`failed after adding ${by}`);
  }
  async get(): Promise<{ n: number; version: number }> { return { n: this.state.n, version: this.version }; }
}

/** A plain grain that calls a journaled one, then writes its own state. */
class JRelay extends Grain<{ forwarded: number }> {
  static grainType = 'JRelay';
  protected override initialState() { return { forwarded: 0 }; }
  async forward(target: string, by: number): Promise<number> {
    const n = await this.getGrain(JTally, target).add(by);
    this.state.forwarded++;
    await this.writeState();
    return n;
  }
  async forwarded(): Promise<number> { return this.state.forwarded; }
}

/** A state over REPLAY_STATE_LIMIT: its calls' records cannot replay them, so each outcome is stored before the answer. */
class JBig extends JournaledGrain<{ n: number; pad: string }, Added> {
  static grainType = 'JBig';
  static override snapshotEvery = 0;
  protected override initialState() { return { n: 0, pad: 'p'.repeat(70_000) }; }
  protected override apply(s: { n: number; pad: string }, e: Added): void { s.n += e.by; }
  async add(by: number): Promise<number> {
    this.raiseEvent({ by });
    await this.confirmEvents();
    return this.state.n;
  }
}


/** Every stored event of `key`, from version 0 (a snapshot hides none). */
async function storedEvents(storage: StorageProvider, key: string): Promise<number[]> {
  const j = storage.journal!;
  const id = grainId('JTally', key);
  const { snapshot, batches } = await j.load(id);
  const end = batches.length > 0 ? batches.at(-1)!.from + batches.at(-1)!.events.length : snapshot?.version ?? 0;
  const all = end === 0 ? [] : await j.readEvents(id, 0, end);
  return all.flatMap((b) => b.events.map((e) => (JSON.parse(e) as Added).by));
}

/** The call record stored with the journal's latest batch (or its snapshot). */
async function storedRecord(storage: StorageProvider, key: string): Promise<string | undefined> {
  const { snapshot, batches } = await storage.journal!.load(grainId('JTally', key));
  const withCalls = batches.filter((b: JournalBatch) => b.calls !== undefined);
  return withCalls.at(-1)?.calls ?? snapshot?.calls;
}

const backends: [string, (() => Promise<StorageProvider>) | 'dynalite'][] = [
  ['memory', async () => memoryStorage()],
  ['dynalite', 'dynalite'],
];

for (const [backend, kind] of backends) {
  describe(`journaled grains on ${backend}: a call in flight when its silo dies takes effect once`, () => {
    let db: DynamoEndpoint | undefined;
    const opened: DynamoStorage[] = [];
    let cluster: TestCluster | undefined;
    let seq = 0;
    beforeAll(async () => {
      if (kind === 'dynalite') db = await startDynalite();
    }, 60_000);
    afterEach(async () => { await cluster?.stop(); cluster = undefined; });
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close()));
      await db?.close();
    });

    async function open(): Promise<StorageProvider> {
      if (kind !== 'dynalite') return kind();
      const s = dynamoStorage({ table: uniqueTable(), endpoint: db!.endpoint, region: 'local' });
      opened.push(s);
      await s.ensureTable();
      return s;
    }

    async function start(silos = 2) {
      const inner = await open();
      const storage = holdingStorage(inner);
      cluster = await TestCluster.start({ silos, grains: [JTally, JRelay, JBig], storage });
      return { c: cluster, storage, key: `k${++seq}` };
    }

    function hostOf(c: TestCluster, grainKey: string): number {
      return c.silos.findIndex((s) => s.catalog.get(grainKey) !== undefined);
    }

    it('the silo died after the append committed: the re-sent call replays and answers the same; the events are stored once', async () => {
      const { c, storage, key } = await start();
      await c.silos[0]!.getGrain(JTally, key).get();
      const tally = c.client.getGrain(JTally, key);
      expect(await tally.add(1)).toBe(1);

      const held = storage.hold(`JTally/${key}`, 'after');
      const answer = tally.add(5);
      await held.reached;
      await c.killSilo(0);
      expect(await answer).toBe(6);
      held.release();
      expect(await tally.get()).toEqual({ n: 6, version: 2 });
      expect(await storedEvents(storage, key)).toEqual([1, 5]);
      // The grain goes on from there: later calls append after the replayed one.
      expect(await tally.add(2)).toBe(8);
      expect(await storedEvents(storage, key)).toEqual([1, 5, 2]);
    });

    it('the silo died before the append: the re-sent call runs once on another silo, and the dead one\'s late append is refused', async () => {
      const { c, storage, key } = await start();
      await c.silos[0]!.getGrain(JTally, key).get();
      const tally = c.client.getGrain(JTally, key);
      await tally.add(1);

      const held = storage.hold(`JTally/${key}`, 'before');
      const answer = tally.add(5);
      await held.reached;
      await c.killSilo(0);
      expect(await answer).toBe(6);
      held.release(); // the dead activation's append, from the version it saw
      await new Promise((r) => setTimeout(r, 20));
      expect(await tally.get()).toEqual({ n: 6, version: 2 });
      expect(await storedEvents(storage, key)).toEqual([1, 5]);
    });

    it('two confirms in one call, the silo dead after the first: the replay skips the first and appends the second', async () => {
      const { c, storage, key } = await start();
      await c.silos[0]!.getGrain(JTally, key).get();
      const tally = c.client.getGrain(JTally, key);
      await tally.add(10);
      const held = storage.hold(`JTally/${key}`, 'after');
      const answer = tally.addTwice(2);
      await held.reached;
      await c.killSilo(0);
      expect(await answer).toBe(14);
      held.release();
      expect(await tally.get()).toEqual({ n: 14, version: 3 });
      expect(await storedEvents(storage, key)).toEqual([10, 2, 2]);
    });

    it('a method that threw after its append committed: the re-sent call gets the same error, and the event is stored once', async () => {
      const { c, storage, key } = await start();
      await c.silos[0]!.getGrain(JTally, key).get();
      const tally = c.client.getGrain(JTally, key);
      const held = storage.hold(`JTally/${key}`, 'after');
      const answer = tally.fail(3);
      await held.reached;
      await c.killSilo(0);
      await expect(answer).rejects.toThrow('failed after adding 3');
      held.release();
      expect(await tally.get()).toEqual({ n: 3, version: 1 });
      expect(await storedEvents(storage, key)).toEqual([3]);
    });

    it('a grain-to-grain call re-run by its caller\'s replay carries the same derived id: the journaled callee answers from its record', async () => {
      const { c, storage, key } = await start();
      await c.silos[0]!.getGrain(JRelay, key).forwarded();
      await c.silos[1]!.getGrain(JTally, key).get();
      const relay = c.client.getGrain(JRelay, key);
      // JTally's append commits (on silo 1); JRelay's own write is held on silo 0, which dies.
      const held = storage.hold(`JRelay/${key}`, 'before');
      const answer = relay.forward(key, 7);
      await held.reached;
      await c.killSilo(0);
      expect(await answer).toBe(7);
      held.release();
      expect(await c.client.getGrain(JTally, key).get()).toEqual({ n: 7, version: 1 });
      expect(await storedEvents(storage, key)).toEqual([7]);
      expect(await relay.forwarded()).toBe(1);
    });

    it('both silos of a grain-to-grain call die after the journaled callee committed: the callee replays, nothing is appended twice', async () => {
      const { c, storage, key } = await start(3);
      await c.silos[0]!.getGrain(JRelay, key).forwarded();
      await c.silos[1]!.getGrain(JTally, key).get();
      const held = storage.hold(`JTally/${key}`, 'after');
      const answer = c.client.getGrain(JRelay, key).forward(key, 3);
      await held.reached;
      const tallyHost = c.silos[1]!;
      await c.killSilo(0);
      await c.killSilo(tallyHost);
      expect(await answer).toBe(3);
      held.release();
      expect(await c.client.getGrain(JTally, key).get()).toEqual({ n: 3, version: 1 });
      expect(await storedEvents(storage, key)).toEqual([3]);
    });

    it('the stored batch records a completed call: its id and its answer; a new activation loads the record', async () => {
      const { c, storage, key } = await start();
      const tally = c.client.getGrain(JTally, key);
      expect(await tally.add(4)).toBe(4);
      expect(await tally.add(5)).toBe(9);
      // The first call's outcome joined the record and the second append stored it; the second is still open.
      const text = (await storedRecord(storage, key))!;
      const log = CallLog.parse(text);
      expect(log.ids()).toHaveLength(2);
      const [first, second] = log.ids();
      expect(log.outcome(first!, {}, `JTally/${key}.add`)).toEqual({ ok: true, value: 4 });
      expect(log.outcome(second!, {}, `JTally/${key}.add`)).toBeUndefined();
      expect(log.replayOf(second!)).toEqual({ writes: 1, prev: '{"n":4}', overtaken: false });
      // A snapshot (every 3 events) carries the record as of its version.
      expect(await tally.add(1)).toBe(10);
      const loaded = await storage.journal!.load(grainId('JTally', key), 3);
      expect(loaded.snapshot?.version).toBe(3);
      expect(CallLog.parse(loaded.snapshot!.calls!).outcome(second!, {}, 'x')).toEqual({ ok: true, value: 9 });
      // A new activation (after every silo that hosted it is gone) loads the record from the snapshot.
      const host = hostOf(c, `JTally/${key}`);
      await c.killSilo(host);
      expect(await tally.get()).toEqual({ n: 10, version: 3 });
      expect(await tally.add(2)).toBe(12);
      const after = CallLog.parse((await storedRecord(storage, key))!);
      expect(after.outcome(second!, {}, 'x')).toEqual({ ok: true, value: 9 });
      expect(after.size).toBe(4);
    });

    it('a state over the replay limit: each call\'s outcome is stored in the journal before its answer, and nothing in the state table', async () => {
      const { c, storage, key } = await start();
      const big = c.client.getGrain(JBig, key);
      expect(await big.add(1)).toBe(1);
      expect(await big.add(2)).toBe(3);
      const { snapshot, batches } = await storage.journal!.load(grainId('JBig', key));
      expect(batches).toEqual([]); // the record went into a snapshot at the journal's end
      const log = CallLog.parse(snapshot!.calls!);
      const ids = log.ids();
      expect(ids.map((id) => log.outcome(id, {}, 'x'))).toEqual([{ ok: true, value: 1 }, { ok: true, value: 3 }]);
      expect(await storage.read(grainId('JBig', key), 'state')).toBeUndefined();
    });
  });
}
