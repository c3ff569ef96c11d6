/**
 * Connecting to a Granary cluster on NATS: one NATS connection per silo or client
 * connection; what a cluster shares lives on the server (subjects and KV buckets named after
 * the cluster). Loaded by `natsCluster(...)` (cluster.ts) on its first `connect`.
 */
import { connect, ErrorCode, type NatsConnection } from 'nats';
import {
  SiloUnavailableError,
  type ClusterConnection, type ClusterConnectOptions,
} from '../../runtime/index.js';
import { connectionOptions } from './connect-options.js';
import { NatsClusterConnection } from './connection.js';
import { FrameSigner } from './frame-auth.js';
import { NatsGatewayConnection } from './gateway-connection.js';
import { checkSiloId } from './names.js';
import type { NatsClusterOptions } from './options.js';
import type { NatsClusterSettings } from './settings.js';

export async function connectNatsCluster(settings: NatsClusterSettings, o: ClusterConnectOptions): Promise<ClusterConnection> {
  const { options, name, names, timings, logger, where } = settings;
  if (o.silo && !o.inbound) throw new TypeError('a silo connection needs an inbound handler');
  if (o.silo) checkSiloId(o.silo.id);
  const nc = await openNats(options, `granary:${name}:${o.silo?.id ?? 'client'}`, where, o.silo ? names.siloInbox : names.clientInbox);
  const signer = settings.clusterKey !== undefined ? new FrameSigner(settings.clusterKey) : undefined;
  try {
    if (!o.silo && (await clientRouting(nc, settings)) === 'gateway') {
      return new NatsGatewayConnection({ nc, names, timings, clock: o.clock, logger, signer });
    }
    return await NatsClusterConnection.open({
      nc,
      names,
      timings,
      buckets: { storage: options.kvStorage ?? 'file', replicas: options.kvReplicas ?? 1 },
      clock: o.clock,
      logger: o.silo ? logger.child({ silo: o.silo.id }) : logger,
      silo: o.silo,
      inbound: o.inbound,
      onDeclaredDead: o.onDeclaredDead,
      signer,
    });
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw new SiloUnavailableError(`NATS at ${where} is not usable as a Granary cluster: ${explain(err)}`, { cause: err });
  }
}

/**
 * How a client finds grains: `'auto'` asks the server for JetStream; a credential that may
 * not use it (the client permissions of deploy/nats/nats.conf) goes through the gateway.
 */
async function clientRouting(nc: NatsConnection, settings: NatsClusterSettings): Promise<'directory' | 'gateway'> {
  if (settings.clientRouting !== 'auto') return settings.clientRouting;
  try {
    await nc.jetstreamManager({ timeout: settings.timings.kvTimeoutMs });
    return 'directory';
  } catch (err) {
    if ((err as { code?: string }).code === ErrorCode.PermissionsViolation) return 'gateway';
    throw err;
  }
}

async function openNats(options: NatsClusterOptions, connectionName: string, where: string, inboxPrefix: string): Promise<NatsConnection> {
  try {
    return await connect(connectionOptions(options, connectionName, inboxPrefix));
  } catch (err) {
    throw new SiloUnavailableError(`could not connect to NATS at ${where}: ${explain(err)}`, { cause: err, data: { servers: where } });
  }
}

/** The NATS client's error, said plainly. */
function explain(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e?.message ?? String(err);
  if (e?.code === 'AUTHORIZATION_VIOLATION' || /authorization/i.test(msg)) return `the server refused the credentials (${msg}); check token, user/pass, nkey or creds`;
  if (e?.code === ErrorCode.PermissionsViolation) {
    return `the server's permissions do not let this user do what a silo does (${msg}); silos need the silo user of deploy/nats/nats.conf, and a client with the client user must route through the gateway (clientRouting 'auto' or 'gateway')`;
  }
  if (e?.code === 'CONNECTION_REFUSED' || /ECONNREFUSED|CONNECTION_REFUSED/.test(msg)) return `connection refused (${msg}); is nats-server running there?`;
  if (/jetstream not enabled|jetstream is not enabled/i.test(msg) || e?.code === '503') return `JetStream is not available to this connection (${msg}); start nats-server with -js, and in operator (JWT) mode give the account JetStream limits (nsc edit account --js-mem-storage … --js-disk-storage …)`;
  return msg;
}
