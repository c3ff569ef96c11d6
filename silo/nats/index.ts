/** The NATS cluster provider: membership, grain directory and transport over NATS + JetStream KV. */
export { natsCluster } from './provider.js';
export type { NatsClusterOptions } from './options.js';
