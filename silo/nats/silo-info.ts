/** Membership values: a `SiloInfo` as JSON, read defensively (anything may be in a bucket). */
import type { SiloInfo } from '../../runtime/index.js';

export function parseSiloInfo(value: Uint8Array, id: string): SiloInfo {
  const v = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) as Partial<SiloInfo>;
  if (v === null || typeof v !== 'object' || v.id !== id || !Array.isArray(v.types)) throw new TypeError('not a SiloInfo');
  return {
    id,
    types: v.types.filter((t): t is string => typeof t === 'string'),
    startedAt: typeof v.startedAt === 'number' ? v.startedAt : 0,
    status: v.status === 'draining' ? 'draining' : 'active',
  };
}

export function sameSiloInfo(a: SiloInfo, b: SiloInfo): boolean {
  return a.status === b.status && a.startedAt === b.startedAt && a.types.length === b.types.length && a.types.every((t, i) => b.types[i] === t);
}
