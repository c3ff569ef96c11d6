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

export function encode(value: unknown): string {
  try {
    return JSON.stringify(toWire(value, null));
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(`value cannot be serialised: ${(err as Error).message}`, { cause: err });
  }
}

export function decode(text: string, options?: DecodeOptions): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`malformed payload: ${(err as Error).message}`);
  }
  return fromWire(raw, options);
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

function toWire(v: unknown, ancestors: Set<object> | null): unknown {
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
  if (ancestors?.has(o)) throw new InvalidArgumentError('cannot serialise a cyclic structure (an object contains itself)');
  const seen = ancestors ?? new Set<object>();
  seen.add(o);
  try {
    return objectToWire(o, seen);
  } finally {
    seen.delete(o);
  }
}

function objectToWire(o: object, seen: Set<object>): unknown {
  if (Array.isArray(o)) {
    const out = new Array(o.length);
    for (let i = 0; i < o.length; i++) out[i] = toWire(o[i], seen);
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
    for (const [k, val] of o) entries.push([toWire(k, seen), toWire(val, seen)]);
    return { $: 'map', v: entries };
  }
  if (o instanceof Set) {
    const items: unknown[] = [];
    for (const val of o) items.push(toWire(val, seen));
    return { $: 'set', v: items };
  }
  if (o instanceof Error) {
    const e: Record<string, unknown> = { $: 'err', name: o.name, message: o.message };
    if (o instanceof GrainError) {
      e.code = o.code;
      if (o.data !== undefined) e.data = toWire(o.data, seen);
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
    return toWire((o as { toJSON(): unknown }).toJSON(), seen);
  }
  const out: Record<string, unknown> = {};
  let escaped = false;
  for (const k of Object.keys(o)) {
    if (k === '$') escaped = true;
    const v = toWire((o as Record<string, unknown>)[k], seen);
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

function fromWire(x: unknown, options: DecodeOptions | undefined): unknown {
  if (x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) x[i] = fromWire(x[i], options);
    return x;
  }
  const o = x as Record<string, unknown>;
  const tag = o.$;
  if (tag === undefined) return decodeProps(o, options);
  switch (tag) {
    case 'obj': return decodeProps(o.v as Record<string, unknown>, options);
    case 'undef': return undefined;
    case 'num': return o.v === '-0' ? -0 : Number(o.v);
    case 'big': return BigInt(o.v as string);
    case 'date': return new Date(o.v as number);
    case 'bytes': return fromBase64(o.v as string);
    case 'map': return new Map((o.v as [unknown, unknown][]).map(([k, v]) => [fromWire(k, options), fromWire(v, options)]));
    case 'set': return new Set((o.v as unknown[]).map((v) => fromWire(v, options)));
    case 're': return new RegExp(o.v as string, o.f as string);
    case 'ref': return options?.ref ? options.ref(o.t as string, o.k as string) : { type: o.t, key: o.k };
    case 'err': {
      const data = o.data === undefined ? undefined : fromWire(o.data, options);
      const e = typeof o.code === 'string'
        ? new GrainError(o.code, String(o.message), { name: String(o.name), data })
        : new Error(String(o.message));
      e.name = String(o.name);
      return e;
    }
    default:
      throw new InvalidArgumentError(`malformed payload: unknown tag ${JSON.stringify(tag)}`);
  }
}

function decodeProps(o: Record<string, unknown>, options: DecodeOptions | undefined): Record<string, unknown> {
  for (const k of Object.keys(o)) {
    if (k === '__proto__') {
      // JSON.parse makes "__proto__" an own property; keep it data, never a prototype.
      const v = fromWire(o[k], options);
      Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      o[k] = fromWire(o[k], options);
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

