/**
 * The NATS cluster provider: membership, grain directory and transport over NATS + JetStream KV.
 * `natsCluster` loads the NATS client on its first connect (see cluster.ts).
 */
export { natsCluster } from './cluster.js';
export type { NatsClusterOptions } from './options.js';
export { natsStreams } from './streams.js';
export type { NatsStreamsOptions } from './streams.js';
