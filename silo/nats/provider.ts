/**
 * `natsCluster(...)`: the cluster provider for silos (and clients) in separate processes,
 * meeting through a NATS server with JetStream. Each `connect` opens its own NATS
 * connection; what a cluster shares lives on the server (subjects and KV buckets named
 * after the cluster).
 */
import { connect, type NatsConnection } from 'nats';
import {
  SiloUnavailableError,
  type ClusterConnection, type ClusterConnectOptions, type ClusterProvider,
} from '../../runtime/index.js';
import { envLogLevel, jsonLogger } from '../log.js';
import { NatsClusterConnection } from './connection.js';
import { checkClusterName, checkSiloId, clusterNames } from './names.js';
import { connectionOptions, describeServers, resolveTimings, serverList, type NatsClusterOptions } from './options.js';

export function natsCluster(options: NatsClusterOptions): ClusterProvider {
  if (options === null || typeof options !== 'object') throw new TypeError('natsCluster needs { servers, name }');
  const name = checkClusterName(options.name);
  serverList(options.servers);
  const timings = resolveTimings(options);
  const names = clusterNames(name);
  const logger = (options.logger ?? jsonLogger({ level: envLogLevel('warn') })).child({ cluster: `nats:${name}` });
  const where = describeServers(options.servers);
  return {
    name: `nats:${name}`,
    async connect(o: ClusterConnectOptions): Promise<ClusterConnection> {
      if (o.silo && !o.inbound) throw new TypeError('a silo connection needs an inbound handler');
      if (o.silo) checkSiloId(o.silo.id);
      const nc = await openNats(options, `granary:${name}:${o.silo?.id ?? 'client'}`, where);
      try {
        return await NatsClusterConnection.open({
          nc,
          names,
          timings,
          buckets: { storage: options.kvStorage ?? 'file', replicas: options.kvReplicas ?? 1 },
          clock: o.clock,
          logger: o.silo ? logger.child({ silo: o.silo.id }) : logger,
          silo: o.silo,
          inbound: o.inbound,
        });
      } catch (err) {
        await nc.close().catch(() => undefined);
        throw new SiloUnavailableError(`NATS at ${where} is not usable as a Granary cluster: ${explain(err)}`, { cause: err });
      }
    },
  };
}

async function openNats(options: NatsClusterOptions, connectionName: string, where: string): Promise<NatsConnection> {
  try {
    return await connect(connectionOptions(options, connectionName));
  } catch (err) {
    throw new SiloUnavailableError(`could not connect to NATS at ${where}: ${explain(err)}`, { cause: err, data: { servers: where } });
  }
}

/** The NATS client's error, said plainly. */
function explain(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e?.message ?? String(err);
  if (e?.code === 'AUTHORIZATION_VIOLATION' || /authorization/i.test(msg)) return `the server refused the credentials (${msg}); check token, user/pass, nkey or creds`;
  if (e?.code === 'CONNECTION_REFUSED' || /ECONNREFUSED|CONNECTION_REFUSED/.test(msg)) return `connection refused (${msg}); is nats-server running there?`;
  if (/jetstream not enabled|jetstream is not enabled/i.test(msg) || e?.code === '503') return `JetStream is not enabled (${msg}); start nats-server with -js`;
  return msg;
}
