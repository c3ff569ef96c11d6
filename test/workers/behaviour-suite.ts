/**
 * The portable behaviour suite: what a grain host must do, seen only through a
 * `GrainClient.http` — activation, state, turns and interleaving, request context, errors,
 * unknown types and methods, call cycles and grain-to-grain calls. It runs unchanged
 * against a Node silo's gateway and against the Worker (Durable Objects in workerd), with
 * the same grain classes.
 */
import { describe, expect, it } from 'vitest';
import {
  GrainClient, GrainError, GrainNotFoundError, InvalidArgumentError, MethodNotFoundError, RequestContext, TimeoutError,
  TransactionAbortedError,
} from 'granary';
import { Account, Bank, ChatRoom, Counter, GameSession, Player } from '../../grains/index.js';
import { ContextProbe, Gate, Lifecycle, Pinger, ReentrantSerial, Serial, Thrower } from '../fixtures/grains.js';
import { FilterProbe } from '../fixtures/filters.js';
import { Cyclic, Incarnation, Mint } from './grains.js';
import { workloadRandom } from '../support/random.js';

/** `client()` is called inside tests (after the host started); `unique` keeps keys apart between runs. */
export function describeGrainBehaviour(host: string, client: () => GrainClient, unique = ''): void {
  const k = (key: string) => `${key}${unique}`;

  describe(`${host}: activation and state`, () => {
    it('a grain activates on its first call and keeps its state across calls', async () => {
      const c = client().getGrain(Counter, k('a'));
      expect(await c.add(2)).toBe(2);
      expect(await c.add(3)).toBe(5);
      expect(await client().getGrain<Counter>('Counter', k('a')).get()).toBe(5);
      expect(await client().getGrain(Counter, k('other')).get()).toBe(0);
    });

    it('one activation per grain: concurrent first calls meet the same instance, no update lost', async () => {
      const g = client().getGrain(Incarnation, k('single'));
      const seen = await Promise.all(Array.from({ length: 24 }, () => g.whoAmI()));
      expect(new Set(seen).size).toBe(1);
      const counts = await Promise.all(Array.from({ length: 24 }, () => g.bump()));
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    });

    it('deactivateOnIdle runs onDeactivate; the next call activates anew with the stored state', async () => {
      const g = client().getGrain(Lifecycle, k('x'));
      await g.set(3);
      expect(await g.get()).toEqual({ value: 3, activations: 1 });
      await g.bye();
      expect(await g.get()).toEqual({ value: 3, activations: 2 });
    });

    it('sample grains: chat room history', async () => {
      const room = client().getGrain(ChatRoom, k('lobby'));
      expect(await room.join('ann')).toEqual(['ann']);
      const msg = await room.post('ann', 'hello ✓');
      expect(msg).toMatchObject({ from: 'ann', text: 'hello ✓', seq: 1 });
      expect(await room.history()).toEqual([msg]);
      const err = await room.post('bob', 'hi').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
    });
  });

  describe(`${host}: turns`, () => {
    it('turns run one at a time by default; a reentrant class interleaves', async () => {
      const serial = client().getGrain(Serial, k('s'));
      await Promise.all(Array.from({ length: 12 }, () => serial.slowAdd(1, 5)));
      expect(await serial.stats()).toEqual({ n: 12, maxInside: 1 });
      const re = client().getGrain(ReentrantSerial, k('s'));
      await Promise.all(Array.from({ length: 12 }, () => re.slowAdd(1, 20)));
      const stats = await re.stats();
      expect(stats.maxInside).toBeGreaterThan(1);
      expect(stats.n).toBeLessThan(12); // interleaved read-modify-write loses updates: the proof
    });

    it('static interleave lets single methods run beside a blocked turn', async () => {
      const g = client().getGrain(Gate, k('g'));
      const held = g.hold();
      await expect.poll(() => g.peek(), { timeout: 20_000 }).toBe(true);
      await g.open();
      expect(await held).toBe('released');
    });

    it('a call that never answers fails with TimeoutError at the caller\'s deadline', async () => {
      const impatient = GrainClient.http(hostUrl(client()), { responseTimeoutMs: 300 });
      try {
        // (Without a deadline the call would wait until the test's timeout: it never answers.)
        const err = await impatient.getGrain(Gate, k('never')).never().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TimeoutError);
      } finally {
        await impatient.close();
      }
    });
  });

  describe(`${host}: errors`, () => {
    it('a grain exception arrives as GrainError grain_error with name and message; the grain stays usable', async () => {
      const t = client().getGrain(Thrower, k('t'));
      const err = await t.fail('range').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      expect(err).toMatchObject({ code: 'grain_error', name: 'RangeError', message: 'out of range' });
      expect(await t.fail('other').catch((e: GrainError) => [e.code, e.name, e.message])).toEqual(['grain_error', 'Error', 'boom']);
      expect(await t.fail('string').catch((e: GrainError) => e.code)).toBe('grain_error');
      expect(await t.calls()).toBe(4); // same activation, in-memory state kept
    });

    it('unknown type → GrainNotFoundError; unknown, private and base methods → MethodNotFoundError', async () => {
      await expect(client().getGrain<Counter>('NoSuchGrain', 'x').get()).rejects.toBeInstanceOf(GrainNotFoundError);
      // A client that never saw the class: its references send any method name.
      const blind = GrainClient.http(hostUrl(client()));
      try {
        const untyped = blind.getGrain<Record<string, () => Promise<unknown>>>('Thrower', k('x')) as unknown as Record<string, () => Promise<unknown>>;
        for (const m of ['nope', '_hidden', 'writeState', 'onActivate', 'constructor', 'getGrain', 'deactivateOnIdle', 'initialState', 'hasOwnProperty']) {
          const e = await untyped[m]!().catch((x: unknown) => x);
          expect(e, m).toBeInstanceOf(MethodNotFoundError);
          expect((e as GrainError).code, m).toBe('method_not_found');
        }
      } finally {
        await blind.close();
      }
    });

    it('arguments that cannot travel are refused with InvalidArgumentError; rich values round-trip', async () => {
      const t = client().getGrain(Thrower, k('args'));
      await expect(t.echo(() => 1)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(t.giveFunction()).rejects.toBeInstanceOf(InvalidArgumentError);
      const v = { d: new Date(5), m: new Map([[1, new Set([2n])]]), b: new Uint8Array([7]), u: undefined, n: -0, i: Infinity };
      expect(await t.echo(v)).toEqual(v);
    });
  });

  describe(`${host}: request context`, () => {
    it('flows client → grain → grain; a grain\'s set flows down, never back up', async () => {
      await RequestContext.run({ user: 'alice', tenant: 't1' }, async () => {
        expect(await client().getGrain(Counter, k('ctx')).whoAsked()).toBe('alice');
        expect(await client().getGrain(ContextProbe, k('c')).chain('tenant', 3)).toBe('t1');
        expect(await client().getGrain(ContextProbe, k('c')).setAndForward('k', { deep: [1] }, k('d'))).toEqual([{ deep: [1] }, { deep: [1] }]);
        expect(await client().getGrain(ContextProbe, k('c')).read('k')).toBeUndefined();
        expect(RequestContext.get('k')).toBeUndefined();
      });
      expect(await client().getGrain(Counter, k('ctx')).whoAsked()).toBeUndefined();
    });
  });

  describe(`${host}: grain-to-grain calls and cycles`, () => {
    it('A → B → A and A → A run (call-chain reentrancy), they never hang', async () => {
      // (A hang would last until the call's deadline and end in TimeoutError, not these answers.)
      expect(await client().getGrain(Pinger, k('a')).ping(k('b'))).toBe(`${k('b')}:pong(${k('a')}#1)`);
      expect(await client().getGrain(Pinger, k('a')).self()).toBe(`pong(${k('a')}#2)`);
    });

    it('a chain of distinct grains works; runaway recursion is refused with DeadlockError', async () => {
      expect(await client().getGrain(Pinger, k('r')).recurse(8)).toBe(8);
      const err = await client().getGrain(Pinger, k('deep')).recurse(1000).catch((e: unknown) => e);
      expect((err as GrainError).code).toBe('deadlock');
    });

    it('a call back into a grain still activating fails at once with DeadlockError', async () => {
      const err = await client().getGrain(Cyclic, k('x')).hello().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      // The deadlock check's answer, not the deadline's (that would be code 'timeout').
      expect((err as GrainError).code).toBe('deadlock');
    });

    it('presence sample: player and game call each other', async () => {
      const p = client().getGrain(Player, k('p1'));
      expect(await p.joinGame(k('g1'))).toEqual([k('p1')]);
      expect(await client().getGrain(Player, k('p2')).joinGame(k('g1'))).toEqual([k('p1'), k('p2')]);
      expect(await client().getGrain(GameSession, k('g1')).heartbeat(k('p1'), 5)).toBe(5);
      expect(await client().getGrain(GameSession, k('g1')).end()).toEqual({ [k('p1')]: 5 });
      expect(await p.currentGame()).toBeUndefined();
      const late = await client().getGrain(GameSession, k('g1')).addPlayer('p3').catch((e: unknown) => e);
      expect(late).toMatchObject({ code: 'grain_error', message: `game ${k('g1')} has ended` });
    });
  });

  describe(`${host}: transactions across grains`, () => {
    it('transfers are atomic: under concurrent transfers money is neither made nor lost', async () => {
      const accounts = ['t1', 't2', 't3', 't4'].map(k);
      const mint = client().getGrain(Mint, k('mint'));
      expect(await Promise.all(accounts.map((a) => mint.fund(a, 100)))).toEqual([100, 100, 100, 100]);
      const bank = client().getGrain(Bank, k('bank'));
      // Conflicting transactions abort rather than wait: a caller retries those.
      const backoff = workloadRandom('workers: transfer retry backoff');
      const transfer = async (from: string, to: string, amount: number): Promise<string> => {
        for (let attempt = 0; attempt < 40; attempt++) {
          try {
            await bank.transfer(from, to, amount);
            return 'ok';
          } catch (e) {
            if (!(e instanceof TransactionAbortedError)) return `failed: ${(e as Error).message}`;
            if (/insufficient funds/.test(e.message)) return 'insufficient';
            await new Promise((r) => setTimeout(r, 5 + backoff() * 40));
          }
        }
        return 'gave up';
      };
      const outcomes = await Promise.all(Array.from({ length: 16 }, (_, i) =>
        transfer(accounts[i % 4]!, accounts[(i * 3 + 1) % 4]!, 10 + (i % 5) * 20)));
      for (const o of outcomes) expect(['ok', 'insufficient']).toContain(o);
      expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(4);
      expect(await bank.total(accounts)).toBe(400);
      const balances = await Promise.all(accounts.map((a) => client().getGrain(Account, a).balance()));
      expect(balances.reduce((x, y) => x + y, 0)).toBe(400);
      for (const b of balances) expect(b).toBeGreaterThanOrEqual(0);
    });

    it('an aborted transfer changes nothing', async () => {
      const [a, b] = [k('poor'), k('rich')];
      await client().getGrain(Mint, k('mint2')).fund(a, 5);
      const err = await client().getGrain(Bank, k('bank2')).transfer(a, b, 50).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransactionAbortedError);
      expect(await client().getGrain(Account, a).balance()).toBe(5);
      expect(await client().getGrain(Account, b).balance()).toBe(0);
    });
  });

  describe(`${host}: argument schemas`, () => {
    it('Counter.add("x") is refused with invalid_argument before the grain runs; Bank.transfer with a string amount moves nothing', async () => {
      const c = client().getGrain(Counter, k('schema'));
      const err = await (c.add as (n: unknown) => Promise<number>)('x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err).toMatchObject({ code: 'invalid_argument' });
      expect((err as Error).message).toMatch(/Counter\.add .*argument 0/);
      await expect((c.add as (...a: unknown[]) => Promise<number>)(1, 2)).rejects.toMatchObject({ code: 'invalid_argument' });
      expect(await c.get()).toBe(0);
      const bank = client().getGrain(Bank, k('bank'));
      await expect((bank.transfer as (...a: unknown[]) => Promise<void>)(k('s1'), k('s2'), '5')).rejects.toMatchObject({ code: 'invalid_argument' });
      expect(await bank.total([k('s1'), k('s2')])).toBe(0);
    });
  });

  describe(`${host}: call filters (the host runs probeFilters from test/fixtures/filters.ts)`, () => {
    it('an incoming filter replaces arguments, answers in the method\'s place, refuses, and wraps the result', async () => {
      const p = client().getGrain(FilterProbe, k('f'));
      expect(await p.echo(21)).toBe(42);
      expect(await p.never()).toBe('answered by the filter');
      const err = await p.refused().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      expect(err).toMatchObject({ code: 'refused_by_filter' });
      expect(await p.plusOne(1)).toEqual({ result: 2 });
    });

    it('an incoming filter sees the call\'s request context', async () => {
      const p = client().getGrain(FilterProbe, k('f'));
      expect(await RequestContext.run({ user: 'ann' }, () => p.contextUser())).toBe('ann');
      expect(await p.contextUser()).toBe(null);
    });

    it('an outgoing filter adds context values that travel with that call only', async () => {
      const p = client().getGrain(FilterProbe, k('f'));
      expect(await p.relay(k('g'))).toEqual({ seen: `tagged:${k('g')}`, after: null });
      // A call from outside any grain runs no silo outgoing filter.
      expect(await client().getGrain(FilterProbe, k('g')).tagSeen()).toBe(null);
    });
  });
}

/** The URL a `GrainClient.http` was made with (kept by the suite's callers). */
const urls = new WeakMap<GrainClient, string>();
export function httpClient(url: string): GrainClient {
  const c = GrainClient.http(url);
  urls.set(c, url);
  return c;
}
function hostUrl(c: GrainClient): string {
  const u = urls.get(c);
  if (u === undefined) throw new Error('make the suite\'s client with httpClient(url)');
  return u;
}
