/**
 * Argument schemas (API.md "Argument schemas") at their edges: each issue's path (Standard
 * Schema path segments may be keys or `{ key }` objects), the message naming each argument,
 * surplus arguments, defaults a schema fills in for absent trailing arguments, and a class
 * with `schemas` that is not an object. Each test starts its own silo, so the check runs inside
 * the test (mutation testing attributes what runs in `beforeAll` to no test).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Grain, InvalidArgumentError, Silo } from 'granary';
import type { StandardSchemaV1 } from 'granary/internal';

/** A hand-written schema whose one issue has the given path. */
const failsAt = (path: (PropertyKey | { key: PropertyKey })[]): StandardSchemaV1 => ({
  '~standard': { version: 1, vendor: 'handmade', validate: () => ({ issues: [{ message: 'nope', path }] }) },
});

/** Lets anything through unchanged (`undefined` stays `undefined`). */
const anything: StandardSchemaV1 = {
  '~standard': { version: 1, vendor: 'handmade', validate: (v) => ({ value: v }) },
};

const sym = Symbol('s');

class Checked extends Grain {
  static grainType = 'Checked';
  static schemas = {
    nested: [failsAt([{ key: 'a' }, 0, 'b'])],
    symbolic: [failsAt([sym])],
    pair: [z.number(), z.string()],
    defaulted: [z.number().default(5)],
    secondDefaulted: [z.number(), z.number().default(7)],
    optional: [anything, anything],
    one: [z.number()],
  };
  async nested(_x: unknown): Promise<void> {}
  async symbolic(_x: unknown): Promise<void> {}
  async pair(_a: unknown, _b: unknown): Promise<void> {}
  async defaulted(...args: unknown[]): Promise<unknown[]> { return args; }
  async secondDefaulted(...args: unknown[]): Promise<unknown[]> { return args; }
  async optional(...args: unknown[]): Promise<number> { return args.length; }
  async one(n: number): Promise<number> { return n; }
  async free(...args: unknown[]): Promise<number> { return args.length; }
}

let silo: Silo | undefined;
afterEach(async () => {
  await silo?.stop();
  silo = undefined;
});

async function refusal(p: Promise<unknown>): Promise<InvalidArgumentError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect((err as InvalidArgumentError).code).toBe('invalid_argument');
  return err as InvalidArgumentError;
}

describe('argument schemas at the edges', () => {
  it('an issue path of keys and { key } segments: numbers stay numbers, the rest become text', async () => {
    silo = await Silo.start({ grains: [Checked] });
    const g = silo.getGrain(Checked, 'g');
    const nested = await refusal(g.nested(1));
    expect(nested.data).toEqual({ issues: [{ path: [0, 'a', 0, 'b'], message: 'nope' }] });
    expect(nested.message).toBe('Checked.nested was called with invalid arguments: argument 0 at a.0.b: nope');
    const symbolic = await refusal(g.symbolic(1));
    expect(symbolic.data).toEqual({ issues: [{ path: [0, 'Symbol(s)'], message: 'nope' }] });
  });

  it('every failing argument is listed, by position', async () => {
    silo = await Silo.start({ grains: [Checked] });
    const err = await refusal(silo.getGrain(Checked, 'g').pair('x', 2));
    expect((err.data as { issues: { path: unknown[] }[] }).issues.map((i) => i.path)).toEqual([[0], [1]]);
    expect(err.message).toMatch(/invalid arguments: argument 0: .+; argument 1: /);
  });

  it('a surplus argument is an issue at its position', async () => {
    silo = await Silo.start({ grains: [Checked] });
    const err = await refusal(silo.getGrain(Checked, 'g').one(...([1, 2] as unknown as [number])));
    expect(err.data).toEqual({ issues: [{ path: [1], message: 'Checked.one takes at most 1 argument(s); got 2' }] });
  });

  it('a default a schema fills in reaches the method, also when no argument was passed', async () => {
    silo = await Silo.start({ grains: [Checked] });
    const g = silo.getGrain(Checked, 'g');
    expect(await g.defaulted()).toEqual([5]);
    expect(await g.secondDefaulted(1)).toEqual([1, 7]);
  });

  it('absent trailing arguments stay absent when their schemas leave them undefined', async () => {
    silo = await Silo.start({ grains: [Checked] });
    const g = silo.getGrain(Checked, 'g');
    expect(await g.optional()).toBe(0);
    expect(await g.optional(1)).toBe(1);
    expect(await g.free(1, 2, 3)).toBe(3); // no schemas: not checked
  });

  it('schemas that are not an object are refused at registration', async () => {
    class Broken extends Grain {
      static grainType = 'Broken';
      static schemas = 'add' as unknown as Record<string, StandardSchemaV1[]>;
      async add(): Promise<void> {}
    }
    await expect(Silo.start({ grains: [Broken] })).rejects.toThrow(/Broken\.schemas must be an object/);
  });
});
