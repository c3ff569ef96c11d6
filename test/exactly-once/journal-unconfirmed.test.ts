/**
 * Exactly-once for a journaled call that raised events and ended without confirming them
 * (runtime/features/journal/journal-state.ts, `recordFor`): its events stay queued, and the
 * next confirm — another call's — appends them. That batch must also record the first
 * call's id and outcome, in the same atomic write, or a re-send of the call (same id) runs
 * it again and raises its events a second time (found by the journal simulation, seeds 8
 * and 69: `raiseThenFail(u2-4)`'s event at journal positions 8 and 60).
 *
 * On TestCluster over memoryStorage. The re-send is sent the way the runtime re-sends a
 * call: through a silo's router with the call's id, to a new activation after the first
 * one's silo died.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JournaledGrain, TestCluster, memoryStorage, type StorageProvider } from 'granary';
import { CallLog, InconsistentStateError, grainId } from 'granary/internal';
import { holdingStorage } from './holding-storage.js';

interface Noted { tag: string }

/** A journal of tags: the state shows every appended event, so a duplicate shows. */
class JNotes extends JournaledGrain<{ tags: string[] }, Noted> {
  static grainType = 'JNotes';
  static override snapshotEvery = 0;
  /** Duplicates of these may start while another call waits on its append (they are answered, not queued behind it). */
  static interleave = ['raiseThenFail', 'raiseOnly'];
  protected override initialState() { return { tags: [] as string[] }; }
  protected override apply(s: { tags: string[] }, e: Noted): void { s.tags.push(e.tag); }
  async add(tag: string): Promise<number> {
    this.raiseEvent({ tag });
    await this.confirmEvents();
    return this.version;
  }
  /** Raises, then fails before confirming: the event stays queued for the next confirm. */
  async raiseThenFail(tag: string): Promise<never> {
    this.raiseEvent({ tag });
    throw new Error(`refused ${tag} before confirming`);
  }
  /** Raises and answers without confirming. */
  async raiseOnly(tag: string): Promise<string> {
    this.raiseEvent({ tag });
    return `raised ${tag} at ${this.version}`;
  }
  /** Raises and answers with its tentative state: an object the next raise changes in place. */
  async raiseAndShow(tag: string): Promise<string[]> {
    this.raiseEvent({ tag });
    return this.state.tags;
  }
  /** Confirms one event, then raises another and answers without confirming it. */
  async addThenRaise(first: string, second: string): Promise<string> {
    this.raiseEvent({ tag: first });
    await this.confirmEvents();
    this.raiseEvent({ tag: second });
    return `confirmed ${first}, raised ${second} at ${this.version}`;
  }
  async confirmed(): Promise<{ tags: string[]; version: number }> {
    return { tags: this.state.tags.slice(0, this.version), version: this.version };
  }
}

let cluster: TestCluster | undefined;
afterEach(async () => { await cluster?.stop(); cluster = undefined; });

let seq = 0;

/** Two silos; JNotes/<key> activated on silo 0, so silo 1 (the router the calls go through) survives its kill. */
async function start() {
  const storage = holdingStorage(memoryStorage());
  const c = await TestCluster.start({ silos: 2, grains: [JNotes], storage });
  cluster = c;
  const key = `n${++seq}`;
  await c.silos[0]!.getGrain(JNotes, key).confirmed();
  expect(c.silos[0]!.catalog.get(`JNotes/${key}`)).toBeDefined();
  const survivor = c.silos[1]!;
  /** A call with a chosen id, as the runtime sends it (and sends it again, with the same id, after a crash). */
  const send = (method: string, args: unknown[], id: string) => survivor.router.invoke(grainId('JNotes', key), `JNotes/${key}`, method, args, { id });
  return { c, storage, key, send, notes: c.client.getGrain(JNotes, key) };
}

/** Every stored event's tag, from version 0. */
async function storedTags(storage: StorageProvider, key: string): Promise<string[]> {
  const j = storage.journal!;
  const id = grainId('JNotes', key);
  const { batches } = await j.load(id);
  const end = batches.length > 0 ? batches.at(-1)!.from + batches.at(-1)!.events.length : 0;
  const all = end === 0 ? [] : await j.readEvents(id, 0, end);
  return all.flatMap((b) => b.events.map((e) => (JSON.parse(e) as Noted).tag));
}

/** The call record stored with the latest batch. */
async function storedRecord(storage: StorageProvider, key: string): Promise<CallLog> {
  const { batches } = await storage.journal!.load(grainId('JNotes', key));
  const calls = batches.filter((b) => b.calls !== undefined).at(-1)?.calls;
  return calls === undefined ? new CallLog() : CallLog.parse(calls);
}

describe('journaled grains: a call that raised without confirming is recorded in the batch that appends its events', () => {
  it('raised then threw; another call\'s confirm appended its event; re-sent after its silo died: answered with the first error, the event stored once', async () => {
    const { c, storage, key, send, notes } = await start();
    await expect(send('raiseThenFail', ['a'], 'call-a')).rejects.toThrow('refused a before confirming');
    // Another call's confirm takes the queued event with its own.
    expect(await notes.add('b')).toBe(2);
    expect(await storedTags(storage, key)).toEqual(['a', 'b']);
    // The batch that appended "a" records its call with the outcome, in the same write.
    const record = await storedRecord(storage, key);
    const recorded = record.outcome('call-a', {}, `JNotes/${key}.raiseThenFail`);
    expect(recorded?.ok).toBe(false);
    expect((recorded as { error: Error }).error.message).toContain('refused a before confirming');

    // The silo dies; the call comes again with its id and finds a new activation.
    await c.killSilo(0);
    await expect(send('raiseThenFail', ['a'], 'call-a')).rejects.toThrow('refused a before confirming');
    // Had it run again, its event would be queued now and this confirm would append it a second time.
    expect(await notes.add('c')).toBe(3);
    expect(await notes.confirmed()).toEqual({ tags: ['a', 'b', 'c'], version: 3 });
    expect(await storedTags(storage, key)).toEqual(['a', 'b', 'c']);
  });

  it('raised and answered without confirming: a duplicate before the batch commits and a re-send after it get the first answer; the event is stored once', async () => {
    const { c, storage, key, send, notes } = await start();
    expect(await send('raiseOnly', ['a'], 'call-a')).toBe('raised a at 0');
    // The next confirm is held before it reaches storage: "a" is in its batch, nothing committed yet.
    const held = storage.hold(`JNotes/${key}`, 'before');
    const adding = notes.add('b');
    await held.reached;
    // A duplicate delivery meanwhile is answered with the outcome, not run (it would raise "a" again).
    expect(await send('raiseOnly', ['a'], 'call-a')).toBe('raised a at 0');
    held.release();
    expect(await adding).toBe(2);
    expect(await storedTags(storage, key)).toEqual(['a', 'b']);
    expect((await storedRecord(storage, key)).outcome('call-a', {}, 'x')).toEqual({ ok: true, value: 'raised a at 0' });

    await c.killSilo(0);
    expect(await send('raiseOnly', ['a'], 'call-a')).toBe('raised a at 0');
    expect(await notes.add('c')).toBe(3);
    expect(await storedTags(storage, key)).toEqual(['a', 'b', 'c']);
  });

  it('answered with its tentative state, which the next call\'s raise changes in place: the record keeps the answer it gave', async () => {
    const { c, storage, key, send, notes } = await start();
    expect(await send('raiseAndShow', ['a'], 'call-a')).toEqual(['a']);
    expect(await notes.add('b')).toBe(2);
    expect((await storedRecord(storage, key)).outcome('call-a', {}, 'x')).toEqual({ ok: true, value: ['a'] });
    await c.killSilo(0);
    expect(await send('raiseAndShow', ['a'], 'call-a')).toEqual(['a']);
    expect(await storedTags(storage, key)).toEqual(['a', 'b']);
  });

  it('a call\'s unconfirmed event reaches a refused batch: nothing claims it committed, and the call is not answered from a record', async () => {
    const { c, storage, key, send, notes } = await start();
    await expect(send('raiseThenFail', ['a'], 'call-a')).rejects.toThrow('refused a before confirming');
    // Another writer appends first (a twin activation): this activation's next append, from version 0, loses the race.
    const twin: Noted = { tag: 'twin' };
    await storage.journal!.append(grainId('JNotes', key), { from: 0, events: [JSON.stringify(twin)], eventVersion: 1 });
    await expect(notes.add('b')).rejects.toThrow(InconsistentStateError);
    // The refused batch took "a" with it; the stored record knows nothing of the call.
    expect(await storedTags(storage, key)).toEqual(['twin']);
    expect((await storedRecord(storage, key)).has('call-a')).toBe(false);
    // The activation reloaded the stored truth: its record does not claim the call either. A
    // later batch must not record it (its event is gone).
    expect(await notes.add('c')).toBe(2);
    expect(await storedTags(storage, key)).toEqual(['twin', 'c']);
    expect((await storedRecord(storage, key)).has('call-a')).toBe(false);
    // So a re-send to a new activation runs the call again (its event was dropped, as unconfirmed events are on a crash).
    await c.killSilo(0);
    await expect(send('raiseThenFail', ['a'], 'call-a')).rejects.toThrow('refused a before confirming');
    expect(await notes.add('d')).toBe(4);
    expect(await storedTags(storage, key)).toEqual(['twin', 'c', 'a', 'd']);
  });

  it('a call that confirmed, then raised again and ended: the batch of another call appends its later event; a re-send raises neither again', async () => {
    const { c, storage, key, send, notes } = await start();
    // Its first confirm recorded the call (open); its turn's end completed it in memory, and the next batch stores that.
    expect(await send('addThenRaise', ['a', 'b'], 'call-ab')).toBe('confirmed a, raised b at 1');
    expect(await notes.add('c')).toBe(3);
    expect((await storedRecord(storage, key)).outcome('call-ab', {}, 'x')).toEqual({ ok: true, value: 'confirmed a, raised b at 1' });
    await c.killSilo(0);
    expect(await send('addThenRaise', ['a', 'b'], 'call-ab')).toBe('confirmed a, raised b at 1');
    expect(await notes.add('d')).toBe(4);
    expect(await storedTags(storage, key)).toEqual(['a', 'b', 'c', 'd']);
  });
});
