export { memoryCluster } from './cluster.js';
export type { MemoryClusterOptions } from './cluster.js';
export { memoryStorage } from './storage.js';
export type { MemoryStorage } from './storage.js';
export { memoryReminderStore } from './reminders.js';
export type { MemoryReminderStoreOptions } from './reminders.js';
export { memoryStreams } from './streams.js';
export type { MemoryStreams, MemoryStreamsOptions, StreamLog, StreamOp } from './streams.js';
