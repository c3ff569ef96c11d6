export { memoryCluster } from './cluster.js';
export type { MemoryClusterOptions } from './cluster.js';
export { memoryStorage } from './storage.js';
export type { MemoryStorage } from './storage.js';
