import { afterEach, describe, expect, it } from 'vitest';
import {
  DeadlockError, GrainError, GrainNotFoundError, MethodNotFoundError, RequestContext, Silo, TestCluster, TimeoutError,
  InvalidArgumentError, type GrainRef,
} from 'granary';
import { Counter } from '../grains/index.js';
import { ContextProbe, Gate, Lifecycle, Pinger, ReentrantSerial, Serial, Thrower, lifecycleLog, testGrains, timerSeen } from './fixtures/grains.js';
import { Grain } from 'granary';

let cluster: TestCluster | undefined;
const start = async (opts: Partial<Parameters<typeof TestCluster.start>[0]> = {}) => {
  cluster = await TestCluster.start({ silos: 2, grains: [Counter, ...testGrains], ...opts });
  return cluster;
};
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('grain calls', () => {
  it('a grain exception arrives as GrainError with code grain_error, name and message; the grain stays usable', async () => {
    const c = await start();
    const t = c.client.getGrain(Thrower, 't');
    const err = await t.fail('range').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrainError);
    expect(err).toMatchObject({ code: 'grain_error', name: 'RangeError', message: 'out of range' });
    expect(await t.fail('other').catch((e: GrainError) => [e.code, e.name, e.message])).toEqual(['grain_error', 'Error', 'boom']);
    expect(await t.fail('string').catch((e: GrainError) => e.code)).toBe('grain_error');
    expect(await t.calls()).toBe(4); // same activation, state kept
    expect(c.activationCount('Thrower')).toBe(1);
  });

  it('unknown type → GrainNotFoundError; unknown method → MethodNotFoundError; _private and base members are not callable', async () => {
    const c = await start();
    await expect(c.client.getGrain<Counter>('NoSuchGrain', 'x').get()).rejects.toBeInstanceOf(GrainNotFoundError);
    const untyped = c.client.getGrain<Record<string, (...a: unknown[]) => Promise<unknown>>>('Thrower', 'x') as unknown as Record<string, () => Promise<unknown>>;
    for (const m of ['nope', '_hidden', 'writeState', 'onActivate', 'constructor', 'getGrain', 'deactivateOnIdle', 'initialState', '__proto__', 'hasOwnProperty']) {
      const e = await untyped[m]!().catch((x: unknown) => x);
      expect(e, m).toBeInstanceOf(MethodNotFoundError);
      expect((e as GrainError).code).toBe('method_not_found');
    }
    // From inside a silo too.
    await expect(c.silos[0]!.getGrain<Counter>('NoSuchGrain', 'x').get()).rejects.toBeInstanceOf(GrainNotFoundError);
  });

  it('unknown type on a single silo → GrainNotFoundError, not SiloUnavailableError', async () => {
    const silo = await Silo.start({ grains: [Counter] });
    try {
      await expect(silo.getGrain<Counter>('NoSuchGrain', 'x').get()).rejects.toBeInstanceOf(GrainNotFoundError);
    } finally {
      await silo.stop();
    }
  });

  it('arguments that cannot travel are refused with InvalidArgumentError before anything runs', async () => {
    const c = await start();
    const t = c.client.getGrain(Thrower, 'args');
    await expect(t.echo(() => 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    await expect(t.echo(cyclic)).rejects.toThrow(/cyclic/);
    await expect(t.giveFunction()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await t.calls()).toBe(1);
  });

  it('rich values round-trip through calls', async () => {
    const c = await start();
    const v = { d: new Date(5), m: new Map([[1, new Set([2n])]]), b: new Uint8Array([7]), u: undefined };
    expect(await c.client.getGrain(Thrower, 'rich').echo(v)).toEqual(v);
  });

  it('a local call never shares mutable arguments or results between caller and callee', async () => {
    const silo = await Silo.start({ grains: testGrains });
    try {
      const arg = { list: [1] };
      const out = await silo.getGrain(Thrower, 'm').mutate(arg);
      expect(arg).toEqual({ list: [1] });
      expect(out).toEqual({ list: [1, 99] });
      expect(out).not.toBe(arg);
    } finally {
      await silo.stop();
    }
  });
});

describe('turn-based scheduling', () => {
  it('turns run one at a time by default; a reentrant class interleaves', async () => {
    const c = await start();
    const serial = c.client.getGrain(Serial, 's');
    await Promise.all(Array.from({ length: 20 }, () => serial.slowAdd(1)));
    expect(await serial.stats()).toEqual({ n: 20, maxInside: 1 });
    const re = c.client.getGrain(ReentrantSerial, 's');
    await Promise.all(Array.from({ length: 20 }, () => re.slowAdd(1, 5)));
    const stats = await re.stats();
    expect(stats.maxInside).toBeGreaterThan(1); // interleaved: lost updates are the proof
    expect(stats.n).toBeLessThan(20);
  });

  it('static interleave lets single methods run beside a blocked turn', async () => {
    const c = await start();
    const g = c.client.getGrain(Gate, 'g');
    const held = g.hold();
    expect(await g.peek()).toBe(true); // runs although `hold` has not finished
    await g.open();
    expect(await held).toBe('released');
  });

  it('a call cycle on one silo runs at once (call-chain reentrancy)', async () => {
    const silo = await Silo.start({ grains: testGrains });
    try {
      expect(await silo.getGrain(Pinger, 'a').ping('b')).toBe('b:pong(a#1)');
      expect(await silo.getGrain(Pinger, 'a').self()).toBe('pong(a#2)');
    } finally {
      await silo.stop();
    }
  });

  it('a call back into a grain that is still activating fails at once with DeadlockError', async () => {
    class Cyclic extends Grain {
      override async onActivate() {
        await this.getGrain(Echo, this.key).callBack();
      }
      async hello() { return 'hi'; }
    }
    class Echo extends Grain {
      async callBack() { return this.getGrain(Cyclic, this.key).hello(); }
    }
    const silo = await Silo.start({ grains: [Cyclic, Echo], responseTimeoutMs: 60_000 });
    try {
      const err = await silo.getGrain(Cyclic, 'x').hello().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      // "At once": the call's deadline is a minute away (past the test's timeout), so the answer
      // was the deadlock check's, not a timeout's (code 'timeout').
      expect((err as GrainError).code).toBe('deadlock');
      void DeadlockError;
    } finally {
      await silo.stop();
    }
  });

  it('runaway recursion between grains is refused with DeadlockError', async () => {
    const c = await start();
    const err = await c.client.getGrain(Pinger, 'r').recurse(1000).catch((e: unknown) => e);
    expect((err as GrainError).code).toBe('deadlock');
  });

  it('a call with no answer fails with TimeoutError at its deadline (fake clock)', async () => {
    const c = await start({ responseTimeoutMs: 5_000 });
    const g = c.client.getGrain(Gate, 'slow');
    const pending = g.never().catch((e: unknown) => e);
    await c.advanceTime(4_000);
    const early = await Promise.race([pending, new Promise((r) => setTimeout(() => r('still waiting'), 20))]);
    expect(early).toBe('still waiting');
    await c.advanceTime(2_000);
    expect(await pending).toBeInstanceOf(TimeoutError);
  });
});

describe('request context', () => {
  it('set/get/snapshot within a run; timers started in a call do not inherit it', async () => {
    const c = await start();
    await RequestContext.run({ user: 'u1' }, async () => {
      RequestContext.set('k', 1);
      expect(RequestContext.snapshot()).toEqual({ user: 'u1', k: 1 });
      timerSeen.length = 0;
      await c.client.getGrain(ContextProbe, 't').timerSees('user');
    });
    await c.advanceTime(20);
    expect(timerSeen).toEqual([undefined]);
    expect(RequestContext.get('user')).toBeUndefined();
  });

  it('refuses values that are not JSON-serialisable', () => {
    expect(() => RequestContext.run({ f: () => 1 }, () => 0)).toThrow(InvalidArgumentError);
  });
});

describe('lifecycle, idle collection and timers', () => {
  it('deactivateOnIdle ends the activation after the call; state comes back', async () => {
    const c = await start();
    lifecycleLog.length = 0;
    const g = c.client.getGrain(Lifecycle, 'x');
    await g.set(3);
    await g.bye();
    await c.settle();
    expect(c.activationCount('Lifecycle')).toBe(0);
    expect(lifecycleLog).toEqual(['activate:x', 'deactivate:x:requested']);
    expect(await g.get()).toEqual({ value: 3, activations: 2 });
  });

  it('per-type idle timeout, silo default, and delayDeactivation', async () => {
    const c = await start({ idleTimeoutMs: 10_000 });
    await c.client.getGrain(Counter, 'a').add(1); // Counter: 60 s
    await c.client.getGrain(Serial, 'a').slowAdd(1, 0); // silo default: 10 s
    await c.client.getGrain(Lifecycle, 'kept').keep(300_000); // 60 s, but kept 5 min
    await c.advanceTime(11_000);
    expect(c.activationCount('Serial')).toBe(0);
    expect(c.activationCount('Counter')).toBe(1);
    await c.advanceTime(50_000);
    expect(c.activationCount('Counter')).toBe(0);
    expect(c.activationCount('Lifecycle')).toBe(1);
    await c.advanceTime(240_000);
    expect(c.activationCount('Lifecycle')).toBe(0);
  });

  it('use keeps a grain alive; timers run as turns, do not keep it alive, and die with it', async () => {
    const c = await start();
    const g = c.client.getGrain(Lifecycle, 'tick');
    await g.startTicking(1_000);
    await c.advanceTime(5_500);
    expect(await g.tickCount()).toBe(5);
    for (let i = 0; i < 5; i++) {
      await c.advanceTime(30_000);
      await g.get(); // used every 30 s: stays
    }
    expect(c.activationCount('Lifecycle')).toBe(1);
    expect(await g.tickCount()).toBeGreaterThanOrEqual(150);
    await c.advanceTime(61_000); // only the timer ran: idle
    expect(c.activationCount('Lifecycle')).toBe(0);
    const pendingBefore = c.clock.pending;
    await c.advanceTime(10_000);
    expect(c.clock.pending).toBeLessThanOrEqual(pendingBefore); // its timer is gone
    expect(await g.tickCount()).toBe(0); // a fresh activation: the old timer died with the old one
  });
});

describe('TestCluster', () => {
  // (How fast it starts is a benchmark figure: bench/local-calls.ts.)
  it('starts, and adds, stops and kills silos', async () => {
    const c = await start({ silos: 3 });
    expect(c.silos).toHaveLength(3);
    const added = await c.startSilo();
    expect(c.silos).toHaveLength(4);
    expect(c.silos[3]).toBe(added);
    await c.killSilo(added);
    await c.stopSilo(0);
    expect(c.silos).toHaveLength(2);
    const ref: GrainRef<Counter> = c.client.getGrain(Counter, 'still');
    expect(await ref.add(1)).toBe(1);
  });
});

describe('storage conflicts', () => {
  it('a write that loses the ETag race fails with InconsistentStateError, and the stale activation reloads on the next call', async () => {
    const { memoryStorage, InconsistentStateError } = await import('granary');
    const storage = memoryStorage();
    // Two separate clusters on one storage: a split brain, each with its own activation.
    const a = await TestCluster.start({ silos: 1, grains: [Counter], storage });
    const b = await TestCluster.start({ silos: 1, grains: [Counter], storage });
    try {
      const ga = a.client.getGrain(Counter, 'shared');
      const gb = b.client.getGrain(Counter, 'shared');
      expect(await ga.get()).toBe(0);
      expect(await gb.get()).toBe(0);
      expect(await ga.add(1)).toBe(1);
      await expect(gb.add(10)).rejects.toBeInstanceOf(InconsistentStateError);
      await b.settle();
      expect(b.activationCount('Counter')).toBe(0); // the stale activation went away
      expect(await gb.add(10)).toBe(11); // and the next one starts from what a wrote
      await expect(ga.add(1)).rejects.toBeInstanceOf(InconsistentStateError);
      await a.settle();
      expect(await ga.get()).toBe(11);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
