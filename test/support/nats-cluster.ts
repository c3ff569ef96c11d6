/**
 * Three (or more) of the machine's `nats-server`s joined into one NATS cluster by routes, with
 * clustered JetStream, as deploy/compose.yaml and the k8s manifests run NATS in production.
 * Client ports are picked by each server (`-p -1`); route and monitoring ports come from
 * `freePort()` (a route list must name its peers before they start). `ready()` waits until
 * JetStream has a meta leader: before that, creating a replicated bucket fails.
 */
import { connect } from 'nats';
import { NatsServer, freePort } from './nats-server.js';

export interface NatsClusterOptions {
  /** Servers in the cluster (default 3). */
  size?: number;
  /** The NATS cluster's name (default "granary-test"). */
  name?: string;
}

export class NatsServerCluster {
  private constructor(
    readonly servers: NatsServer[],
    private readonly monitorPorts: number[],
  ) {}

  static async start(options: NatsClusterOptions = {}): Promise<NatsServerCluster> {
    const size = options.size ?? 3;
    const name = options.name ?? 'granary-test';
    const routePorts = await distinctFreePorts(size);
    const monitorPorts = await distinctFreePorts(size);
    // The cluster is set on the command line, with the flags deploy/compose.yaml passes.
    const started = await Promise.allSettled(routePorts.map((port, i) => NatsServer.start({
      config: `http: 127.0.0.1:${monitorPorts[i]}`,
      args: ['--server_name', `n${i + 1}`, '--cluster_name', name, '--cluster', `nats://127.0.0.1:${port}`,
        '--routes', routePorts.filter((p) => p !== port).map((p) => `nats://127.0.0.1:${p}`).join(',')],
    })));
    const servers = started.filter((r): r is PromiseFulfilledResult<NatsServer> => r.status === 'fulfilled').map((r) => r.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const cluster = new NatsServerCluster(servers, monitorPorts);
    if (failed !== undefined) {
      await cluster.stop();
      throw failed.reason;
    }
    await cluster.ready();
    return cluster;
  }

  /** Every server's client URL: what silos and clients list, so they can move to a survivor. */
  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /** Waits until JetStream answers through every running server (a meta leader was elected). */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const server of this.servers.filter((s) => s.running)) {
      const nc = await connect({ servers: server.url, reconnect: false });
      try {
        for (;;) {
          try {
            const jsm = await nc.jetstreamManager({ timeout: 1000 });
            await jsm.getAccountInfo();
            break;
          } catch (err) {
            if (Date.now() > deadline) throw new Error(`clustered JetStream not ready through ${server.url}: ${(err as Error).message}\n${server.output}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        await nc.close();
      }
    }
  }

  /** The number of client connections each server holds (its monitoring endpoint), by index. */
  async connectionCounts(): Promise<number[]> {
    return Promise.all(this.servers.map(async (s, i) => {
      if (!s.running) return 0;
      const res = await fetch(`http://127.0.0.1:${this.monitorPorts[i]}/connz`);
      return ((await res.json()) as { num_connections: number }).num_connections;
    }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}
