/**
 * granary/testing: what tests of grains use. `TestCluster` runs several silos in one process
 * on the in-memory cluster and storage, through the real wire codec; `FakeClock` is the time
 * it drives (`cluster.advanceTime(ms)`). `TestCluster` is in `granary` too.
 */
export { TestCluster } from './silo/test-cluster.js';
export type { TestClusterOptions, RunUntilQuietOptions } from './silo/test-cluster.js';
export type { SimulationFaults } from './silo/testing/simulation.js';
export { SeededRandom } from './silo/testing/random.js';
export { FakeClock } from './runtime/index.js';
export { checkLinearizable } from './silo/testing/linearizability.js';
export type { CheckLinearizableOptions, LinearizabilityModel, LinearizabilityResult } from './silo/testing/linearizability.js';
export type { HistoryEvent } from './silo/testing/history.js';
