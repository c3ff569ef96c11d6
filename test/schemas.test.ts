/**
 * Argument schemas (API.md "Argument schemas"): Standard Schema validation before the grain
 * runs, from every caller; the behaviour suite (test/workers/behaviour-suite.ts) checks the
 * same over HTTP on a silo and on the Worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Grain, InvalidArgumentError, TestCluster, TransactionAbortedError } from 'granary';
import type { StandardSchemaV1 } from 'granary/internal';
import { Account, Bank, Counter, Ledger } from '../grains/index.js';

/** A Standard Schema written by hand: any library that implements the interface works. */
const evenNumber: StandardSchemaV1<number> = {
  '~standard': {
    version: 1,
    vendor: 'handmade',
    validate: (v) => (typeof v === 'number' && v % 2 === 0 ? { value: v } : { issues: [{ message: 'expected an even number' }] }),
  },
};

/** An async one. */
const knownColour: StandardSchemaV1<string> = {
  '~standard': {
    version: 1,
    vendor: 'handmade',
    validate: async (v) => {
      await new Promise((r) => setTimeout(r, 1));
      return v === 'red' || v === 'green' ? { value: v } : { issues: [{ message: `unknown colour ${JSON.stringify(v)}` }] };
    },
  },
};

class Shapes extends Grain {
  static grainType = 'Shapes';
  static schemas = {
    area: [z.object({ w: z.number().positive(), h: z.number().positive() })],
    trimmed: [z.string().trim().toUpperCase()],
    even: [evenNumber],
    paint: [knownColour, z.number().int().optional()],
    nothing: [],
  };
  async area(r: { w: number; h: number }): Promise<number> { return r.w * r.h; }
  async trimmed(s: string): Promise<string> { return s; }
  async even(n: number): Promise<number> { return n; }
  async paint(colour: string, coats = 1): Promise<string> { return `${colour}×${coats}`; }
  async nothing(): Promise<string> { return 'ok'; }
  async unchecked(x: unknown): Promise<unknown> { return x; }
}

let cluster: TestCluster;
beforeAll(async () => { cluster = await TestCluster.start({ silos: 2, grains: [Counter, Shapes, Account, Ledger, Bank] }); });
afterAll(() => cluster?.stop());

async function refusal(p: Promise<unknown>): Promise<InvalidArgumentError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect(err).toMatchObject({ code: 'invalid_argument' });
  return err as InvalidArgumentError;
}

describe('argument schemas', () => {
  it('Counter.add("x") is refused before the grain runs: nothing stored, the issue names argument 0', async () => {
    const c = cluster.client.getGrain(Counter, 'schema');
    const err = await refusal((c.add as (n: unknown) => Promise<number>)('x'));
    expect(err.message).toMatch(/Counter\.add .*argument 0: /);
    expect((err.data as { issues: { path: unknown[] }[] }).issues[0]!.path).toEqual([0]);
    await refusal((c.add as (n: unknown) => Promise<number>)(1.5));
    expect(await c.get()).toBe(0);
    expect(await c.add(2)).toBe(2);
  });

  it('each issue carries its path inside the argument', async () => {
    const s = cluster.client.getGrain(Shapes, 'a');
    const err = await refusal(s.area({ w: -1, h: 'x' as unknown as number }));
    const paths = (err.data as { issues: { path: unknown[] }[] }).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining([[0, 'w'], [0, 'h']]));
    expect(await s.area({ w: 2, h: 3 })).toBe(6);
  });

  it('surplus arguments are refused when the method has schemas; absent trailing ones keep the default', async () => {
    const s = cluster.client.getGrain(Shapes, 'a');
    const err = await refusal((s.nothing as (...a: unknown[]) => Promise<string>)(1));
    expect(err.message).toMatch(/at most 0 argument/);
    await refusal((s.paint as (...a: unknown[]) => Promise<string>)('red', 2, 3));
    expect(await s.paint('red')).toBe('red×1');
    expect(await s.paint('green', 3)).toBe('green×3');
  });

  it('the method gets the validated (transformed) values; hand-written and async schemas work', async () => {
    const s = cluster.client.getGrain(Shapes, 'a');
    expect(await s.trimmed('  hi ')).toBe('HI');
    expect(await s.even(4)).toBe(4);
    expect((await refusal(s.even(3))).message).toMatch(/expected an even number/);
    expect((await refusal(s.paint('blue'))).message).toMatch(/unknown colour "blue"/);
  });

  it('a method without schemas is not checked', async () => {
    expect(await cluster.client.getGrain(Shapes, 'a').unchecked({ any: ['thing'] })).toEqual({ any: ['thing'] });
  });

  it('grain-to-grain calls are checked too: Bank.transfer with a string amount makes no money', async () => {
    const bank = cluster.client.getGrain(Bank, 'b');
    await cluster.client.transaction(() => cluster.client.getGrain(Account, 'm1').deposit(200));
    await refusal((bank.transfer as (...a: unknown[]) => Promise<void>)('m1', 'm2', '5'));
    // Account.deposit checks its own argument, also when a grain calls it inside a transaction.
    const err = await cluster.client.transaction(() => (cluster.client.getGrain(Account, 'm2').deposit as (n: unknown) => Promise<void>)(-5))
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionAbortedError);
    expect(await bank.total(['m1', 'm2'])).toBe(200);
  });

  it('a transfer id of "__proto__" is recorded like any other', async () => {
    await cluster.client.transaction(() => cluster.client.getGrain(Account, 'p1').deposit(10));
    await cluster.client.getGrain(Bank, 'b').transfer('p1', 'p2', 3, '__proto__');
    expect(await cluster.client.getGrain(Ledger, 'p1').entries()).toEqual([{ id: '__proto__', from: 'p1', to: 'p2', amount: 3 }]);
    await expect(cluster.client.getGrain(Bank, 'b').transfer('p1', 'p2', 3, '__proto__')).rejects.toBeInstanceOf(TransactionAbortedError);
    expect(await cluster.client.getGrain(Bank, 'b').total(['p1', 'p2'])).toBe(10);
  });

  it('a class whose schemas name a missing method, or hold something that is not a schema, is refused at registration', async () => {
    class Bad extends Grain { static schemas = { nope: [z.string()] }; async yes(): Promise<void> {} }
    class Worse extends Grain { static schemas = { yes: [{}] } as never; async yes(): Promise<void> {} }
    await expect(TestCluster.start({ silos: 1, grains: [Bad] })).rejects.toThrow(/Bad\.schemas names "nope", which is not a callable method/);
    await expect(TestCluster.start({ silos: 1, grains: [Worse] })).rejects.toThrow(/Worse\.schemas\.yes must be an array with one Standard Schema/);
  });
});
