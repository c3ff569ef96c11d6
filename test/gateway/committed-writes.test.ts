/**
 * A committed write never answers as a failure (issue 15, item 2; docs/storage.md, "One depth
 * limit" and "Deadlines and state writes"):
 *  - one depth limit for values: a state at the limit is written and answered in plain JSON,
 *    in the codec's form and through GrainClient.http; one level deeper is refused by
 *    `writeState` before anything is stored (400, storage untouched);
 *  - a deadline (`x-granary-timeout-ms`, or the runtime's own) does not cut a turn that has
 *    begun a state write: the caller gets the write's outcome; a turn whose caller was already
 *    answered 504 can no longer write;
 *  - keys URLs cannot carry ("." and "..") are refused by GrainClient.http's getGrain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grain, GrainClient, InvalidArgumentError, Silo, TestCluster, TimeoutError, memoryStorage, type StorageProvider } from 'granary';
import { FakeClock } from 'granary/testing';
import { CODEC_LIMITS, decodeStoredState, grainId, jsonLogger } from 'granary/internal';
import { call } from './helpers.js';

/** `levels` arrays nested in one another. */
function nested(levels: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

function depthOf(v: unknown): number {
  let n = 0;
  while (Array.isArray(v)) { n++; v = v[0]; }
  return n;
}

/** Writes are held until the test lets them through; nothing else is changed. */
function heldWrites(inner: StorageProvider) {
  let gate: { entered: () => void; release: Promise<void> } | undefined;
  const s = {
    name: `held(${inner.name})`,
    read: inner.read.bind(inner),
    clear: inner.clear.bind(inner),
    async write(...a: Parameters<StorageProvider['write']>): Promise<string> {
      const g = gate;
      if (g !== undefined) {
        gate = undefined;
        g.entered();
        await g.release;
      }
      return inner.write(...a);
    },
    /** Holds the next write: `entered` resolves when it reaches storage, `release()` lets it on. */
    holdNext(): { entered: Promise<void>; release(): void } {
      let release!: () => void;
      let entered!: () => void;
      const p = new Promise<void>((r) => { entered = r; });
      gate = { entered, release: new Promise<void>((r) => { release = r; }) };
      return { entered: p, release };
    },
  };
  return s;
}

let waiting: { release(): void; promise: Promise<void> } | undefined;
let turnEnded: Promise<string> = Promise.resolve('');
let endTurn: (outcome: string) => void = () => undefined;

class Ledger extends Grain<{ n: number; tree?: unknown }> {
  static grainType = 'Ledger';
  protected override initialState() { return { n: 0 }; }
  async save(n: number): Promise<number> {
    this.state.n = n;
    await this.writeState();
    return n;
  }
  /** Waits for the test before it changes and writes the state; says how its write went. */
  async waitThenSave(n: number): Promise<number> {
    await waiting!.promise;
    this.state.n = n;
    try {
      await this.writeState();
      endTurn('stored');
    } catch (err) {
      endTurn(`${(err as Error).name}: ${(err as Error).message}`);
      throw err;
    }
    return n;
  }
  /** A state `levels` deep, written, then answered. */
  async grow(levels: number): Promise<unknown> {
    this.state.tree = nested(levels);
    await this.writeState();
    return this.state.tree;
  }
  async get(): Promise<number> { return this.state.n; }
}

/** Its whole state is the nested value: a state at the depth limit, answered as it is. */
class Tree extends Grain<unknown> {
  static grainType = 'Tree';
  protected override initialState(): unknown { return 0; }
  async grow(levels: number): Promise<unknown> {
    this.state = nested(levels);
    await this.writeState();
    return this.state;
  }
}

function hold(): void {
  let release!: () => void;
  waiting = { promise: new Promise<void>((r) => { release = r; }), release: () => release() };
  turnEnded = new Promise<string>((r) => { endTurn = r; });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = jsonLogger({ level: 'error', write: () => undefined });

describe('one depth limit for stored state and answers', () => {
  let silo: Silo;
  let storage: ReturnType<typeof memoryStorage>;
  beforeAll(async () => {
    storage = memoryStorage();
    silo = await Silo.start({ grains: [Ledger, Tree], storage, gateway: { port: 0, host: '127.0.0.1' }, logger });
  });
  afterAll(async () => { await silo?.stop(); });

  const storedTree = async (key: string) => {
    const s = await storage.read(grainId('Ledger', key), 'state');
    return s?.payload === undefined ? undefined : depthOf((decodeStoredState(s.payload) as { tree: unknown }).tree);
  };

  it('a value deeper than the limit is refused before writeState commits: 400 invalid_argument, nothing stored', async () => {
    // The state is { tree }: a tree of maxDepth levels makes it one level too deep.
    const r = await call(silo.gateway!.port, '/grains/Ledger/too-deep/grow', { args: [CODEC_LIMITS.maxDepth] });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_argument');
    expect(r.json.error.message).toContain(`deeper than ${CODEC_LIMITS.maxDepth} levels`);
    expect(await storage.read(grainId('Ledger', 'too-deep'), 'state')).toBeUndefined();
  });

  it('a value at the limit is written and answered: plain JSON, the codec\'s form, GrainClient.http, a local call', async () => {
    const deepest = CODEC_LIMITS.maxDepth - 1; // the state { tree } is then exactly maxDepth deep
    const plain = await call(silo.gateway!.port, '/grains/Ledger/at-limit/grow', { args: [deepest] });
    expect(plain.status).toBe(200);
    expect(depthOf(plain.json.result)).toBe(deepest);
    expect(await storedTree('at-limit')).toBe(deepest);

    const rich = await call(silo.gateway!.port, '/grains/Ledger/at-limit-rich/grow', { args: [deepest] }, { 'content-type': 'application/vnd.granary+json' });
    expect(rich.status).toBe(200);
    expect(depthOf(rich.json.result)).toBe(deepest);

    const client = GrainClient.http(silo.gateway!.url);
    try {
      // The answer travels as {"result": value}: the envelope does not count against the limit.
      expect(depthOf(await client.getGrain(Ledger, 'at-limit-client').grow(CODEC_LIMITS.maxDepth - 1))).toBe(deepest);
      expect(depthOf(await client.getGrain(Ledger, 'at-limit-client').grow(CODEC_LIMITS.maxDepth - 1))).toBe(deepest);
    } finally {
      await client.close();
    }
    expect(depthOf(await silo.getGrain(Ledger, 'at-limit-local').grow(deepest))).toBe(deepest);
  });

  it('a state exactly at the limit, answered whole: through GrainClient.http and between silos (the envelopes do not count)', async () => {
    const client = GrainClient.http(silo.gateway!.url);
    try {
      expect(depthOf(await client.getGrain(Tree, 'whole').grow(CODEC_LIMITS.maxDepth))).toBe(CODEC_LIMITS.maxDepth);
    } finally {
      await client.close();
    }
    const plain = await call(silo.gateway!.port, '/grains/Tree/whole-plain/grow', { args: [CODEC_LIMITS.maxDepth] });
    expect(plain.status).toBe(200);
    expect(depthOf(plain.json.result)).toBe(CODEC_LIMITS.maxDepth);
    const cluster = await TestCluster.start({ silos: 2, grains: [Tree] });
    try {
      // A client of the cluster is remote from every silo: the answer comes back as a reply message.
      expect(depthOf(await cluster.client.getGrain(Tree, 'between').grow(CODEC_LIMITS.maxDepth))).toBe(CODEC_LIMITS.maxDepth);
      await expect(cluster.client.getGrain(Tree, 'between').grow(CODEC_LIMITS.maxDepth + 1)).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(depthOf(await cluster.client.getGrain(Tree, 'between').grow(1))).toBe(1);
    } finally {
      await cluster.stop();
    }
  });
});

describe('the gateway deadline and state writes (x-granary-timeout-ms: 1)', () => {
  let silo: Silo;
  let storage: ReturnType<typeof heldWrites>;
  beforeAll(async () => {
    storage = heldWrites(memoryStorage());
    silo = await Silo.start({ grains: [Ledger], storage, gateway: { port: 0, host: '127.0.0.1' }, logger });
  });
  afterAll(async () => { await silo?.stop(); });

  const stored = async (key: string) => {
    const s = await storage.read(grainId('Ledger', key), 'state');
    return s?.payload === undefined ? undefined : (decodeStoredState(s.payload) as { n: number }).n;
  };

  it('a turn that has begun its write when the deadline passes answers with the write\'s outcome, not 504', async () => {
    const held = storage.holdNext();
    const res = call(silo.gateway!.port, '/grains/Ledger/a/save', { args: [5] }, { 'x-granary-timeout-ms': '1' });
    await held.entered;
    // The 1 ms deadline was armed before the call was sent, so it has passed by the time a
    // 20 ms timer armed now fires: the write is still held.
    await sleep(20);
    held.release();
    const r = await res;
    expect(r.status).toBe(200);
    expect(r.json.result).toBe(5);
    expect(await stored('a')).toBe(5);
  });

  it('a turn whose caller was answered 504 before it began writing cannot write: nothing is stored, the next call reads the stored state', async () => {
    expect(await silo.getGrain(Ledger, 'b').save(1)).toBe(1);
    hold();
    const r = await call(silo.gateway!.port, '/grains/Ledger/b/waitThenSave', { args: [2] }, { 'x-granary-timeout-ms': '1' });
    expect(r.status).toBe(504);
    expect(r.json.error.code).toBe('timeout');
    waiting!.release();
    expect(await turnEnded).toMatch(/^TimeoutError: Ledger\/b\.waitThenSave ran past its deadline .* its state write is refused/);
    expect(await stored('b')).toBe(1);
    expect(await silo.getGrain(Ledger, 'b').get()).toBe(1);
  });

  it('a call still waiting in the mailbox when its deadline passes never runs', async () => {
    expect(await silo.getGrain(Ledger, 'c').save(1)).toBe(1);
    hold();
    const first = silo.getGrain(Ledger, 'c').waitThenSave(2);
    const r = await call(silo.gateway!.port, '/grains/Ledger/c/save', { args: [3] }, { 'x-granary-timeout-ms': '1' });
    expect(r.status).toBe(504);
    waiting!.release();
    expect(await first).toBe(2);
    expect(await stored('c')).toBe(2);
    expect(await silo.getGrain(Ledger, 'c').get()).toBe(2);
  });
});

describe('the runtime deadline and state writes (fake clock)', () => {
  it('a call whose turn has begun writing is not timed out by the watchdog; one whose turn has not is, and then cannot write', async () => {
    const clock = new FakeClock();
    const storage = heldWrites(memoryStorage());
    const silo = await Silo.start({ grains: [Ledger], storage, clock, responseTimeoutMs: 1_000, logger });
    try {
      const held = storage.holdNext();
      const saving = silo.getGrain(Ledger, 'w').save(5);
      const outcome = saving.then((v) => v, (e: unknown) => e);
      await held.entered;
      await clock.advance(10_000);
      const early = await Promise.race([outcome, sleep(20).then(() => 'still waiting')]);
      expect(early).toBe('still waiting');
      held.release();
      expect(await outcome).toBe(5);

      hold();
      const late = silo.getGrain(Ledger, 'w').waitThenSave(6).then((v) => v, (e: unknown) => e);
      await clock.advance(10_000);
      expect(await late).toBeInstanceOf(TimeoutError);
      waiting!.release();
      expect(await turnEnded).toMatch(/^TimeoutError: /);
      const s = await storage.read(grainId('Ledger', 'w'), 'state');
      expect((decodeStoredState(s!.payload!) as { n: number }).n).toBe(5);
    } finally {
      await silo.stop();
    }
  });
});

describe('keys a URL cannot carry', () => {
  let silo: Silo;
  beforeAll(async () => {
    silo = await Silo.start({ grains: [Ledger], gateway: { port: 0, host: '127.0.0.1' }, logger });
  });
  afterAll(async () => { await silo?.stop(); });

  it('"." and ".." are refused by GrainClient.http getGrain, saying why and what to do; other dotted keys work', async () => {
    const client = GrainClient.http(silo.gateway!.url);
    try {
      for (const key of ['.', '..']) {
        let err: unknown;
        try { client.getGrain(Ledger, key); } catch (e) { err = e; }
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect((err as Error).message).toContain(`grain key ${JSON.stringify(key)} cannot be sent through GrainClient.http`);
        expect((err as Error).message).toContain('GrainClient.connect');
      }
      expect(() => client.getGrain('..', 'a')).toThrow(InvalidArgumentError);
      for (const key of ['...', '.a', 'a.', 'a/..', '../a', '%2E%2E']) {
        expect(await client.getGrain(Ledger, key).save(7)).toBe(7);
        expect(await silo.getGrain(Ledger, key).get()).toBe(7);
      }
    } finally {
      await client.close();
    }
  });
});
