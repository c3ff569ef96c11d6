/**
 * The Worker's configuration, from its vars and secrets (`[vars]` in wrangler.toml,
 * `wrangler secret put`). The variables mean what they mean for the container entry point
 * (silo/config.ts validates them, so a bad value is refused the same way), except storage:
 * on Workers it is the Durable Object's own storage unless DynamoDB is chosen.
 *
 *   GRANARY_STORAGE            durable-object (default) | dynamodb
 *   GRANARY_DYNAMODB_TABLE     set: DynamoDB storage (unless GRANARY_STORAGE says otherwise)
 *   GRANARY_DYNAMODB_ENDPOINT  DynamoDB endpoint URL; unset: the AWS endpoint of AWS_REGION
 *   AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   GRANARY_AUTH_TOKEN, GRANARY_MAX_BODY_BYTES, GRANARY_RATE_LIMIT_RPS, GRANARY_RATE_LIMIT_BURST
 *   GRANARY_RESPONSE_TIMEOUT_MS
 */
import { GrainError } from '../../runtime/index.js';
import { ConfigError, readConfig } from '../config.js';
import type { GatewayAppOptions } from '../gateway/app.js';
import type { WorkerEnv } from './cloudflare.js';

export type WorkersStorageKind = 'durable-object' | 'dynamodb';

export interface WorkersConfig {
  storage: WorkersStorageKind;
  dynamo: {
    table: string;
    endpoint: string | undefined;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  };
  responseTimeoutMs: number;
  gateway: GatewayAppOptions;
  /** `GRANARY_*` vars that are set but unknown (likely typos). */
  unknownVars: string[];
}

/** Variables the container reads that mean nothing on Workers (no ports, no idle collector). */
const CONTAINER_ONLY = new Set([
  'GRANARY_NATS_URL', 'GRANARY_NATS_CREDS_FILE', 'GRANARY_CLUSTER', 'GRANARY_DATA_DIR', 'GRANARY_PORT', 'GRANARY_HOST',
  'GRANARY_NATS_USER', 'GRANARY_NATS_PASSWORD', 'GRANARY_CLUSTER_KEY', 'GRANARY_NATS_CA_FILE', 'GRANARY_NATS_CERT_FILE', 'GRANARY_NATS_KEY_FILE',
  'GRANARY_GRAINS', 'GRANARY_IDLE_TIMEOUT_MS', 'GRANARY_DRAIN_TIMEOUT_MS', 'GRANARY_DYNAMODB_CREATE_TABLE',
  // The Node server's own settings, and the silo's activation limits (a Durable Object holds one grain).
  'GRANARY_TRUSTED_PROXIES', 'GRANARY_REQUEST_TIMEOUT_MS', 'GRANARY_HEADERS_TIMEOUT_MS', 'GRANARY_MAX_CONNECTIONS',
  'GRANARY_MAX_ACTIVATIONS', 'GRANARY_MAX_CONCURRENT_ACTIVATIONS', 'GRANARY_MAX_PENDING_ACTIVATIONS',
]);

/** A configuration the Worker cannot run with: every call answers 500 with this message. */
export class WorkerConfigError extends GrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('configuration_error', `Worker configuration: ${message}`, options);
  }
}

const cache = new WeakMap<object, WorkersConfig | WorkerConfigError>();

/** Reads (once per env object) and validates the configuration; throws `WorkerConfigError`. */
export function workersConfig(env: WorkerEnv): WorkersConfig {
  let c = cache.get(env);
  if (c === undefined) {
    try {
      c = readWorkersConfig(env);
    } catch (err) {
      c = err instanceof WorkerConfigError ? err : new WorkerConfigError((err as Error).message, { cause: err });
    }
    cache.set(env, c);
  }
  if (c instanceof WorkerConfigError) throw c;
  return c;
}

export function readWorkersConfig(env: WorkerEnv): WorkersConfig {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') vars[k] = v;
  for (const k of Object.keys(vars)) {
    if (CONTAINER_ONLY.has(k)) throw new WorkerConfigError(`${k} has no meaning on Workers; remove it (see docs/serverless.md)`);
  }

  const requested = vars.GRANARY_STORAGE?.trim() || undefined;
  const table = vars.GRANARY_DYNAMODB_TABLE?.trim() || undefined;
  let storage: WorkersStorageKind;
  if (requested === undefined) storage = table !== undefined ? 'dynamodb' : 'durable-object';
  else if (requested === 'durable-object' || requested === 'dynamodb') storage = requested;
  else throw new WorkerConfigError(`GRANARY_STORAGE: expected durable-object or dynamodb on Workers, got ${JSON.stringify(requested)}`);

  // The shared parser validates the rest; storage is settled above.
  const shared = { ...vars, GRANARY_STORAGE: storage === 'dynamodb' ? 'dynamodb' : 'memory' };
  let base: ReturnType<typeof readConfig>;
  try {
    base = readConfig(shared);
  } catch (err) {
    if (err instanceof ConfigError) throw new WorkerConfigError(err.message, { cause: err });
    throw err;
  }

  const keyId = vars.AWS_ACCESS_KEY_ID?.trim();
  const secret = vars.AWS_SECRET_ACCESS_KEY?.trim();
  if ((keyId === undefined) !== (secret === undefined)) {
    throw new WorkerConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together; set both (as secrets) or neither');
  }
  const session = vars.AWS_SESSION_TOKEN?.trim();

  const gateway: GatewayAppOptions = { maxBodyBytes: base.maxBodyBytes };
  if (base.authToken !== undefined) gateway.token = base.authToken;
  if (base.rateLimit !== undefined) gateway.rateLimit = base.rateLimit;

  return {
    storage,
    dynamo: {
      table: base.dynamo.table,
      endpoint: base.dynamo.endpoint,
      region: base.dynamo.region,
      credentials: keyId !== undefined && secret !== undefined
        ? { accessKeyId: keyId, secretAccessKey: secret, ...(session ? { sessionToken: session } : {}) }
        : undefined,
    },
    responseTimeoutMs: base.responseTimeoutMs ?? 30_000,
    gateway,
    unknownVars: base.unknownVars,
  };
}
