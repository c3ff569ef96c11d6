/**
 * What `natsCluster(...)` checks and derives from its options at once, before any NATS code
 * is loaded: a bad option fails where the provider is made, not on the first connect.
 */
import { envLogLevel, jsonLogger, type Logger } from '../log.js';
import { checkClusterName, clusterNames, type ClusterNames } from './names.js';
import { checkClientRouting, checkClusterKey, describeServers, resolveTimings, serverList, type NatsClusterOptions, type ResolvedTimings } from './options.js';

export interface NatsClusterSettings {
  readonly options: NatsClusterOptions;
  /** The cluster name (checked). */
  readonly name: string;
  readonly names: ClusterNames;
  readonly timings: ResolvedTimings;
  readonly logger: Logger;
  /** The server URLs for messages, credentials masked. */
  readonly where: string;
  /** The cluster key (checked), when there is one. */
  readonly clusterKey: string | undefined;
  readonly clientRouting: 'auto' | 'directory' | 'gateway';
}

export function resolveNatsCluster(options: NatsClusterOptions): NatsClusterSettings {
  if (options === null || typeof options !== 'object') throw new TypeError('natsCluster needs { servers, name }');
  const name = checkClusterName(options.name);
  serverList(options.servers);
  const timings = resolveTimings(options);
  return {
    options,
    name,
    names: clusterNames(name),
    timings,
    logger: (options.logger ?? jsonLogger({ level: envLogLevel('warn') })).child({ cluster: `nats:${name}` }),
    where: describeServers(options.servers),
    clusterKey: checkClusterKey(options.clusterKey),
    clientRouting: checkClientRouting(options.clientRouting),
  };
}
