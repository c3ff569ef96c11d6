/**
 * The seed of a test or bench file's random workloads: `GRANARY_TEST_SEED` when set (to repeat
 * a run), else a fresh one, printed once per file so that any failing run can be repeated.
 * Each workload draws from its own generator (`workloadRandom(label)`), derived from the
 * file's seed and its label, so one workload's draws do not shift with another's, nor with
 * the order tests run in.
 */
import { seedFromEnv, seededRandom } from './seeded-random.js';

export const TEST_SEED_VAR = 'GRANARY_TEST_SEED';

let fileSeed: number | undefined;

/** This file's seed (read or drawn, and printed, on first use). */
export function testSeed(): number {
  if (fileSeed === undefined) {
    fileSeed = seedFromEnv(TEST_SEED_VAR);
    console.log(`random workloads seeded with ${TEST_SEED_VAR}=${fileSeed} (set it to repeat this run)`);
  }
  return fileSeed;
}

/** A generator in [0, 1) for the workload named `label`, seeded from the file's seed. */
export function workloadRandom(label: string): () => number {
  let h = testSeed() ^ 0x9e37_79b9;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x0100_0193);
  return seededRandom(h >>> 0);
}

/** What to append to a failure message so it names the seed. */
export function seedNote(): string {
  return `${TEST_SEED_VAR}=${testSeed()}`;
}
