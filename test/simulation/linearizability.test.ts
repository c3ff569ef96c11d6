import { describe, expect, it } from 'vitest';
import { checkLinearizable, type HistoryEvent, type LinearizabilityModel } from '../../testing.js';
import { seededRandom } from '../support/seeded-random.js';

/** A call in a hand-written history: `[start, end]` in ms, `value` its result (or `error` when it failed). */
function call(client: string, method: string, args: unknown[], start: number, end: number, outcome: { value?: unknown; error?: string }, key = 'a', grain = 'G'): HistoryEvent {
  return outcome.error !== undefined
    ? { client, grain, key, method, args, ok: false, error: { name: outcome.error, message: outcome.error }, start, end }
    : { client, grain, key, method, args, ok: true, value: outcome.value, start, end };
}

const register: LinearizabilityModel<number> = {
  init: () => 0,
  step: (s, method, args) => (method === 'write' ? [args[0] as number, undefined] : [s, s]),
};

const counter: LinearizabilityModel<number> = {
  init: () => 0,
  step: (s, method, args) => (method === 'add' ? [s + (args[0] as number), s + (args[0] as number)] : [s, s]),
};

const queue: LinearizabilityModel<readonly unknown[]> = {
  init: () => [],
  step: (s, method, args) => (method === 'enqueue' ? [[...s, args[0]], undefined] : [s.slice(1), s.length > 0 ? s[0] : null]),
};

describe('checkLinearizable: registers', () => {
  it('accepts an empty history and a sequential one', () => {
    expect(checkLinearizable([], { model: register }).ok).toBe(true);
    const h = [call('c1', 'write', [1], 0, 1, {}), call('c1', 'read', [], 2, 3, { value: 1 }), call('c2', 'write', [2], 4, 5, {}), call('c2', 'read', [], 6, 7, { value: 2 })];
    expect(checkLinearizable(h, { model: register })).toEqual({ ok: true, grains: 1, operations: 4 });
  });

  it('accepts either value for a read that overlaps the write', () => {
    for (const seen of [0, 1]) {
      const h = [call('c1', 'write', [1], 0, 10, {}), call('c2', 'read', [], 5, 6, { value: seen })];
      expect(checkLinearizable(h, { model: register }).ok).toBe(true);
    }
  });

  it('rejects a stale read after the write completed, and explains it', () => {
    const h = [call('c1', 'write', [1], 0, 1, {}), call('c2', 'read', [], 2, 3, { value: 0 })];
    const r = checkLinearizable(h, { model: register });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.grain).toBe('G/a');
    expect(r.unplaced.map((e) => e.method)).toEqual(['read']);
    expect(r.explanation).toContain('c2 read() → 0  [2..3]');
    expect(r.explanation).toContain('the model returns 1');
  });

  it('rejects a read that goes back in time (new value, then old)', () => {
    const h = [
      call('c1', 'write', [1], 0, 100, {}),
      call('c2', 'read', [], 10, 20, { value: 1 }),
      call('c3', 'read', [], 30, 40, { value: 0 }),
    ];
    expect(checkLinearizable(h, { model: register }).ok).toBe(false);
  });

  it('finds the shortest failing prefix, not the end of the history', () => {
    const h: HistoryEvent[] = [call('c1', 'write', [1], 0, 1, {}), call('c2', 'read', [], 2, 3, { value: 0 })];
    for (let i = 0; i < 20; i++) h.push(call('c1', 'write', [i + 10], 10 + i * 2, 11 + i * 2, {}));
    const r = checkLinearizable(h, { model: register });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.prefix).toHaveLength(2);
    expect(r.explanation).toContain('2 of 22 calls');
  });
});

describe('checkLinearizable: failed calls may or may not have taken effect', () => {
  it('a failed write may be seen', () => {
    const h = [call('c1', 'write', [5], 0, 10, { error: 'TimeoutError' }), call('c2', 'read', [], 20, 21, { value: 5 })];
    expect(checkLinearizable(h, { model: register }).ok).toBe(true);
  });

  it('a failed write may be left out', () => {
    const h = [call('c1', 'write', [5], 0, 10, { error: 'TimeoutError' }), call('c2', 'read', [], 20, 21, { value: 0 })];
    expect(checkLinearizable(h, { model: register }).ok).toBe(true);
  });

  it('a failed write may take effect after it was reported failed, but only once', () => {
    const seenThenGone = [
      call('c1', 'write', [5], 0, 10, { error: 'TimeoutError' }),
      call('c2', 'read', [], 20, 21, { value: 0 }),
      call('c2', 'read', [], 30, 31, { value: 5 }),
    ];
    expect(checkLinearizable(seenThenGone, { model: register }).ok).toBe(true);
    const goneAgain = [...seenThenGone, call('c2', 'read', [], 40, 41, { value: 0 })];
    expect(checkLinearizable(goneAgain, { model: register }).ok).toBe(false);
  });

  it('a failed call cannot take effect before it started', () => {
    const h = [call('c2', 'read', [], 0, 5, { value: 5 }), call('c1', 'write', [5], 10, 20, { error: 'TimeoutError' })];
    expect(checkLinearizable(h, { model: register }).ok).toBe(false);
  });

  it('a failed add counts at most once', () => {
    const once = [call('c1', 'add', [1], 0, 10, { error: 'SiloUnavailableError' }), call('c2', 'get', [], 20, 21, { value: 1 })];
    expect(checkLinearizable(once, { model: counter }).ok).toBe(true);
    const twice = [call('c1', 'add', [1], 0, 10, { error: 'SiloUnavailableError' }), call('c2', 'get', [], 20, 21, { value: 2 })];
    expect(checkLinearizable(twice, { model: counter }).ok).toBe(false);
  });
});

describe('checkLinearizable: counters and queues', () => {
  it('accepts concurrent adds that return distinct totals, rejects a lost update', () => {
    const good = [call('c1', 'add', [1], 0, 10, { value: 2 }), call('c2', 'add', [1], 1, 9, { value: 1 })];
    expect(checkLinearizable(good, { model: counter }).ok).toBe(true);
    const lost = [call('c1', 'add', [1], 0, 10, { value: 1 }), call('c2', 'add', [1], 1, 9, { value: 1 }), call('c1', 'get', [], 11, 12, { value: 1 })];
    const r = checkLinearizable(lost, { model: counter });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.explanation).toMatch(/add\(1\) → 1/);
  });

  it('queues: concurrent enqueues in either order, FIFO once ordered', () => {
    const concurrent = [
      call('c1', 'enqueue', ['x'], 0, 10, {}), call('c2', 'enqueue', ['y'], 0, 10, {}),
      call('c1', 'dequeue', [], 20, 21, { value: 'y' }), call('c1', 'dequeue', [], 22, 23, { value: 'x' }),
    ];
    expect(checkLinearizable(concurrent, { model: queue }).ok).toBe(true);
    const lifo = [
      call('c1', 'enqueue', ['x'], 0, 1, {}), call('c2', 'enqueue', ['y'], 2, 3, {}),
      call('c1', 'dequeue', [], 4, 5, { value: 'y' }),
    ];
    expect(checkLinearizable(lifo, { model: queue }).ok).toBe(false);
    const duplicated = [
      call('c1', 'enqueue', ['x'], 0, 1, {}),
      call('c1', 'dequeue', [], 4, 10, { value: 'x' }), call('c2', 'dequeue', [], 4, 10, { value: 'x' }),
    ];
    expect(checkLinearizable(duplicated, { model: queue }).ok).toBe(false);
  });

  it('models with equal() and no key() memoise by equality', () => {
    const byEqual: LinearizabilityModel<{ v: number }> = {
      init: () => ({ v: 0 }),
      step: (s, m, a) => (m === 'add' ? [{ v: s.v + (a[0] as number) }, s.v + (a[0] as number)] : [s, s.v]),
      equal: (a, b) => a.v === b.v,
    };
    const h = [call('c1', 'add', [1], 0, 10, { value: 2 }), call('c2', 'add', [1], 1, 9, { value: 1 }), call('c3', 'get', [], 0, 20, { value: 2 })];
    expect(checkLinearizable(h, { model: byEqual }).ok).toBe(true);
  });
});

describe('checkLinearizable: grains and options', () => {
  it('checks each grain key on its own, and filters by type or by id', () => {
    const h = [
      call('c1', 'write', [1], 0, 1, {}, 'a'), call('c1', 'read', [], 2, 3, { value: 1 }, 'a'),
      call('c1', 'read', [], 2, 3, { value: 0 }, 'b'),
      call('c1', 'read', [], 2, 3, { value: 9 }, 'a', 'Other'),
    ];
    expect(checkLinearizable(h, { grain: 'G', model: register })).toEqual({ ok: true, grains: 2, operations: 3 });
    expect(checkLinearizable(h, { grain: 'G/b', model: register })).toEqual({ ok: true, grains: 1, operations: 1 });
    const all = checkLinearizable(h, { model: register });
    expect(all.ok === false && all.grain).toBe('Other/a');
  });

  it('refuses options without a model', () => {
    expect(() => checkLinearizable([], {} as never)).toThrow(/needs \{ model/);
  });

  it('gives up with a clear error past maxStates instead of running out of memory', () => {
    // 40 overlapping failed adds (each may or may not have run), then a total no subset gives:
    // proving it takes every subset; the budget ends the search.
    const h = Array.from({ length: 40 }, (_, i) => call(`c${i}`, 'add', [1], 0, 10, { error: 'TimeoutError' }));
    h.push(call('r', 'get', [], 20, 30, { value: -1 }));
    expect(() => checkLinearizable(h, { model: counter, maxStates: 5_000 })).toThrow(/gave up on G\/a after visiting 5,000 .*may or may not be linearizable/);
    // Without the impossible read it is decided long before the budget.
    expect(checkLinearizable(h.slice(0, -1), { model: counter, maxStates: 5_000 }).ok).toBe(true);
  });
});

/** A history of `n` calls whose linearization points are 10 ms apart, each call spanning up to ±`spread` ms around its point. */
function concurrentHistory(n: number, seed: number, spread: number, model: LinearizabilityModel<number>, pick: (r: () => number) => [string, unknown[]]): HistoryEvent[] {
  const r = seededRandom(seed);
  let s = model.init();
  const h: HistoryEvent[] = [];
  for (let i = 0; i < n; i++) {
    const [method, args] = pick(r);
    const [next, value] = model.step(s, method, args);
    s = next;
    const at = i * 10;
    h.push(call(`c${i % 8}`, method, args, at - Math.floor(r() * spread), at + Math.floor(r() * spread), { value }));
  }
  return h.sort((a, b) => a.start - b.start);
}

describe('checkLinearizable: 500 calls on one grain', () => {
  it('a linearizable register history, then the same with one stale read', () => {
    const h = concurrentHistory(500, 7, 40, register, (r) => (r() < 0.5 ? ['write', [Math.floor(r() * 4)]] : ['read', []]));
    let t = performance.now();
    expect(checkLinearizable(h, { model: register }).ok).toBe(true);
    const okMs = performance.now() - t;
    // Corrupt a late read to a value never written.
    const bad = h.map((e) => ({ ...e }));
    const victim = bad.filter((e) => e.method === 'read').at(-5)!;
    victim.value = 99;
    t = performance.now();
    const r = checkLinearizable(bad, { model: register });
    const badMs = performance.now() - t;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.unplaced).toContain(victim);
    console.log(`checkLinearizable, 500 register calls, ~8 overlapping: linearizable ${okMs.toFixed(1)} ms; with a stale read (search + shortest prefix) ${badMs.toFixed(1)} ms`);
  });

  it('a linearizable counter history with failed adds', () => {
    const h = concurrentHistory(500, 11, 40, counter, (r) => (r() < 0.7 ? ['add', [1 + Math.floor(r() * 3)]] : ['get', []]));
    // Every 25th add failed as far as its caller knows (it did take effect).
    h.forEach((e, i) => { if (i % 25 === 0 && e.method === 'add') { e.ok = false; delete e.value; e.error = { name: 'TimeoutError', message: 'timed out' }; } });
    const t = performance.now();
    expect(checkLinearizable(h, { model: counter }).ok).toBe(true);
    console.log(`checkLinearizable, 500 counter calls with failed adds: ${(performance.now() - t).toFixed(1)} ms`);
  });
});
