/**
 * granary/testing: what tests of grains use. `TestCluster` runs several silos in one process
 * on the in-memory cluster and storage, through the real wire codec; `FakeClock` is the time
 * it drives (`cluster.advanceTime(ms)`). `TestCluster` is in `granary` too.
 */
export { TestCluster } from './silo/test-cluster.js';
export type { TestClusterOptions } from './silo/test-cluster.js';
export { FakeClock } from './runtime/index.js';
