/**
 * Issue #18: journaled grains never lose a confirmed event, as a seeded simulation
 * (journal-scenario.ts). The suite runs a CI budget of seeds; GRANARY_SIM_SEEDS (how many,
 * from GRANARY_SIM_FROM, default 1) runs more, GRANARY_SIM_SEED one (seeds.ts). A failure names
 * its seed: `GRANARY_SIM_SEED=1234 npx vitest run test/simulation/journal.sim.test.ts` repeats it.
 */
import { describe, it } from 'vitest';
import { journalKeepsConfirmed } from './journal-scenario.js';
import { faults, runSeeds, seeds } from './seeds.js';

/** About 55 ms of wall time a seed: 150 keep the file near 12 s, under its 20 s budget. */
const CI_SEEDS = 150;

describe('simulation: journaled grains never lose a confirmed event (#18)', () => {
  it('confirmed events stay, exactly once, in real-time order, a batch all or nothing, linearizable, under crashes, partitions, pauses, idle deactivation, message and journal storage faults', async () => {
    await runSeeds('journal keeps confirmed events', seeds(CI_SEEDS), (seed) => journalKeepsConfirmed(seed, { faults: faults() }));
  }, 600_000);
});
