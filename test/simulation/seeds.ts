/**
 * Running a simulation scenario over seeds (the suite's CI budget, or the seeds `npm run sim`
 * asks for): seeds come from GRANARY_SIM_SEEDS (how many, from GRANARY_SIM_FROM, default 1)
 * or GRANARY_SIM_SEED (just that one). A failure names its seed and how to repeat it.
 */
import { expect } from 'vitest';
import type { SimulationFaults } from '../../testing.js';
import { chaosFaults, type ScenarioResult } from './scenarios.js';

/** Wall time after which one seed's run counts as hung. */
const HANG_MS = 60_000;

export function seeds(ciBudget: number): number[] {
  const one = process.env.GRANARY_SIM_SEED;
  if (one !== undefined && one !== '') {
    if (!/^\d{1,10}$/.test(one) || Number(one) > 0xffff_ffff) throw new Error(`GRANARY_SIM_SEED must be a whole number from 0 to ${0xffff_ffff} (a seed a failed run printed), got ${JSON.stringify(one)}`);
    return [Number(one)];
  }
  const count = process.env.GRANARY_SIM_SEEDS === undefined ? ciBudget : Number(process.env.GRANARY_SIM_SEEDS);
  const from = Number(process.env.GRANARY_SIM_FROM ?? 1);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(from) || from < 0) throw new Error('GRANARY_SIM_SEEDS must be a positive whole number and GRANARY_SIM_FROM a whole number');
  return Array.from({ length: count }, (_, i) => from + i);
}

/** Runs `scenario` for every seed; fails listing the seeds that broke an invariant and the first one's problems. */
export async function runSeeds(name: string, list: number[], scenario: (seed: number) => Promise<ScenarioResult>): Promise<void> {
  const failed: ScenarioResult[] = [];
  const totals: Record<string, number> = {};
  const started = performance.now();
  for (const seed of list) {
    let r: ScenarioResult;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    try {
      // Real time: a seed whose simulation waits on nothing simulated would otherwise hang the run.
      const hung = new Promise<never>((_, reject) => {
        watchdog = setTimeout(() => reject(new Error(`seed ${seed} made no progress for ${HANG_MS / 1000} s of wall time (something awaited work that simulated time does not drive)`)), HANG_MS);
      });
      r = await Promise.race([scenario(seed), hung]);
    } catch (err) {
      r = { seed, problems: [`the run threw: ${(err as Error).stack ?? String(err)}`], stats: {} };
    } finally {
      clearTimeout(watchdog);
    }
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (r.problems.length > 0) failed.push(r);
  }
  const wall = performance.now() - started;
  console.log(`[sim] ${name}: ${list.length} seeds (${list[0]}..${list.at(-1)}) in ${(wall / 1000).toFixed(1)} s wall; ${JSON.stringify(totals)}; failing seeds: ${failed.map((f) => f.seed).join(', ') || 'none'}`);
  expect(failed.map((f) => f.seed), failed.length === 0 ? '' : `${name} broke on seeds ${failed.map((f) => f.seed).join(', ')}; first (seed ${failed[0]!.seed}):\n${failed[0]!.problems.join('\n\n')}\nRepeat: npm run sim -- --seed ${failed[0]!.seed}${process.env.GRANARY_SIM_DUPLICATE_RATE ? ` --duplicate-rate ${process.env.GRANARY_SIM_DUPLICATE_RATE}` : ''}`).toEqual([]);
}

/**
 * The scenarios' faults, with another rate of duplicated messages when
 * GRANARY_SIM_DUPLICATE_RATE is set (`npm run sim -- --duplicate-rate 0.1`).
 */
export function faults(): SimulationFaults {
  const raw = process.env.GRANARY_SIM_DUPLICATE_RATE;
  if (raw === undefined || raw === '') return chaosFaults;
  const rate = Number(raw);
  if (!(rate >= 0 && rate <= 1)) throw new Error(`GRANARY_SIM_DUPLICATE_RATE must be a share from 0 to 1, got ${JSON.stringify(raw)}`);
  return { ...chaosFaults, messageDuplicateRate: rate };
}
