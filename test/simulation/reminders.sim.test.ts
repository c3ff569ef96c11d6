/**
 * Durable reminders fire at least once per tick, as docs/reminders.md promises, under
 * crashes, restarts, partitions, pauses, lost and duplicated messages and failing state
 * writes (reminder-scenario.ts says exactly what is checked). The suite runs a CI budget of
 * seeds; `npm run sim -- --seeds 500` runs more (seeds.ts).
 */
import { describe, it } from 'vitest';
import { remindersFire } from './reminder-scenario.js';
import { faults, runSeeds, seeds } from './seeds.js';

describe('simulation: durable reminders under faults', () => {
  it('every tick is delivered, given up (logged), passed over when late, or beaten by a removal; none early, none after removal; on time once calm', async () => {
    // 30 seeds: 8–14 s of wall time on a 2-core machine.
    await runSeeds('reminders fire', seeds(30), (seed) => remindersFire(seed, { faults: faults() }));
  }, 600_000);
});
