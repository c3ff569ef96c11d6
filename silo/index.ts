/** granary/silo: the host, its adapters and the test cluster. */
export { Silo } from './silo.js';
export type { SiloOptions, SiloState } from './silo.js';
export { TestCluster } from './test-cluster.js';
export type { TestClusterOptions } from './test-cluster.js';
export { memoryCluster, memoryStorage } from './memory/index.js';
export type { MemoryClusterOptions, MemoryStorage } from './memory/index.js';
export { place } from './placement.js';
export { jsonLogger } from './log.js';
export type { Logger, LogLevel, LogFields } from './log.js';
