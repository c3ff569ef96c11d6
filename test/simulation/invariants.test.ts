/**
 * Granary's invariants as seeded simulations (scenarios.ts). The suite runs a CI budget of
 * seeds; `npm run sim -- --seeds 10000` runs more, `npm run sim -- --seed 1234` repeats one.
 * Seeds come from GRANARY_SIM_SEEDS (how many, from GRANARY_SIM_FROM, default 1) or
 * GRANARY_SIM_SEED (just that one). A failure names its seed.
 */
import { describe, it } from 'vitest';
import { bankInvariant, singleActivation } from './scenarios.js';
import { faults, runSeeds, seeds } from './seeds.js';

describe('simulation: Granary invariants under faults', () => {
  it('single activation, and counters stay linearizable, under crashes, partitions, pauses, drops and storage errors', async () => {
    await runSeeds('single activation', seeds(150), (seed) => singleActivation(seed, { faults: faults() }));
  }, 600_000);

  it('bank invariant under transactions: money conserved, balances match the ledger, outcomes reported truthfully', async () => {
    await runSeeds('bank invariant', seeds(50), (seed) => bankInvariant(seed, { faults: faults() }));
  }, 600_000);
});
