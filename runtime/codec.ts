/**
 * The wire codec: JSON with tagged values for what JSON cannot carry (Date, Map, Set,
 * BigInt, Uint8Array, undefined, non-finite numbers, errors, RegExp, grain references).
 * Every message between silos, and in TestCluster every call, goes through it, so a value
 * that survives a TestCluster run survives the trip between processes.
 *
 * Tags are objects `{"$": tag, ...}`; a user object that itself has a `$` key is wrapped in
 * `{"$":"obj","v":{...}}`, so no user value is ever mistaken for a tag.
 */
import { InvalidArgumentError } from './errors.js';
import { GrainError } from './errors.js';
import { grainRefTarget, type GrainId, type HasGrainId } from './identity.js';

export interface DecodeOptions {
  /** Rebuilds a grain reference from its identity; without it refs decode as `{type, key}`. */
  ref?: (type: string, key: string) => unknown;
}

/**
 * The codec's limits, the same for every path (HTTP bodies, NATS frames, Durable Object RPC,
 * stored state). The size of a payload is bounded where it arrives (the gateway's body limit,
 * NATS's max_payload); these bound what a payload of that size may make the decoder do, so
 * that decoding costs time and memory in proportion to the payload's length: each tag's
 * payload is checked for its type and size before anything is allocated for it.
 */
export const CODEC_LIMITS = {
  /**
   * Nesting of arrays, objects, maps and sets in a value (an argument, a result, a state),
   * encode and decode alike; the same limit holds for plain-JSON answers (toPlainJson), and a
   * state deeper than it is refused by `writeState` before anything is written.
   */
  maxDepth: 256,
  /** Decimal digits of a BigInt (parsing is quadratic in them). */
  maxBigIntDigits: 4_096,
  /** Characters of a RegExp source. */
  maxRegExpSource: 1_024,
  /** Characters of a grain type or key inside a reference. */
  maxRefPart: 4_096,
} as const;

/**
 * `envelope`: how many levels of a message wrap the value (a reply's `{"value": …}` is 1, a
 * call's `{"args": [ … ]}` 2). They do not count against `maxDepth`, so the one limit is on the
 * value itself, wherever it travels: a state that could be stored can be answered, in any form.
 */
export function encode(value: unknown, envelope = 0): string {
  try {
    return JSON.stringify(toWire(value, null, -envelope));
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(`value cannot be serialised: ${(err as Error).message}`, { cause: err });
  }
}

/** `envelope`: levels of the message around the values, not counted against `maxDepth` (see `encode`). */
export function decode(text: string, options?: DecodeOptions, envelope = 0): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    if (err instanceof RangeError) throw tooDeep();
    throw new InvalidArgumentError(`malformed payload: ${(err as Error).message}`);
  }
  return fromWire(raw, options, -envelope);
}

// The checks' constants, made once: a regex literal in the decoder would be a new RegExp
// object at every tag it checks (the checks must cost next to nothing per call).
const MAX_DEPTH = CODEC_LIMITS.maxDepth;
const MAX_BIGINT_DIGITS = CODEC_LIMITS.maxBigIntDigits;
/** Nesting from which `encode` tracks the ancestors of a value to refuse cycles. */
const CYCLE_CHECK_DEPTH = 16;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const REGEXP_FLAGS = /^[dgimsuvy]{0,8}$/;

/** True for an optional "-" and 1 to `MAX_BIGINT_DIGITS` decimal digits (a loop: cheaper than a regex for the short ones). */
function isBigIntText(v: string): boolean {
  const start = v.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  const n = v.length - start;
  if (n === 0 || n > MAX_BIGINT_DIGITS) return false;
  for (let i = start; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function tooDeep(): InvalidArgumentError {
  return new InvalidArgumentError(`value nests deeper than ${CODEC_LIMITS.maxDepth} levels; flatten it`, { code: 'invalid_argument' });
}

function malformed(what: string): InvalidArgumentError {
  return new InvalidArgumentError(`malformed payload: ${what}`);
}

/** A deep copy through the codec: what a remote callee would receive. */
export function copy<T>(value: T, options?: DecodeOptions): T {
  if (value === null || (typeof value !== 'object' && typeof value !== 'bigint' && typeof value !== 'number' && typeof value !== 'undefined')) {
    return value;
  }
  return decode(encode(value), options) as T;
}

/** True when `v` needs no copy and no tag: passing it by value is already safe. */
export function isPlainPrimitive(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'boolean' || v === null || (t === 'number' && Number.isFinite(v) && !Object.is(v, -0));
}

// ---- encoding --------------------------------------------------------------------

function toWire(v: unknown, ancestors: Set<object> | null, depth: number): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { $: 'num', v: Object.is(v, -0) ? '-0' : String(v) };
    case 'bigint':
      return { $: 'big', v: v.toString() };
    case 'undefined':
      return { $: 'undef' };
    case 'function':
      throw new InvalidArgumentError(`cannot serialise a function${describe(v)}; pass data, or a grain reference`);
    case 'symbol':
      throw new InvalidArgumentError(`cannot serialise a symbol (${String(v)})`);
  }
  if (v === null) return null;
  const o = v as object;
  if (depth >= MAX_DEPTH) throw tooDeep();
  // Ancestors are tracked only from CYCLE_CHECK_DEPTH down: a cycle repeats without end, so it
  // still meets itself there, and the shallow values nearly every call carries cost no Set.
  if (depth < CYCLE_CHECK_DEPTH) return objectToWire(o, null, depth + 1);
  if (ancestors?.has(o)) throw new InvalidArgumentError('cannot serialise a cyclic structure (an object contains itself)');
  const seen = ancestors ?? new Set<object>();
  seen.add(o);
  try {
    return objectToWire(o, seen, depth + 1);
  } finally {
    seen.delete(o);
  }
}

function objectToWire(o: object, seen: Set<object> | null, depth: number): unknown {
  if (Array.isArray(o)) {
    const out = new Array(o.length);
    for (let i = 0; i < o.length; i++) out[i] = toWire(o[i], seen, depth);
    return out;
  }
  if (grainRefTarget in o) {
    const id = (o as HasGrainId)[grainRefTarget];
    return { $: 'ref', t: id.type, k: id.key };
  }
  if (o instanceof Date) return { $: 'date', v: o.getTime() };
  if (o instanceof Uint8Array) return { $: 'bytes', v: toBase64(o) };
  if (o instanceof Map) {
    const entries: unknown[] = [];
    for (const [k, val] of o) entries.push([toWire(k, seen, depth), toWire(val, seen, depth)]);
    return { $: 'map', v: entries };
  }
  if (o instanceof Set) {
    const items: unknown[] = [];
    for (const val of o) items.push(toWire(val, seen, depth));
    return { $: 'set', v: items };
  }
  if (o instanceof Error) {
    const e: Record<string, unknown> = { $: 'err', name: o.name, message: o.message };
    if (o instanceof GrainError) {
      e.code = o.code;
      if (o.data !== undefined) e.data = toWire(o.data, seen, depth);
    }
    return e;
  }
  if (o instanceof RegExp) return { $: 're', v: o.source, f: o.flags };
  if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) {
    throw new InvalidArgumentError(`cannot serialise a ${o.constructor.name}; use Uint8Array`);
  }
  if (o instanceof Promise) throw new InvalidArgumentError('cannot serialise a Promise; await it first');
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null && typeof (o as { toJSON?: unknown }).toJSON === 'function') {
    return toWire((o as { toJSON(): unknown }).toJSON(), seen, depth);
  }
  const out: Record<string, unknown> = {};
  let escaped = false;
  for (const k of Object.keys(o)) {
    if (k === '$') escaped = true;
    const v = toWire((o as Record<string, unknown>)[k], seen, depth);
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return escaped ? { $: 'obj', v: out } : out;
}

function describe(f: unknown): string {
  const name = (f as { name?: string }).name;
  return name ? ` (${name})` : '';
}

// ---- decoding --------------------------------------------------------------------

function fromWire(x: unknown, options: DecodeOptions | undefined, depth: number): unknown {
  if (x === null || typeof x !== 'object') return x;
  if (depth >= MAX_DEPTH) throw tooDeep();
  const d = depth + 1;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) x[i] = fromWire(x[i], options, d);
    return x;
  }
  const o = x as Record<string, unknown>;
  const tag = o.$;
  if (tag === undefined) return decodeProps(o, options, d);
  const v = o.v;
  switch (tag) {
    case 'obj':
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw malformed('"obj" needs an object');
      return decodeProps(v as Record<string, unknown>, options, d);
    case 'undef': return undefined;
    case 'num':
      if (v === '-0') return -0;
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
      throw malformed('"num" carries -0, NaN, Infinity or -Infinity');
    case 'big':
      if (typeof v !== 'string' || !isBigIntText(v)) {
        throw malformed(`"big" needs a string of at most ${CODEC_LIMITS.maxBigIntDigits} decimal digits`);
      }
      return BigInt(v);
    case 'date':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw malformed('"date" needs a finite number of milliseconds');
      return new Date(v);
    case 'bytes':
      // A string only: anything else (an array-like with a huge `length`) would allocate before it fails.
      if (typeof v !== 'string' || !BASE64.test(v)) throw malformed('"bytes" needs a base64 string');
      return fromBase64(v);
    case 'map': {
      if (!Array.isArray(v)) throw malformed('"map" needs an array of [key, value] pairs');
      const m = new Map();
      for (const e of v) {
        if (!Array.isArray(e) || e.length !== 2) throw malformed('"map" needs an array of [key, value] pairs');
        m.set(fromWire(e[0], options, d), fromWire(e[1], options, d));
      }
      return m;
    }
    case 'set': {
      if (!Array.isArray(v)) throw malformed('"set" needs an array');
      const set = new Set();
      for (const e of v) set.add(fromWire(e, options, d));
      return set;
    }
    case 're': {
      if (typeof v !== 'string' || v.length > CODEC_LIMITS.maxRegExpSource || typeof o.f !== 'string' || !REGEXP_FLAGS.test(o.f)) {
        throw malformed(`"re" needs a source of at most ${CODEC_LIMITS.maxRegExpSource} characters and flags`);
      }
      try {
        return new RegExp(v, o.f);
      } catch (err) {
        throw malformed(`"re": ${(err as Error).message}`);
      }
    }
    case 'ref': {
      const { t, k } = o;
      if (typeof t !== 'string' || typeof k !== 'string' || t.length === 0 || t.length > CODEC_LIMITS.maxRefPart || k.length > CODEC_LIMITS.maxRefPart) {
        throw malformed('"ref" needs a grain type and key (strings)');
      }
      return options?.ref ? options.ref(t, k) : { type: t, key: k };
    }
    case 'err': {
      const data = o.data === undefined ? undefined : fromWire(o.data, options, d);
      const message = typeof o.message === 'string' ? o.message : '';
      const name = typeof o.name === 'string' ? o.name : 'Error';
      const e = typeof o.code === 'string' && o.code.length > 0
        ? new GrainError(o.code, message, { name, data })
        : new Error(message);
      e.name = name;
      return e;
    }
    default:
      throw malformed(`unknown tag ${JSON.stringify(tag)?.slice(0, 40)}`);
  }
}

function decodeProps(o: Record<string, unknown>, options: DecodeOptions | undefined, depth: number): Record<string, unknown> {
  for (const k of Object.keys(o)) {
    if (k === '__proto__') {
      // JSON.parse makes "__proto__" an own property; keep it data, never a prototype.
      const v = fromWire(o[k], options, depth);
      Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      o[k] = fromWire(o[k], options, depth);
    }
  }
  return o;
}

// ---- bytes -----------------------------------------------------------------------

declare const Buffer: { from(a: Uint8Array | string, enc?: string): Uint8Array & { toString(enc: string): string } } | undefined;

function toBase64(u: Uint8Array): string {
  if (typeof Buffer !== 'undefined') return Buffer.from(u.buffer instanceof ArrayBuffer ? new Uint8Array(u.buffer, u.byteOffset, u.byteLength) : u).toString('base64');
  let s = '';
  for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]!);
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  if (typeof Buffer !== 'undefined') {
    const b = Buffer.from(s, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
  }
  const bin = atob(s);
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return u;
}

