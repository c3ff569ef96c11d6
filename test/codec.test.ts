import { describe, expect, it } from 'vitest';
import { GrainError, InvalidArgumentError } from 'granary';
import { decode, encode, grainId } from 'granary/internal';

const roundTrip = (v: unknown) => decode(encode(v));

describe('wire codec', () => {
  it('round-trips rich values', () => {
    const value = {
      date: new Date('2030-01-02T03:04:05.678Z'),
      map: new Map<unknown, unknown>([['a', 1], [2, { b: [3n] }]]),
      set: new Set([1, 'x', null]),
      big: 12345678901234567890n,
      bytes: new Uint8Array([0, 1, 254, 255]),
      undef: undefined,
      arr: [undefined, NaN, Infinity, -Infinity, -0, 0],
      nested: { deep: { deeper: [{ re: /a+b/gi }] } },
      unicode: 'żółw 🐢',
      dollar: { $: 'date', v: 1 },
      proto: JSON.parse('{"__proto__": {"polluted": true}}'),
    };
    const out = roundTrip(value) as typeof value;
    expect(out.date).toEqual(value.date);
    expect(out.map).toEqual(value.map);
    expect(out.set).toEqual(value.set);
    expect(out.big).toBe(value.big);
    expect(out.bytes).toEqual(value.bytes);
    expect(out.bytes).toBeInstanceOf(Uint8Array);
    expect('undef' in out && out.undef === undefined).toBe(true);
    expect(out.arr.length).toBe(6);
    expect(out.arr[0]).toBeUndefined();
    expect(out.arr[1]).toBeNaN();
    expect(out.arr.slice(2, 4)).toEqual([Infinity, -Infinity]);
    expect(Object.is(out.arr[4], -0)).toBe(true);
    expect(out.nested.deep.deeper[0]!.re).toEqual(/a+b/gi);
    expect(out.unicode).toBe(value.unicode);
    expect(out.dollar).toEqual({ $: 'date', v: 1 }); // user data is never mistaken for a tag
    expect(Object.getPrototypeOf(out.proto)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(out.proto)).toEqual(['__proto__']);
  });

  it('round-trips errors, keeping GrainError codes', () => {
    const e = roundTrip(new RangeError('bad')) as Error;
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.message]).toEqual(['RangeError', 'bad']);
    const g = roundTrip(new InvalidArgumentError('nope', { data: { field: 'x' } })) as GrainError;
    expect(g).toBeInstanceOf(GrainError);
    expect([g.code, g.message, g.data]).toEqual(['invalid_argument', 'nope', { field: 'x' }]);
  });

  it('keeps shared (non-cyclic) references as copies', () => {
    const shared = { a: 1 };
    expect(roundTrip([shared, shared])).toEqual([{ a: 1 }, { a: 1 }]);
  });

  it('sends grain ids and refs as identities', () => {
    expect(roundTrip({ id: grainId('Counter', 'a/b') })).toEqual({ id: 'Counter/a/b' });
  });

  it('rejects functions, symbols and cycles with InvalidArgumentError', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const bad = [() => 1, { f: function named() {} }, Symbol('s'), [Symbol.iterator], cyclic, new Float32Array(2), Promise.resolve(1)];
    bad.forEach((b, i) => expect(() => encode(b), `case ${i}`).toThrow(InvalidArgumentError));
    expect(() => encode(cyclic)).toThrow(/cyclic/);
    expect(() => encode({ f() {} })).toThrow(/function/);
  });

  it('refuses cycles of any length, starting at any depth, through maps and sets too; shared references deep down are copies', () => {
    const chain = (n: number) => {
      const head: Record<string, unknown> = {};
      let last = head;
      for (let i = 1; i < n; i++) { const next = {}; last.next = next; last = next; }
      return { head, last };
    };
    for (const period of [1, 2, 15, 16, 17, 40, 200]) {
      const { head, last } = chain(period);
      last.next = head;
      expect(() => encode(head), `period ${period}`).toThrow(/cyclic/);
      const deep = chain(30);
      deep.last.next = head; // the cycle starts 30 levels down
      expect(() => encode(deep.head), `period ${period} from depth 30`).toThrow(/cyclic/);
    }
    const m = new Map<string, unknown>();
    m.set('self', [new Set([m])]);
    expect(() => encode(m)).toThrow(/cyclic/);
    const shared = { leaf: 1 };
    const { head, last } = chain(40);
    last.next = [shared, shared];
    expect(() => encode(head)).not.toThrow();
  });

  it('rejects malformed payloads and unknown tags with InvalidArgumentError', () => {
    expect(() => decode('{not json')).toThrow(InvalidArgumentError);
    expect(() => decode('{"$":"nope"}')).toThrow(/unknown tag/);
  });
});
