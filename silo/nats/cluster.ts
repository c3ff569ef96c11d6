/**
 * `natsCluster(...)`: the cluster provider for silos (and clients) in separate processes,
 * meeting through a NATS server with JetStream. It checks its options at once but loads the
 * NATS client (provider.ts and what it imports) only on the first `connect`, so importing
 * `granary` costs nothing for applications that never use NATS.
 */
import type { ClusterConnection, ClusterConnectOptions, ClusterProvider } from '../../runtime/index.js';
import type { NatsClusterOptions } from './options.js';
import { resolveNatsCluster } from './settings.js';

type ProviderModule = typeof import('./provider.js');
let provider: Promise<ProviderModule> | undefined;

export function natsCluster(options: NatsClusterOptions): ClusterProvider {
  const settings = resolveNatsCluster(options);
  return {
    name: `nats:${settings.name}`,
    async connect(o: ClusterConnectOptions): Promise<ClusterConnection> {
      const { connectNatsCluster } = await (provider ??= import('./provider.js'));
      return connectNatsCluster(settings, o);
    },
  };
}
