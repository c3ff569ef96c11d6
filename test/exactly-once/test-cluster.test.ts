/**
 * Exactly-once effects on TestCluster (issue 15, item 1; docs/exactly-once.md): a call in
 * flight when its silo dies is re-sent with its id, and the grain's call record makes its
 * effect on state happen once — whether the silo died before the write, after it committed
 * (the re-sent call replays from the state before it), or the call came in twice while it ran.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, memoryStorage, type StorageProvider } from 'granary';
import { CALL_LOG_SIZE, CALL_RESULT_LIMIT, grainId, parseStoredPayload } from 'granary/internal';
import { Relay, Tally } from './grains.js';
import { holdingStorage } from './holding-storage.js';

let cluster: TestCluster | undefined;
afterEach(async () => { await cluster?.stop(); cluster = undefined; });

async function start(storage: StorageProvider, silos = 2): Promise<TestCluster> {
  cluster = await TestCluster.start({ silos, grains: [Tally, Relay], storage });
  return cluster;
}

/** Activates `type/key` on silo `i` (placement prefers the calling silo). */
async function placeOn(c: TestCluster, i: number, grain: 'Tally' | 'Relay', key: string): Promise<void> {
  if (grain === 'Tally') await c.silos[i]!.getGrain(Tally, key).get();
  else await c.silos[i]!.getGrain(Relay, key).forwarded();
}

function hostIndex(c: TestCluster, grainKey: string): number {
  return c.silos.findIndex((s) => s.catalog.get(grainKey) !== undefined);
}

describe('a call in flight when its silo dies is re-sent and takes effect once', () => {
  it('the silo died after the write committed: the re-sent call replays from the state before it and answers the same', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage);
    await placeOn(c, 0, 'Tally', 'a');
    const tally = c.client.getGrain(Tally, 'a');
    expect(await tally.add(1)).toBe(1);

    const held = storage.hold('Tally/a', 'after');
    const answer = tally.add(5);
    await held.reached;
    await c.killSilo(0);
    // The caller never sees the crash: the other silo answers from the replay.
    expect(await answer).toBe(6);
    held.release();
    expect(await tally.get()).toEqual({ n: 6, runs: 2 });
    expect(hostIndex(c, 'Tally/a')).toBe(0); // the survivor (silo 1 became silos[0])
  });

  it('the silo died before the write: the re-sent call runs on another silo, and the dead one\'s late write is refused', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage);
    await placeOn(c, 0, 'Tally', 'b');
    const tally = c.client.getGrain(Tally, 'b');
    await tally.add(1);

    const held = storage.hold('Tally/b', 'before');
    const answer = tally.add(5);
    await held.reached;
    await c.killSilo(0);
    expect(await answer).toBe(6);
    held.release(); // the dead activation's write, with its old ETag
    await new Promise((r) => setTimeout(r, 10));
    expect(await tally.get()).toEqual({ n: 6, runs: 2 });
  });

  it('a grain-to-grain call re-run by its caller\'s replay carries the same derived id: the callee answers from its record', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage);
    await placeOn(c, 0, 'Relay', 'r');
    await placeOn(c, 1, 'Tally', 't');
    const relay = c.client.getGrain(Relay, 'r');

    // Tally/t's write commits (on silo 1); Relay/r's own write is held on silo 0, which dies.
    const held = storage.hold('Relay/r', 'before');
    const answer = relay.forward('t', 7);
    await held.reached;
    await c.killSilo(0);
    expect(await answer).toBe(7);
    held.release();
    expect(await c.client.getGrain(Tally, 't').get()).toEqual({ n: 7, runs: 1 });
    expect(await relay.forwarded()).toBe(1);
  });

  it('both silos of a grain-to-grain call die after the callee committed: the callee replays, nothing is applied twice', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage, 3);
    await placeOn(c, 0, 'Relay', 'r2');
    await placeOn(c, 1, 'Tally', 't2');
    const held = storage.hold('Tally/t2', 'after');
    const answer = c.client.getGrain(Relay, 'r2').forward('t2', 3);
    await held.reached;
    const tallyHost = c.silos[1]!;
    await c.killSilo(0);
    await c.killSilo(tallyHost);
    expect(await answer).toBe(3);
    held.release();
    expect(await c.client.getGrain(Tally, 't2').get()).toEqual({ n: 3, runs: 1 });
  });

  it('two writes in one call, the silo dead after the first: the replay skips the first and makes the second', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage);
    await placeOn(c, 0, 'Tally', 'two');
    const tally = c.client.getGrain(Tally, 'two');
    const held = storage.hold('Tally/two', 'after');
    const answer = tally.addTwice(2);
    await held.reached;
    await c.killSilo(0);
    expect(await answer).toBe(4);
    held.release();
    expect((await tally.get()).n).toBe(4);
  });

  it('a method that threw after its write committed: the re-sent call gets the same error, and the effect stays once', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage);
    await placeOn(c, 0, 'Tally', 'f');
    const tally = c.client.getGrain(Tally, 'f');
    const held = storage.hold('Tally/f', 'after');
    const answer = tally.fail(2);
    await held.reached;
    await c.killSilo(0);
    await expect(answer).rejects.toThrow('failed after adding 2');
    held.release();
    expect((await tally.get()).n).toBe(2);
  });
});

describe('a call re-sent after other calls wrote', () => {
  /**
   * Starts `method(5)` with call id `id` on silo 0 and kills the silo once its first write
   * landed. The dead run stays stopped there until `release()` (a crashed process would never
   * go on; TestCluster's would, and write with its old ETag).
   */
  async function firstRunDies(c: TestCluster, storage: ReturnType<typeof holdingStorage>, key: string, method: 'add' | 'addTwice', id: string): Promise<() => void> {
    const held = storage.hold(`Tally/${key}`, 'after');
    void c.silos[0]!.router.invoke(grainId('Tally', key), `Tally/${key}`, method, [5], { id }).catch(() => undefined);
    await held.reached;
    await c.killSilo(0);
    return held.release;
  }

  it('is answered as its first run was (the replay keeps its own state), and the state keeps every call once', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage, 3);
    await placeOn(c, 0, 'Tally', 'o');
    const tally = c.client.getGrain(Tally, 'o');
    await tally.add(1);
    const release = await firstRunDies(c, storage, 'o', 'add', 'first-run');
    expect(await tally.add(2)).toBe(8); // another call writes first, on the next activation
    // The caller re-sends it: its first run answered 6 (1 + 5), whatever came after.
    expect(await c.silos[0]!.router.invoke(grainId('Tally', 'o'), 'Tally/o', 'add', [5], { id: 'first-run' })).toBe(6);
    expect(await tally.get()).toEqual({ n: 8, runs: 3 });
    release();
  });

  it('one that died between two writes is not run on past them: result_not_recorded, its first write kept once', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage, 3);
    await placeOn(c, 0, 'Tally', 'p');
    const tally = c.client.getGrain(Tally, 'p');
    await tally.add(1);
    const release = await firstRunDies(c, storage, 'p', 'addTwice', 'twice');
    expect(await tally.add(2)).toBe(8); // 1, then addTwice's first write (+5), then this
    await expect(c.silos[0]!.router.invoke(grainId('Tally', 'p'), 'Tally/p', 'addTwice', [5], { id: 'twice' }))
      .rejects.toMatchObject({ code: 'result_not_recorded', status: 409 });
    expect(await tally.get()).toEqual({ n: 8, runs: 2 });
    release();
  });
});

describe('the call record', () => {
  it('rides in the stored state, keeps the last CALL_LOG_SIZE calls that wrote, and leaves a state without calls as it was', async () => {
    const storage = memoryStorage();
    const c = await start(storage);
    const tally = c.client.getGrain(Tally, 'log');
    for (let i = 0; i < CALL_LOG_SIZE + 10; i++) await tally.add(1);
    const stored = await storage.read(grainId('Tally', 'log'), 'state');
    const { state, log } = parseStoredPayload(stored!.payload!);
    expect(JSON.parse(state!)).toEqual({ n: CALL_LOG_SIZE + 10, runs: CALL_LOG_SIZE + 10 });
    // The newest call's outcome is recorded by the next write: CALL_LOG_SIZE done, that one open.
    expect(log!.size).toBe(CALL_LOG_SIZE + 1);
    // A silo's own call (no id from a client) still gets one: every call carries an id.
    await c.silos[0]!.getGrain(Tally, 'plain').get();
    expect(await storage.read(grainId('Tally', 'plain'), 'state')).toBeUndefined();
  });

  it('a result over the recorded-result limit is recorded as such; a state cleared keeps its record', async () => {
    const storage = holdingStorage(memoryStorage());
    const c = await start(storage);
    await placeOn(c, 0, 'Tally', 'big');
    const tally = c.client.getGrain(Tally, 'big');
    expect((await tally.addBig(1, CALL_RESULT_LIMIT + 10)).length).toBe(CALL_RESULT_LIMIT + 10);
    expect(await tally.reset()).toBe(0);
    const stored = await storage.read(grainId('Tally', 'big'), 'state');
    const { state, log } = parseStoredPayload(stored!.payload!);
    expect(state).toBeNull();
    expect(log!.size).toBe(2);
    expect(log!.text()).toContain(`,1,${CALL_RESULT_LIMIT + 10 + 2}`); // "id",too large,encoded length
  });
});
