/**
 * Options of the DynamoDB storage provider, and their defaults. The time bounds are chosen so
 * a storage call fails (with a typed error) well inside a silo's 30 s response timeout instead
 * of hanging: at most `maxAttempts × (connect + request timeout)` plus the SDK's backoff.
 */
/** Static AWS credentials (the shape the SDK takes). */
export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface DynamoStorageOptions {
  /** Table name (create it with `granary create-table` or `ensureTable()`). */
  table: string;
  /** Endpoint URL, e.g. `http://127.0.0.1:8000` for DynamoDB Local; omit for AWS itself. */
  endpoint?: string;
  /** AWS region (default: `AWS_REGION`, else `us-east-1`). Emulators accept any, e.g. `"local"`. */
  region?: string;
  /**
   * Static credentials. Default: fixed dummy credentials when the endpoint is on this machine
   * (loopback) or the region is `"local"` — emulators accept any and DynamoDB Local keeps one
   * database per access key, so every process must use the same; otherwise the SDK's
   * default provider chain (environment, profile, instance role).
   */
  credentials?: AwsCredentialIdentity;
  /** Attempts per DynamoDB call, first one included (default 3). Retries back off (SDK standard mode). */
  maxAttempts?: number;
  /** Time to open a connection before the attempt fails (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Time for one request/response before the attempt fails (default 5000 ms). */
  requestTimeoutMs?: number;
  /** Sockets kept to the endpoint (default 64). */
  maxSockets?: number;
  /**
   * States whose UTF-8 text is larger than this are stored deflate-compressed (default 16 KiB;
   * `Infinity` turns compression off). Above ~340 KB (after compression) a state is split
   * over several items.
   */
  compressAboveBytes?: number;
  /** Largest state accepted, in UTF-8 bytes of its text (default 16 MiB). */
  maxStateBytes?: number;
  /** Billing mode `ensureTable()` creates the table with (default `PAY_PER_REQUEST`). */
  billing?: 'PAY_PER_REQUEST' | { readCapacityUnits: number; writeCapacityUnits: number };
  /** How long `ensureTable()` waits for the table to become ACTIVE (default 60 s). */
  tableActiveTimeoutMs?: number;
  /**
   * The table of journaled grains' events and snapshots (default `<table>_journal`); it has
   * a sort key, so it is a table of its own. `ensureTable()` creates it too.
   */
  journalTable?: string;
  /**
   * The table of durable reminders (default `<table>_reminders`): a sort key and an index,
   * so a table of its own. `ensureTable()` creates it too.
   */
  remindersTable?: string;
  /**
   * Partitions the reminders are spread over (default 64): what silos split between them and
   * poll each period. Fixed for the table's life: changing it strands reminders.
   */
  reminderPartitions?: number;
}

export interface ResolvedOptions {
  table: string;
  endpoint: string | undefined;
  region: string;
  credentials: AwsCredentialIdentity | undefined;
  maxAttempts: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxSockets: number;
  compressAboveBytes: number;
  maxStateBytes: number;
  billing: NonNullable<DynamoStorageOptions['billing']>;
  tableActiveTimeoutMs: number;
  journalTable: string;
  remindersTable: string;
  reminderPartitions: number;
  /** Where requests go, for error messages. */
  describeEndpoint: string;
}

/** Credentials any emulator accepts. One fixed pair, so DynamoDB Local shows every process the same tables. */
export const EMULATOR_CREDENTIALS: AwsCredentialIdentity = { accessKeyId: 'granary', secretAccessKey: 'granary' };

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

export function resolveOptions(options: DynamoStorageOptions): ResolvedOptions {
  if (!options || typeof options.table !== 'string' || !TABLE_NAME.test(options.table)) {
    throw new TypeError(`dynamoStorage needs { table } naming a DynamoDB table: 3–255 characters of A–Z a–z 0–9 _ . - (got ${JSON.stringify(options?.table)})`);
  }
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  let endpoint = options.endpoint;
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new TypeError(`dynamoStorage endpoint is not a URL: ${JSON.stringify(endpoint)} (expected e.g. http://127.0.0.1:8000)`);
    }
    endpoint = url.href.replace(/\/$/, '');
  }
  const local = region === 'local' || (endpoint !== undefined && isLoopback(new URL(endpoint).hostname));
  return {
    table: options.table,
    endpoint,
    region,
    credentials: options.credentials ?? (local ? EMULATOR_CREDENTIALS : undefined),
    maxAttempts: positive(options.maxAttempts, 3, 'maxAttempts'),
    connectTimeoutMs: positive(options.connectTimeoutMs, 2_000, 'connectTimeoutMs'),
    requestTimeoutMs: positive(options.requestTimeoutMs, 5_000, 'requestTimeoutMs'),
    maxSockets: positive(options.maxSockets, 64, 'maxSockets'),
    compressAboveBytes: positive(options.compressAboveBytes, 16 * 1024, 'compressAboveBytes'),
    maxStateBytes: positive(options.maxStateBytes, 16 * 1024 * 1024, 'maxStateBytes'),
    billing: options.billing ?? 'PAY_PER_REQUEST',
    tableActiveTimeoutMs: positive(options.tableActiveTimeoutMs, 60_000, 'tableActiveTimeoutMs'),
    journalTable: journalTableName(options),
    remindersTable: remindersTableName(options),
    reminderPartitions: reminderPartitions(options.reminderPartitions),
    describeEndpoint: endpoint ?? `https://dynamodb.${region}.amazonaws.com`,
  };
}

function journalTableName(options: DynamoStorageOptions): string {
  const name = options.journalTable ?? `${options.table}_journal`;
  if (typeof name !== 'string' || !TABLE_NAME.test(name) || name === options.table) {
    throw new TypeError(`dynamoStorage journalTable must name a DynamoDB table other than table: 3–255 characters of A–Z a–z 0–9 _ . - (got ${JSON.stringify(name)}; set journalTable when table is too long for "<table>_journal")`);
  }
  return name;
}

function remindersTableName(options: DynamoStorageOptions): string {
  const name = options.remindersTable ?? `${options.table}_reminders`;
  if (typeof name !== 'string' || !TABLE_NAME.test(name) || name === options.table) {
    throw new TypeError(`dynamoStorage remindersTable must name a DynamoDB table other than table: 3–255 characters of A–Z a–z 0–9 _ . - (got ${JSON.stringify(name)}; set remindersTable when table is too long for "<table>_reminders")`);
  }
  return name;
}

function reminderPartitions(v: number | undefined): number {
  if (v === undefined) return 64;
  if (!Number.isInteger(v) || v < 1 || v > 4096) throw new TypeError(`dynamoStorage option reminderPartitions must be an integer from 1 to 4096 (got ${v})`);
  return v;
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!(v > 0)) throw new TypeError(`dynamoStorage option ${name} must be a positive number (got ${v})`);
  return v;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || h.startsWith('127.') || h === '0.0.0.0';
}
