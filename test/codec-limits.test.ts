/**
 * The codec refuses before it allocates (issue 17.2): each tag's payload is checked for type
 * and size; what a payload makes the decoder build is bounded by the payload's own length.
 * Property-based (fast-check) over the tagged form, with a printed, replayable seed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvalidArgumentError } from 'granary';
import { CODEC_LIMITS, decode, encode } from 'granary/internal';

const seed = Number(process.env.GRANARY_TEST_SEED ?? Date.now() % 2 ** 31);
console.log(`codec-limits: fast-check seed ${seed} (replay with GRANARY_TEST_SEED=${seed})`);

/** A rough measure of what a decoded value holds: nodes plus bytes of strings, binaries and digits. */
function weight(v: unknown, seen = new Set<unknown>()): number {
  if (v === null || v === undefined) return 1;
  switch (typeof v) {
    case 'string': return 1 + v.length;
    case 'bigint': return 1 + v.toString().length;
    case 'number': case 'boolean': return 1;
    default: break;
  }
  if (seen.has(v)) return 1;
  seen.add(v);
  if (v instanceof Uint8Array) return 1 + v.byteLength;
  if (v instanceof RegExp) return 1 + v.source.length;
  if (v instanceof Date) return 1;
  if (v instanceof Map) { let n = 1; for (const [k, x] of v) n += weight(k, seen) + weight(x, seen); return n; }
  if (v instanceof Set || Array.isArray(v)) { let n = 1; for (const x of v) n += weight(x, seen); return n; }
  if (v instanceof Error) return 1 + v.message.length;
  let n = 1;
  for (const k of Object.keys(v as object)) n += k.length + weight((v as Record<string, unknown>)[k], seen);
  return n;
}

/** Any JSON, with tagged objects mixed in, their payloads of any type. */
const tagged = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 3 }),
    tie('tag'),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 5 }), tie('value'), { maxKeys: 4 }),
  ),
  tag: fc.record({
    $: fc.constantFrom('obj', 'undef', 'num', 'big', 'date', 'bytes', 'map', 'set', 're', 'ref', 'err', 'nope', 7),
    v: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.string(),
      fc.stringMatching(/^-?\d{0,30}$/),
      fc.base64String(),
      fc.record({ length: fc.integer({ min: 0, max: 2 ** 31 }) }),
      tie('value'),
    ),
    t: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
    k: fc.oneof(fc.string({ maxLength: 8 }), fc.constant(null)),
    f: fc.oneof(fc.constantFrom('g', 'gi', 'zz', ''), fc.integer()),
    code: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
    message: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
  }, { requiredKeys: ['$'] }),
}));

describe('codec limits', () => {
  it('any tagged payload decodes to a value or InvalidArgumentError, and the value weighs at most a few times the text', () => {
    fc.assert(
      fc.property(tagged.value, (raw) => {
        const text = JSON.stringify(raw);
        let out: unknown;
        try {
          out = decode(text);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidArgumentError);
          return;
        }
        // Amplification bound: base64 shrinks, digits stay digits; nothing grows past the text.
        expect(weight(out)).toBeLessThanOrEqual(2 * text.length + 8);
      }),
      { seed, numRuns: 3_000 },
    );
  });

  it('the red team\'s payloads are refused before anything is allocated for them', () => {
    const refused = (text: string, why: RegExp) => {
      const err = (() => { try { decode(text); } catch (e) { return e; } return undefined; })();
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(why);
    };
    // An array-like "bytes" payload: Buffer.from would allocate length bytes.
    refused('{"$":"bytes","v":{"length":100000000}}', /"bytes" needs a base64 string/);
    // A BigInt of a million digits (parsing is quadratic).
    refused(`{"$":"big","v":"${'9'.repeat(1_000_000)}"}`, /at most 4096 decimal digits/);
    refused('{"$":"big","v":"12x"}', /"big" needs/);
    // Exactly at the limit, with or without a sign; one digit more is refused.
    expect(decode(`{"$":"big","v":"${'9'.repeat(4_096)}"}`)).toBe(10n ** 4_096n - 1n);
    expect(decode(`{"$":"big","v":"-${'9'.repeat(4_096)}"}`)).toBe(-(10n ** 4_096n - 1n));
    refused(`{"$":"big","v":"${'9'.repeat(4_097)}"}`, /at most 4096 decimal digits/);
    refused('{"$":"map","v":{"length":5}}', /"map" needs an array/);
    refused('{"$":"map","v":[[1]]}', /"map" needs an array of \[key, value\] pairs/);
    refused('{"$":"set","v":"abc"}', /"set" needs an array/);
    refused('{"$":"date","v":"soon"}', /"date" needs a finite number/);
    refused('{"$":"num","v":"12"}', /"num" carries/);
    refused(`{"$":"re","v":"${'a'.repeat(5_000)}","f":""}`, /"re" needs a source/);
    refused('{"$":"re","v":"(","f":""}', /"re":/);
    refused('{"$":"ref","t":{"x":1},"k":"a"}', /"ref" needs/);
    refused('{"$":"obj","v":[1]}', /"obj" needs an object/);
  });

  it('depth is bounded the same way in and out', () => {
    let deep: unknown = 1;
    for (let i = 0; i < CODEC_LIMITS.maxDepth + 1; i++) deep = [deep];
    expect(() => encode(deep)).toThrow(InvalidArgumentError);
    expect(() => encode(deep)).toThrow(/deeper than 256 levels/);
    expect(() => decode(`${'['.repeat(CODEC_LIMITS.maxDepth + 1)}${']'.repeat(CODEC_LIMITS.maxDepth + 1)}`)).toThrow(/deeper than 256 levels/);
    expect(() => decode(`${'['.repeat(200_000)}${']'.repeat(200_000)}`)).toThrow(InvalidArgumentError);
    let ok: unknown = 1;
    for (let i = 0; i < CODEC_LIMITS.maxDepth - 1; i++) ok = { a: ok };
    expect(decode(encode(ok))).toEqual(ok);
  });

  it('within the limits, rich values still round-trip', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: -(10n ** 4_000n), max: 10n ** 4_000n }), fc.uint8Array({ maxLength: 64 }), fc.date({ noInvalidDate: true })),
        (v) => { expect(decode(encode(v))).toEqual(v); },
      ),
      { seed, numRuns: 300 },
    );
  });
});
