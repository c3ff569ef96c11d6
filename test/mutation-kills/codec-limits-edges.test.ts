/**
 * The codec's limits at their edges (docs/deploy.md "Limits", `CODEC_LIMITS`): exactly at a
 * limit is accepted, one past it is `InvalidArgumentError`, and every tag's payload must be of
 * its own type. Added where mutation testing found the edges and some tag checks unchecked.
 */
import { describe, expect, it } from 'vitest';
import { GrainError, InvalidArgumentError } from 'granary';
import { CODEC_LIMITS, decode, encode } from '../../runtime/codec.js';

const refused = (text: string) => {
  let caught: unknown;
  try {
    decode(text);
  } catch (err) {
    caught = err;
  }
  expect(caught, text.slice(0, 80)).toBeInstanceOf(InvalidArgumentError);
  return (caught as Error).message;
};

describe('limits at the edge', () => {
  it(`a BigInt of ${CODEC_LIMITS.maxBigIntDigits} digits decodes, with or without a sign; longer text is refused`, () => {
    const digits = '9'.repeat(CODEC_LIMITS.maxBigIntDigits);
    expect(decode(JSON.stringify({ $: 'big', v: digits }))).toBe(BigInt(digits));
    expect(decode(JSON.stringify({ $: 'big', v: `-${digits}` }))).toBe(-BigInt(digits));
    expect(refused(JSON.stringify({ $: 'big', v: `-${digits}99` }))).toMatch(/"big" needs a string of at most 4096 decimal digits/);
    expect(refused(JSON.stringify({ $: 'big', v: 12 }))).toMatch(/"big"/);
  });

  it(`a RegExp source of ${CODEC_LIMITS.maxRegExpSource} characters decodes; one more is refused`, () => {
    const source = 'a'.repeat(CODEC_LIMITS.maxRegExpSource);
    expect((decode(JSON.stringify({ $: 're', v: source, f: 'g' })) as RegExp).source).toBe(source);
    expect(refused(JSON.stringify({ $: 're', v: `${source}a`, f: '' }))).toMatch(/"re" needs a source of at most 1024 characters/);
  });

  it(`a reference's type and key may have ${CODEC_LIMITS.maxRefPart} characters each; one more, an empty type or a non-string is refused`, () => {
    const long = 'k'.repeat(CODEC_LIMITS.maxRefPart);
    expect(decode(JSON.stringify({ $: 'ref', t: long, k: long }))).toEqual({ type: long, key: long });
    expect(decode(JSON.stringify({ $: 'ref', t: 'T', k: '' }))).toEqual({ type: 'T', key: '' });
    for (const bad of [
      { $: 'ref', t: `${long}k`, k: 'a' },
      { $: 'ref', t: 'T', k: `${long}k` },
      { $: 'ref', t: '', k: 'a' },
      { $: 'ref', t: 1, k: 'a' },
      { $: 'ref', t: 'T', k: 1 },
    ]) {
      expect(refused(JSON.stringify(bad))).toMatch(/"ref" needs a grain type and key/);
    }
  });

  it(`nesting of ${CODEC_LIMITS.maxDepth} levels encodes; deeper is refused with what to do`, () => {
    let ok: unknown = 1;
    for (let i = 0; i < CODEC_LIMITS.maxDepth; i++) ok = [ok];
    expect(decode(encode(ok))).toEqual(ok);
    const deeper = [ok];
    expect(() => encode(deeper)).toThrow(/nests deeper than 256 levels; flatten it/);
  });
});

describe('tag payloads of the wrong type', () => {
  it('"bytes" takes only base64 text', () => {
    expect(decode(JSON.stringify({ $: 'bytes', v: 'AQL/' }))).toEqual(new Uint8Array([1, 2, 255]));
    for (const v of ['a!b', 'AQL/!', '!AQL/', 'AQL/===']) {
      expect(refused(JSON.stringify({ $: 'bytes', v }))).toMatch(/"bytes" needs a base64 string/);
    }
  });

  it('"date" takes only a finite number', () => {
    expect(decode('{"$":"date","v":5}')).toEqual(new Date(5));
    expect(refused('{"$":"date","v":"5"}')).toMatch(/"date" needs a finite number/);
    expect(refused('{"$":"date","v":1e999}')).toMatch(/"date" needs a finite number/);
  });

  it('"err" keeps a code only when it is a non-empty string, and falls back for a non-string name or message', () => {
    const coded = decode('{"$":"err","code":"out_of_stock","name":"Sold","message":"gone","data":{"$":"big","v":"5"}}') as GrainError;
    expect(coded).toBeInstanceOf(GrainError);
    expect(coded).toMatchObject({ code: 'out_of_stock', name: 'Sold', message: 'gone', data: 5n });
    const plain = decode('{"$":"err","code":"","name":"TypeError","message":"m"}') as Error;
    expect(plain).not.toBeInstanceOf(GrainError);
    expect(plain).toMatchObject({ name: 'TypeError', message: 'm' });
    const odd = decode('{"$":"err","name":5,"message":{"x":1}}') as Error;
    expect(odd.name).toBe('Error');
    expect(odd.message).toBe('');
  });

  it('a payload that is not JSON is "malformed", not "too deep"', () => {
    expect(refused('{"args": [1,')).toMatch(/^malformed payload/);
  });
});

describe('encode errors', () => {
  it('says what cannot travel, in its own words', () => {
    expect(() => encode(() => 1)).toThrow(/^cannot serialise a function/);
    expect(() => encode({ s: Symbol('x') })).toThrow(/^cannot serialise a symbol \(Symbol\(x\)\)/);
  });

  it('a value whose toJSON throws is an InvalidArgumentError carrying the cause', () => {
    const boom = new TypeError('no JSON for you');
    class Odd { toJSON(): never { throw boom; } }
    let caught: unknown;
    try {
      encode({ odd: new Odd() });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as Error).message).toBe('value cannot be serialised: no JSON for you');
    expect((caught as Error).cause).toBe(boom);
  });
});
