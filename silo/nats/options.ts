/**
 * Options of `natsCluster(...)` and their checks. Only types come from `nats` here: this
 * module is on the path of `import 'granary'`, which must not load the NATS client
 * (connect-options.ts turns the options into `nats.connect` options on first connect).
 */
import type { Authenticator, TlsOptions } from 'nats';
import { InvalidArgumentError } from '../../runtime/index.js';
import type { Logger } from '../log.js';

export interface NatsClusterOptions {
  /** NATS server URL(s), e.g. `'nats://127.0.0.1:4222'`. Credentials in the URL work too. */
  servers: string | string[];
  /** The cluster's name: silos and clients with the same name on the same NATS form one cluster. */
  name: string;

  // ---- security (passed through to NATS) ----
  token?: string;
  user?: string;
  pass?: string;
  /** An nkey seed (`SU...`), for servers that authorize users by nkey. */
  nkeySeed?: string;
  /** A `.creds` file (JWT + nkey seed, as `nsc` writes it). */
  credsFile?: string;
  /** The text of a `.creds` file. */
  creds?: string;
  /** Any NATS authenticator(s), for what the options above do not cover. */
  authenticator?: Authenticator | Authenticator[];
  /** TLS options (`caFile`, `certFile`, `keyFile`, ...); `true` for TLS with the system CAs. */
  tls?: TlsOptions | true;

  // ---- behaviour ----
  /** How often a silo re-announces itself (default 1000 ms). */
  heartbeatIntervalMs?: number;
  /** A silo whose last heartbeat is older than this is dead (default 4000 ms). */
  staleAfterMs?: number;
  /** Time to connect at start before failing (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Wait between reconnect attempts (default 250 ms; attempts are unlimited). */
  reconnectTimeWaitMs?: number;
  /** Time to wait for KV (JetStream) operations (default 5000 ms). */
  kvTimeoutMs?: number;
  /** On `leave()`, how long to wait for calls this silo is still answering (default 30 s). */
  drainTimeoutMs?: number;
  /** KV storage (default `'file'`: the directory survives a NATS restart). */
  kvStorage?: 'file' | 'memory';
  /** KV replicas, for a clustered NATS (default 1). */
  kvReplicas?: number;
  /**
   * A call waiting longer than this gets its silo pinged, so a crashed silo is found even
   * when every caller is waiting on it (default 150 ms; pings are cheap and a busy silo answers).
   */
  probeAfterMs?: number;
  /** Batch calls (and replies) per destination into one NATS message (default true). */
  batching?: boolean;
  /** Connection name shown by the NATS server (default `granary:<cluster>:<silo or client>`). */
  connectionName?: string;
  /** Where connection events go (default: JSON lines on stderr at `GRANARY_LOG_LEVEL`, else warn). */
  logger?: Logger;
}

export interface ResolvedTimings {
  heartbeatIntervalMs: number;
  staleAfterMs: number;
  kvTimeoutMs: number;
  drainTimeoutMs: number;
  probeAfterMs: number;
  batching: boolean;
}

export function resolveTimings(o: NatsClusterOptions): ResolvedTimings {
  const heartbeatIntervalMs = positive(o.heartbeatIntervalMs, 1000, 'heartbeatIntervalMs');
  const staleAfterMs = positive(o.staleAfterMs, Math.max(4000, heartbeatIntervalMs * 3), 'staleAfterMs');
  if (staleAfterMs <= heartbeatIntervalMs * 2) {
    throw new InvalidArgumentError(`natsCluster: staleAfterMs (${staleAfterMs}) must be more than twice heartbeatIntervalMs (${heartbeatIntervalMs}), or live silos would look dead`);
  }
  return {
    heartbeatIntervalMs,
    staleAfterMs,
    kvTimeoutMs: positive(o.kvTimeoutMs, 5000, 'kvTimeoutMs'),
    drainTimeoutMs: positive(o.drainTimeoutMs, 30_000, 'drainTimeoutMs'),
    probeAfterMs: positive(o.probeAfterMs, 150, 'probeAfterMs'),
    batching: o.batching ?? true,
  };
}

export function serverList(servers: string | string[] | undefined): string[] {
  const list = (Array.isArray(servers) ? servers : [servers]).filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (list.length === 0) throw new InvalidArgumentError('natsCluster needs { servers: "nats://host:4222" } (one URL or a list)');
  return list;
}

/** URLs for messages, with any password or token in them masked. */
export function describeServers(servers: string | string[]): string {
  return serverList(servers).map((s) => s.replace(/\/\/[^@/]*@/, '//***@')).join(', ');
}

/** `v` when it is a positive number of milliseconds, `dflt` when unset; anything else is refused. */
export function positive(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`natsCluster: ${what} must be a positive number of milliseconds, got ${String(v)}`);
  return v;
}
