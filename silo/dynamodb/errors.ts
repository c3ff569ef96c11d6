/**
 * Turns what the SDK throws into the runtime's typed errors, each saying what happened,
 * where (the endpoint and table), and what to do about it.
 */
import {
  GrainError, InvalidArgumentError, SiloUnavailableError,
} from '../../runtime/index.js';
import type { ResolvedOptions } from './options.js';

/** The table does not exist (never created, or deleted). Retrying will not help; creating it will. */
export class TableNotFoundError extends SiloUnavailableError {
  constructor(message: string, options?: { cause?: unknown; data?: unknown }) {
    super(message, options);
    this.name = 'TableNotFoundError';
  }
}

/** A call on a provider after its `close()`. */
export function storageClosed(table: string): SiloUnavailableError {
  return new SiloUnavailableError(`storage dynamodb:${table} is closed; create a new dynamoStorage(...)`);
}

/** The command that creates the table these options name. */
export function createTableCommand(o: ResolvedOptions): string {
  const endpoint = o.endpoint !== undefined ? ` --endpoint ${o.endpoint}` : '';
  return `granary create-table --table ${o.table}${endpoint} --region ${o.region}`;
}

export function tableMissing(o: ResolvedOptions, cause?: unknown): TableNotFoundError {
  return new TableNotFoundError(
    `DynamoDB table "${o.table}" does not exist at ${o.describeEndpoint} (region ${o.region}). ` +
      `Create it once with \`${createTableCommand(o)}\`, or call \`await dynamoStorage({...}).ensureTable()\` ` +
      `before starting silos (the silo container does so when GRANARY_DYNAMODB_CREATE_TABLE=1).`,
    { cause, data: { table: o.table, endpoint: o.describeEndpoint, region: o.region } },
  );
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  cause?: unknown;
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded',
  'LimitExceededException', 'TooManyRequestsException',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND',
  'EAI_AGAIN', 'ECONNABORTED', 'ERR_SOCKET_CONNECTION_TIMEOUT',
]);
const AUTH = new Set([
  'UnrecognizedClientException', 'AccessDeniedException', 'InvalidSignatureException',
  'MissingAuthenticationTokenException', 'CredentialsProviderError', 'ExpiredTokenException',
]);

/** The network-level reason of a failed call (e.g. `ECONNREFUSED`), if it never got an answer. */
function networkReason(e: SdkError, depth = 0): string | undefined {
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name === 'TimeoutError') return 'timed out';
  if (e.cause !== undefined && typeof e.cause === 'object' && e.cause !== null && depth < 5) return networkReason(e.cause as SdkError, depth + 1);
  return undefined;
}

/**
 * The typed error for an SDK failure while doing `what` (e.g. `write state "state" of Counter/a`).
 * `mayHaveApplied`: the call changes data, so a lost answer leaves its outcome unknown.
 */
export function storageError(err: unknown, o: ResolvedOptions, what: string, mayHaveApplied = false): GrainError {
  if (err instanceof GrainError) return err;
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? 'Error';
  const attempts = e.$metadata?.attempts;
  const tries = attempts !== undefined ? `after ${attempts} attempt${attempts === 1 ? '' : 's'}` : '';
  if (name === 'ResourceNotFoundException') return tableMissing(o, err);
  const reason = networkReason(e);
  if (reason !== undefined) {
    const outcome = mayHaveApplied && reason !== 'ECONNREFUSED'
      ? 'the change may or may not have been applied; a later write from a stale version is refused with InconsistentStateError'
      : 'nothing was changed';
    return new SiloUnavailableError(
      `DynamoDB at ${o.describeEndpoint} is unreachable (${reason}${tries ? `, ${tries}` : ''}): could not ${what}; ${outcome}. Retry when the endpoint answers again.`,
      { cause: err, data: { endpoint: o.describeEndpoint, table: o.table } },
    );
  }
  if (THROTTLING.has(name)) {
    return new SiloUnavailableError(
      `DynamoDB at ${o.describeEndpoint} throttled the request to ${what} (${name}${tries ? `, ${tries}` : ''}); retry later, or give table "${o.table}" more capacity`,
      { cause: err, data: { endpoint: o.describeEndpoint, table: o.table } },
    );
  }
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) {
    return new SiloUnavailableError(
      `DynamoDB at ${o.describeEndpoint} failed to ${what} (${name}: ${e.message ?? ''}${tries ? `, ${tries}` : ''}); retry later`,
      { cause: err, data: { endpoint: o.describeEndpoint, table: o.table } },
    );
  }
  if (name === 'ValidationException') {
    return new InvalidArgumentError(`DynamoDB at ${o.describeEndpoint} rejected the request to ${what}: ${e.message ?? name}`, { cause: err });
  }
  if (AUTH.has(name)) {
    return new GrainError('storage_error', `DynamoDB at ${o.describeEndpoint} refused to ${what} (${name}: ${e.message ?? ''}); check the credentials and their permissions on table "${o.table}"`, { cause: err });
  }
  return new GrainError('storage_error', `DynamoDB at ${o.describeEndpoint} could not ${what}: ${name}: ${e.message ?? String(err)}`, { cause: err });
}
