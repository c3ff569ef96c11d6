/**
 * Seeded randomness for test workloads: a failing run prints its seed, and setting the seed
 * again (an environment variable) repeats the same workload. mulberry32: 32 bits of state,
 * fast, and good enough to pick keys and amounts (not for cryptography).
 */

/** A generator of numbers in [0, 1) that gives the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The seed in environment variable `name` (a whole number below 2^32), or a fresh random one when unset. */
export function seedFromEnv(name: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return crypto.getRandomValues(new Uint32Array(1))[0]!;
  if (!/^\d{1,10}$/.test(raw.trim()) || Number(raw) > 0xffff_ffff) {
    throw new Error(`${name} must be a whole number from 0 to ${0xffff_ffff} (a seed printed by an earlier run), got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}
