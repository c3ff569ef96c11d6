/**
 * Placement: which silo gets a grain that has no activation yet.
 *  - `preferLocal` (default): the calling silo if it hosts the type, else a random one;
 *  - `random`: any live silo hosting the type;
 *  - `hash`: rendezvous hashing of the grain id over the live silos hosting the type, so
 *    every caller picks the same silo while membership is stable.
 * Draining silos are only used when nothing else hosts the type.
 */
import type { PlacementStrategy, SiloInfo } from '../runtime/index.js';

export interface PlacementRequest {
  strategy: PlacementStrategy;
  /** The grain's type name: only silos hosting it are candidates. */
  type: string;
  /** `"type/key"`: what `hash` hashes. */
  grainKey: string;
  /** The asking silo (for `preferLocal`); omitted when it may not take the grain. */
  self?: SiloInfo | undefined;
  live: readonly SiloInfo[];
  /** Randomness for `preferLocal` and `random` (default `Math.random`; a simulation's is seeded). */
  random?: (() => number) | undefined;
}

export function place({ strategy, type, grainKey, self, live, random = Math.random }: PlacementRequest): SiloInfo | undefined {
  let candidates = live.filter((s) => s.status === 'active' && s.types.includes(type));
  if (candidates.length === 0) candidates = live.filter((s) => s.types.includes(type));
  if (candidates.length === 0) return undefined;
  switch (strategy) {
    case 'preferLocal':
      if (self && candidates.some((s) => s.id === self.id)) return self;
      return candidates[Math.floor(random() * candidates.length)];
    case 'random':
      return candidates[Math.floor(random() * candidates.length)];
    case 'hash': {
      let best: SiloInfo | undefined;
      let bestScore = -1;
      for (const s of candidates) {
        const score = fnv1a(`${s.id}|${grainKey}`);
        if (score > bestScore || (score === bestScore && best !== undefined && s.id < best.id)) { best = s; bestScore = score; }
      }
      return best;
    }
  }
}

/** 32-bit FNV-1a: a stable, fast string hash. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
