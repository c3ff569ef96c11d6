/**
 * Results for plain `application/json` callers. JSON has no Date, BigInt, Map, Set, bytes
 * or undefined, so they map to the nearest JSON value (documented in docs/deploy.md):
 * Date → ISO string, BigInt → decimal string, Map → array of [key, value] pairs,
 * Set → array, Uint8Array → base64 string, undefined / NaN / ±Infinity → null,
 * Error → {name, message, code?}, grain reference → {type, key}. Callers that need the
 * values back as they were send `application/vnd.granary+json` and get the codec's form.
 */
import { CODEC_LIMITS } from '../../runtime/codec.js';
import { InvalidArgumentError } from '../../runtime/errors.js';
import { grainRefTarget, type HasGrainId } from '../../runtime/identity.js';

/**
 * Nesting is counted as the codec counts it (arrays, objects, maps and sets; not the values in
 * them) against the same `CODEC_LIMITS.maxDepth`: whatever the codec carries (a state
 * `writeState` accepted, a result between silos) is answered in plain JSON too.
 */
export function toPlainJson(v: unknown, depth = 0): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'bigint':
      return v.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return null;
  }
  if (v === null) return null;
  if (depth >= CODEC_LIMITS.maxDepth) {
    throw new InvalidArgumentError(`result nests deeper than ${CODEC_LIMITS.maxDepth} levels; flatten it`, { code: 'invalid_argument' });
  }
  const o = v as object;
  if (Array.isArray(o)) return o.map((x) => toPlainJson(x, depth + 1));
  if (grainRefTarget in o) {
    const id = (o as HasGrainId)[grainRefTarget];
    return { type: id.type, key: id.key };
  }
  if (o instanceof Date) return Number.isNaN(o.getTime()) ? null : o.toISOString();
  if (o instanceof Map) return [...o].map(([k, x]) => [toPlainJson(k, depth + 1), toPlainJson(x, depth + 1)]);
  if (o instanceof Set) return [...o].map((x) => toPlainJson(x, depth + 1));
  if (o instanceof Uint8Array) return base64(o);
  if (o instanceof RegExp) return o.toString();
  if (o instanceof Error) {
    const e: Record<string, unknown> = { name: o.name, message: o.message };
    const code = (o as { code?: unknown }).code;
    if (typeof code === 'string') e.code = code;
    return e;
  }
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null && typeof (o as { toJSON?: unknown }).toJSON === 'function') {
    return toPlainJson((o as { toJSON(): unknown }).toJSON(), depth + 1);
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    // defineProperty keeps a "__proto__" key as data on the way out too.
    Object.defineProperty(out, k, { value: toPlainJson((o as Record<string, unknown>)[k], depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function base64(u: Uint8Array): string {
  let s = '';
  for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]!);
  return btoa(s);
}
