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
  /**
   * A secret shared by the silos (and by clients trusted like them), at least 16 characters:
   * every frame such a connection sends carries an HMAC of it in a header. With a key, a silo
   * accepts silo-to-silo frames only when they carry it, and runtime messages (`$txn.*`) from a
   * client only when it does. Unset (the default): trust follows the subject alone, which the
   * server's permissions enforce (deploy/nats/nats.conf). `GRANARY_CLUSTER_KEY` for the entry point.
   */
  clusterKey?: string;
  /**
   * How a client (a connection that hosts no grains) finds grains:
   * - `'directory'`: it reads membership and the grain directory from the KV buckets and sends
   *   each call to the silo that holds the grain, as silos do (needs the silos' permissions);
   * - `'gateway'`: it sends calls to any silo (a NATS queue group), which places or forwards
   *   them, and then straight to the silo a reply names; needs only the client permissions;
   * - `'auto'` (default): `'directory'` when the server lets this connection use JetStream,
   *   else `'gateway'`.
   */
  clientRouting?: 'auto' | 'directory' | 'gateway';

  // ---- behaviour ----
  /** How often a silo re-announces itself (default 1000 ms). */
  heartbeatIntervalMs?: number;
  /** A silo whose last heartbeat is older than this is dead (default 4000 ms). */
  staleAfterMs?: number;
  /** Time to connect at start before failing (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Wait between reconnect attempts (default 250 ms; attempts are unlimited). */
  reconnectTimeWaitMs?: number;
  /**
   * While the connection is re-established (a clustered NATS moves it to a surviving server),
   * a call or directory operation not yet sent waits this long for it before failing with
   * `SiloUnavailableError` (default 2000 ms; 0: fail at once). Calls already sent when the
   * connection dropped are not re-sent: they may have run.
   */
  reconnectGraceMs?: number;
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
  reconnectGraceMs: number;
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
    reconnectGraceMs: o.reconnectGraceMs === 0 ? 0 : positive(o.reconnectGraceMs, 2000, 'reconnectGraceMs'),
    drainTimeoutMs: positive(o.drainTimeoutMs, 30_000, 'drainTimeoutMs'),
    probeAfterMs: positive(o.probeAfterMs, 150, 'probeAfterMs'),
    batching: o.batching ?? true,
  };
}

/** Shortest cluster key accepted: a guessable key would let anyone sign internal frames. */
export const MIN_CLUSTER_KEY_LENGTH = 16;

export function checkClusterKey(key: unknown): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key.length < MIN_CLUSTER_KEY_LENGTH) {
    throw new InvalidArgumentError(
      `natsCluster: clusterKey must be a string of at least ${MIN_CLUSTER_KEY_LENGTH} characters (e.g. \`openssl rand -base64 32\`), got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`,
    );
  }
  return key;
}

export function checkClientRouting(v: unknown): 'auto' | 'directory' | 'gateway' {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'directory' || v === 'gateway') return v;
  throw new InvalidArgumentError(`natsCluster: clientRouting must be 'auto', 'directory' or 'gateway', got ${JSON.stringify(v)}`);
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
