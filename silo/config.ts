/**
 * The container entry point's configuration: environment variables only, parsed and
 * validated up front, so a bad value stops the process with one line naming the variable
 * (exit code 2) instead of failing later in some less obvious way.
 */
import { TOKEN_CHARS } from './gateway/auth.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_MS } from './gateway/connection-limits.js';
import { compileTrustedProxies } from './gateway/trusted-proxies.js';

/** Every variable the entry point reads, with what it means (also the docs' table). */
export const KNOWN_ENV_VARS = {
  GRANARY_NATS_URL: 'NATS server URL(s), comma-separated; unset: an in-process cluster (this process only)',
  GRANARY_NATS_CREDS_FILE: 'NATS credentials file (JWT + nkey seed, as nsc writes it); a token or user:pass can ride in GRANARY_NATS_URL',
  GRANARY_CLUSTER: 'cluster name on NATS (default "granary"); silos and clients must agree',
  GRANARY_NATS_USER: 'NATS user (deploy/nats/nats.conf: granary-silo), with GRANARY_NATS_PASSWORD; wins over a user:password in the URL',
  GRANARY_NATS_PASSWORD: 'password of GRANARY_NATS_USER',
  GRANARY_CLUSTER_KEY: 'secret of at least 16 characters shared by the silos: silo-to-silo NATS messages are signed with it (docs/nats.md); unset: trust follows the NATS permissions alone',
  GRANARY_NATS_CA_FILE: 'PEM file of the CA that signed the NATS server certificate (TLS with a private CA); unset: the system CAs',
  GRANARY_NATS_CERT_FILE: 'PEM client certificate for NATS servers that require one (mutual TLS), with GRANARY_NATS_KEY_FILE',
  GRANARY_NATS_KEY_FILE: 'PEM private key of GRANARY_NATS_CERT_FILE',
  GRANARY_NATS_REPLICAS: 'replicas of the JetStream buckets (membership, directory) and streams: 1 for one nats-server (default), 3 for a clustered NATS (docs/nats.md)',
  GRANARY_STORAGE: 'memory | dynalite | dynamodb (default: dynamodb when GRANARY_DYNAMODB_TABLE is set, else dynalite)',
  GRANARY_DYNAMODB_TABLE: 'DynamoDB table for grain state; set: DynamoDB storage',
  GRANARY_DYNAMODB_ENDPOINT: 'DynamoDB endpoint URL (DynamoDB Local, dynalite); unset: the AWS endpoint of AWS_REGION',
  GRANARY_DYNAMODB_CREATE_TABLE: '1: create the table at start if it is missing (idempotent)',
  AWS_REGION: 'AWS region for DynamoDB (default "us-east-1"; any value works against a local endpoint)',
  GRANARY_DATA_DIR: 'directory of the embedded dynalite store (default ./.granary)',
  GRANARY_PORT: 'HTTP gateway port (default 8080; 0: any free port, logged at start)',
  GRANARY_HOST: 'HTTP gateway bind address (default 0.0.0.0)',
  GRANARY_GRAINS: 'module (path or package) whose exported grain classes are hosted; unset: the sample grains',
  GRANARY_IDLE_TIMEOUT_MS: 'idle time before a grain is deactivated, for types that set none (default 900000)',
  GRANARY_RESPONSE_TIMEOUT_MS: 'how long a call waits for its response (default 30000)',
  GRANARY_MAX_ACTIVATIONS: 'activations a silo keeps at most; past it idle ones are shed, least recently used first (default 250000)',
  GRANARY_MAX_CONCURRENT_ACTIVATIONS: 'activations starting at once: directory, state read, onActivate (default 64)',
  GRANARY_MAX_PENDING_ACTIVATIONS: 'activations waiting to start; past it calls get 503 with retry-after (default 20000)',
  GRANARY_DRAIN_TIMEOUT_MS: 'bound on the graceful stop after SIGTERM (default 25000); keep it below the orchestrator grace period',
  GRANARY_LOG_LEVEL: 'debug | info | warn | error (default info)',
  GRANARY_LOG_FORMAT: 'json (default: one JSON object per line) | pretty (colourless, one readable line per record, for a terminal)',
  GRANARY_AUTH_TOKEN: 'bearer token the gateway requires on /grains and /metrics; unset: no auth',
  GRANARY_MAX_BODY_BYTES: 'largest request body the gateway accepts (default 1048576)',
  GRANARY_RATE_LIMIT_RPS: 'per-client request rate the gateway allows (default 0: no limit)',
  GRANARY_RATE_LIMIT_BURST: 'per-client burst above the rate (default: 2 x the rate)',
  GRANARY_TRUSTED_PROXIES: 'comma-separated addresses or CIDR ranges (or loopback, linklocal, uniquelocal) whose x-forwarded-for the gateway believes for the client address; unset: none',
  GRANARY_REQUEST_TIMEOUT_MS: 'time a client has to send a whole request, headers and body (default 30000); past it: 408 and the connection is closed',
  GRANARY_HEADERS_TIMEOUT_MS: 'time a client has to send the request headers (default 10000, at most GRANARY_REQUEST_TIMEOUT_MS)',
  GRANARY_MAX_CONNECTIONS: 'open gateway connections at most (default 1000); past it new connections are closed at once',
} as const;

export type KnownEnvVar = keyof typeof KNOWN_ENV_VARS;
export const KNOWN_ENV_VAR_NAMES = Object.keys(KNOWN_ENV_VARS) as KnownEnvVar[];

export type StorageKind = 'memory' | 'dynalite' | 'dynamodb';
export type ConfigLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface SiloConfig {
  nats: string[] | undefined;
  natsCredsFile: string | undefined;
  /** NATS user and password (GRANARY_NATS_USER, GRANARY_NATS_PASSWORD). */
  natsUser: { user: string; pass: string } | undefined;
  /** Replicas of the JetStream buckets and streams (GRANARY_NATS_REPLICAS). */
  natsReplicas: number;
  /** The cluster key (GRANARY_CLUSTER_KEY). */
  clusterKey: string | undefined;
  /** TLS files for the NATS connection; undefined: TLS only as the URL asks (tls://). */
  natsTls: { caFile?: string; certFile?: string; keyFile?: string } | undefined;
  cluster: string;
  storage: StorageKind;
  dynamo: { table: string; endpoint: string | undefined; region: string; createTable: boolean };
  dataDir: string;
  port: number;
  host: string;
  grainsModule: string | undefined;
  idleTimeoutMs: number | undefined;
  responseTimeoutMs: number | undefined;
  /** Overload limits; unset ones keep the silo's defaults. */
  limits: { maxActivations?: number; maxConcurrentActivations?: number; maxPendingActivations?: number };
  drainTimeoutMs: number;
  logLevel: ConfigLogLevel;
  /** `GRANARY_LOG_FORMAT`: JSON lines (default) or pretty lines for a terminal. */
  logFormat: 'json' | 'pretty';
  authToken: string | undefined;
  maxBodyBytes: number;
  rateLimit: { requestsPerSecond: number; burst: number } | undefined;
  /** Peers whose `x-forwarded-for` the gateway believes (empty: none). */
  trustedProxies: string[];
  /** What a client may hold on the gateway: time to send a request, its headers, and open connections. */
  connections: { requestTimeoutMs: number; headersTimeoutMs: number; maxConnections: number };
  /** `GRANARY_*` variables that are set but unknown (likely typos): logged as a warning. */
  unknownVars: string[];
}

/** A bad environment value: `variable` names it, `message` says what is expected. */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; throws `ConfigError` on the first bad value. */
export function readConfig(env: Env): SiloConfig {
  const get = (name: KnownEnvVar): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const nats = get('GRANARY_NATS_URL')?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const url of nats ?? []) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s/]+/.test(url) && !/^[^\s:/]+:\d+$/.test(url)) {
      throw new ConfigError('GRANARY_NATS_URL', `expected nats://host:port (comma-separated for several), got ${JSON.stringify(url)}`);
    }
  }

  if (get('GRANARY_NATS_CREDS_FILE') !== undefined && nats === undefined) {
    throw new ConfigError('GRANARY_NATS_CREDS_FILE', 'is set but GRANARY_NATS_URL is not; set both or neither');
  }

  const natsUser = get('GRANARY_NATS_USER');
  // A password is taken as it is (spaces included), only an empty one counts as unset.
  const natsPassword = env.GRANARY_NATS_PASSWORD === '' ? undefined : env.GRANARY_NATS_PASSWORD;
  if ((natsUser === undefined) !== (natsPassword === undefined)) {
    throw new ConfigError(natsUser === undefined ? 'GRANARY_NATS_USER' : 'GRANARY_NATS_PASSWORD', 'GRANARY_NATS_USER and GRANARY_NATS_PASSWORD go together; set both or neither');
  }
  const clusterKey = get('GRANARY_CLUSTER_KEY');
  if (clusterKey !== undefined && clusterKey.length < 16) {
    throw new ConfigError('GRANARY_CLUSTER_KEY', `expected at least 16 characters (e.g. openssl rand -base64 32), got ${clusterKey.length}`);
  }
  const natsTls = definedOnly({ caFile: get('GRANARY_NATS_CA_FILE'), certFile: get('GRANARY_NATS_CERT_FILE'), keyFile: get('GRANARY_NATS_KEY_FILE') });
  if ((natsTls.certFile === undefined) !== (natsTls.keyFile === undefined)) {
    throw new ConfigError(natsTls.certFile === undefined ? 'GRANARY_NATS_CERT_FILE' : 'GRANARY_NATS_KEY_FILE', 'GRANARY_NATS_CERT_FILE and GRANARY_NATS_KEY_FILE go together; set both or neither');
  }

  // JetStream allows 1 to 5 replicas; a replica count above the servers in the cluster is refused by the server at bucket creation.
  const natsReplicas = int(get('GRANARY_NATS_REPLICAS'), 'GRANARY_NATS_REPLICAS', 1, 5);
  if (natsReplicas !== undefined && nats === undefined) {
    throw new ConfigError('GRANARY_NATS_REPLICAS', 'is set but GRANARY_NATS_URL is not; the in-process cluster keeps no JetStream buckets');
  }

  const cluster = get('GRANARY_CLUSTER') ?? 'granary';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cluster)) {
    throw new ConfigError('GRANARY_CLUSTER', `expected 1-64 letters, digits, "_" or "-" (it becomes part of NATS subjects), got ${JSON.stringify(cluster)}`);
  }

  const table = get('GRANARY_DYNAMODB_TABLE');
  if (table !== undefined && !/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
    throw new ConfigError('GRANARY_DYNAMODB_TABLE', `expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -), got ${JSON.stringify(table)}`);
  }
  const endpoint = get('GRANARY_DYNAMODB_ENDPOINT');
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    throw new ConfigError('GRANARY_DYNAMODB_ENDPOINT', `expected an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  }
  const createTable = flag(get('GRANARY_DYNAMODB_CREATE_TABLE'), 'GRANARY_DYNAMODB_CREATE_TABLE');
  const region = get('AWS_REGION') ?? 'us-east-1';
  if (!/^[a-z0-9-]{1,40}$/.test(region)) {
    throw new ConfigError('AWS_REGION', `expected a region name like "eu-west-1", got ${JSON.stringify(region)}`);
  }

  const storageRaw = get('GRANARY_STORAGE');
  let storage: StorageKind;
  if (storageRaw === undefined) storage = table !== undefined ? 'dynamodb' : 'dynalite';
  else if (storageRaw === 'memory' || storageRaw === 'dynalite' || storageRaw === 'dynamodb') storage = storageRaw;
  else throw new ConfigError('GRANARY_STORAGE', `expected memory, dynalite or dynamodb, got ${JSON.stringify(storageRaw)}`);
  if (storage === 'dynamodb' && table === undefined) {
    throw new ConfigError('GRANARY_DYNAMODB_TABLE', 'must be set when GRANARY_STORAGE=dynamodb');
  }

  const logLevel = get('GRANARY_LOG_LEVEL') ?? 'info';
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn' && logLevel !== 'error') {
    throw new ConfigError('GRANARY_LOG_LEVEL', `expected debug, info, warn or error, got ${JSON.stringify(logLevel)}`);
  }

  const logFormat = get('GRANARY_LOG_FORMAT') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'pretty') {
    throw new ConfigError('GRANARY_LOG_FORMAT', `expected json or pretty, got ${JSON.stringify(logFormat)}`);
  }

  const authToken = get('GRANARY_AUTH_TOKEN');
  if (authToken !== undefined && (authToken.length < 8 || !TOKEN_CHARS.test(authToken))) {
    // The gateway takes what a bearer header can carry (RFC 6750), nothing else.
    throw new ConfigError('GRANARY_AUTH_TOKEN', 'expected at least 8 characters of letters, digits and -._~+/ (optionally ending in =), as RFC 6750 bearer tokens are; e.g. openssl rand -hex 32');
  }

  const host = get('GRANARY_HOST') ?? '0.0.0.0';
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) {
    throw new ConfigError('GRANARY_HOST', `expected a host name or IP address to bind, got ${JSON.stringify(host)}`);
  }

  const rps = int(get('GRANARY_RATE_LIMIT_RPS'), 'GRANARY_RATE_LIMIT_RPS', 0, 1_000_000) ?? 0;
  const burst = int(get('GRANARY_RATE_LIMIT_BURST'), 'GRANARY_RATE_LIMIT_BURST', 1, 10_000_000);
  if (burst !== undefined && rps === 0) {
    throw new ConfigError('GRANARY_RATE_LIMIT_BURST', 'has no effect without GRANARY_RATE_LIMIT_RPS; set both or neither');
  }

  const trustedProxies = get('GRANARY_TRUSTED_PROXIES')?.split(',').map((s) => s.trim()).filter((s) => s !== '') ?? [];
  try {
    compileTrustedProxies(trustedProxies);
  } catch (err) {
    throw new ConfigError('GRANARY_TRUSTED_PROXIES', `${(err as Error).message}; e.g. 10.0.0.0/8,127.0.0.1`);
  }

  const requestTimeoutMs = int(get('GRANARY_REQUEST_TIMEOUT_MS'), 'GRANARY_REQUEST_TIMEOUT_MS', 1, 3_600_000) ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeoutMs = int(get('GRANARY_HEADERS_TIMEOUT_MS'), 'GRANARY_HEADERS_TIMEOUT_MS', 1, 3_600_000) ?? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError('GRANARY_HEADERS_TIMEOUT_MS', `${headersTimeoutMs} is more than GRANARY_REQUEST_TIMEOUT_MS (${requestTimeoutMs}): the headers are part of the request; lower it or raise the other`);
  }
  const maxConnections = int(get('GRANARY_MAX_CONNECTIONS'), 'GRANARY_MAX_CONNECTIONS', 1, 1_000_000) ?? DEFAULT_MAX_CONNECTIONS;

  const known = new Set<string>(KNOWN_ENV_VAR_NAMES);
  const unknownVars = Object.keys(env).filter((k) => k.startsWith('GRANARY_') && !known.has(k)).sort();

  return {
    nats: nats !== undefined && nats.length > 0 ? nats : undefined,
    natsCredsFile: get('GRANARY_NATS_CREDS_FILE'),
    natsReplicas: natsReplicas ?? 1,
    natsUser: natsUser !== undefined && natsPassword !== undefined ? { user: natsUser, pass: natsPassword } : undefined,
    clusterKey,
    natsTls: Object.keys(natsTls).length > 0 ? natsTls : undefined,
    cluster,
    storage,
    dynamo: { table: table ?? 'granary', endpoint, region, createTable },
    dataDir: get('GRANARY_DATA_DIR') ?? './.granary',
    port: int(get('GRANARY_PORT'), 'GRANARY_PORT', 0, 65_535) ?? 8080,
    host,
    grainsModule: get('GRANARY_GRAINS'),
    idleTimeoutMs: int(get('GRANARY_IDLE_TIMEOUT_MS'), 'GRANARY_IDLE_TIMEOUT_MS', 1, 365 * 24 * 3_600_000),
    responseTimeoutMs: int(get('GRANARY_RESPONSE_TIMEOUT_MS'), 'GRANARY_RESPONSE_TIMEOUT_MS', 1, 24 * 3_600_000),
    limits: definedOnly({
      maxActivations: int(get('GRANARY_MAX_ACTIVATIONS'), 'GRANARY_MAX_ACTIVATIONS', 1, 1_000_000_000),
      maxConcurrentActivations: int(get('GRANARY_MAX_CONCURRENT_ACTIVATIONS'), 'GRANARY_MAX_CONCURRENT_ACTIVATIONS', 1, 100_000),
      maxPendingActivations: int(get('GRANARY_MAX_PENDING_ACTIVATIONS'), 'GRANARY_MAX_PENDING_ACTIVATIONS', 0, 10_000_000),
    }),
    drainTimeoutMs: int(get('GRANARY_DRAIN_TIMEOUT_MS'), 'GRANARY_DRAIN_TIMEOUT_MS', 1, 3_600_000) ?? 25_000,
    logLevel,
    logFormat,
    authToken,
    maxBodyBytes: int(get('GRANARY_MAX_BODY_BYTES'), 'GRANARY_MAX_BODY_BYTES', 64, 1 << 30) ?? 1 << 20,
    rateLimit: rps > 0 ? { requestsPerSecond: rps, burst: burst ?? rps * 2 } : undefined,
    trustedProxies,
    connections: { requestTimeoutMs, headersTimeoutMs, maxConnections },
    unknownVars,
  };
}

function int(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${raw}`);
  return n;
}

function flag(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(name, `expected 1 or 0, got ${JSON.stringify(raw)}`);
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

function definedOnly<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
