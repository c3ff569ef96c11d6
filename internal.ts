/**
 * granary/internal: the machinery that hosts and adapters share — activations, the catalog,
 * call routing, the wire codec, the ports' connection types, the gateway app, the silo's
 * configuration — and everything else `granary/runtime`, `granary/silo` and `granary/client`
 * export. For Granary's own hosts, adapters, tests and benchmarks.
 *
 * No compatibility promise: any name here may change or go in any release. Applications
 * import from `granary` (and `granary/testing` in tests).
 */
export * from './runtime/index.js';
export * from './silo/index.js';
export * from './client/index.js';
