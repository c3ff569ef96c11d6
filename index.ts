/** granary: grains, silos and clients. */
export * from './runtime/index.js';
export * from './silo/index.js';
export * from './client/index.js';
