#!/usr/bin/env node
// `npm run sim -- --seeds 10000 [--from 1]` runs Granary's invariant simulations for that many
// seeds; `npm run sim -- --seed 1234` repeats one seed (a failing run prints it);
// `--duplicate-rate 0.1` sets the share of messages delivered twice (default 0.02).
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const env = { ...process.env };
for (let i = 0; i < args.length; i++) {
  const [flag, value] = [args[i], args[i + 1]];
  if (flag === '--seeds') env.GRANARY_SIM_SEEDS = value;
  else if (flag === '--from') env.GRANARY_SIM_FROM = value;
  else if (flag === '--seed') env.GRANARY_SIM_SEED = value;
  else if (flag === '--duplicate-rate') {
    if (value === undefined || !(Number(value) >= 0 && Number(value) <= 1)) {
      console.error(`--duplicate-rate takes a share from 0 to 1 (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
      process.exit(2);
    }
    env.GRANARY_SIM_DUPLICATE_RATE = value;
    i++;
    continue;
  } else {
    console.error(`unknown option ${flag}; use --seeds N [--from S], --seed S, --duplicate-rate R`);
    process.exit(2);
  }
  if (value === undefined || !/^\d+$/.test(value)) {
    console.error(`${flag} takes a whole number (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
    process.exit(2);
  }
  i++;
}
/** Every scenario file: Granary's invariants, streams, reminders, journaled grains. */
const files = ['invariants.test.ts', 'streams.sim.test.ts', 'reminders.sim.test.ts', 'journal.sim.test.ts'].map((f) => `test/simulation/${f}`);
const r = spawnSync('npx', ['vitest', 'run', ...files, '--testTimeout', '0'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
