/**
 * Typed errors. Every error a caller can see is a `GrainError` with a stable `code`;
 * the subclass is recovered from the code when an error crosses the wire.
 */

/**
 * The codes Granary itself uses. `GrainError.code` is one of these or a grain's own code
 * (`'out_of_stock'`): the `string & {}` keeps editors completing the known ones.
 */
export type KnownErrorCode =
  | 'grain_error' | 'grain_not_found' | 'method_not_found' | 'inconsistent_state' | 'deadlock' | 'timeout'
  | 'transaction_aborted' | 'transaction_in_doubt' | 'transaction_required' | 'transaction_not_allowed'
  | 'silo_unavailable' | 'storage_error' | 'configuration_error'
  | 'invalid_argument' | 'invalid_request' | 'invalid_storage_access'
  | 'unauthorized' | 'forbidden' | 'not_found' | 'method_not_allowed' | 'payload_too_large'
  | 'unsupported_media_type' | 'rate_limited' | 'not_ready' | 'http_error';

export type ErrorCode = KnownErrorCode | (string & {});

export interface WireError {
  code: ErrorCode;
  name: string;
  message: string;
  data?: unknown;
  /** The HTTP status the thrower chose (400–599); absent: the gateway maps the code. */
  status?: number;
}

/** `status` when it is an HTTP error status (an integer from 400 to 599), else undefined. */
export function errorStatus(status: unknown): number | undefined {
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : undefined;
}

export interface GrainErrorOptions {
  cause?: unknown;
  /** Extra JSON-serialisable detail. */
  data?: unknown;
  /** The error's `name` (default: the class name). */
  name?: string;
  /**
   * The HTTP status the gateway answers with (400–599), e.g. 409 for `'out_of_stock'`;
   * anything else is ignored and the code's default status applies (docs/deploy.md).
   */
  status?: number;
}

export class GrainError extends Error {
  readonly code: ErrorCode;
  /** Extra JSON-serialisable detail (e.g. the grain id and size of an oversized state). */
  readonly data?: unknown;
  /** The HTTP status chosen by the thrower, when it chose a valid one (see `GrainErrorOptions.status`). */
  readonly status?: number;

  constructor(code: ErrorCode, message: string, options?: GrainErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.data !== undefined) this.data = options.data;
    const status = errorStatus(options?.status);
    if (status !== undefined) this.status = status;
    this.name = options?.name ?? new.target.name;
  }

  toWire(): WireError {
    const w: WireError = { code: this.code, name: this.name, message: this.message };
    if (this.data !== undefined) w.data = this.data;
    if (this.status !== undefined) w.status = this.status;
    return w;
  }
}

type ErrorOptions = Omit<GrainErrorOptions, 'name'>;

/** Unknown grain type: no silo hosts it. */
export class GrainNotFoundError extends GrainError {
  constructor(message: string, options?: ErrorOptions) { super('grain_not_found', message, options); }
}
/** The grain type exists but has no callable method of that name. */
export class MethodNotFoundError extends GrainError {
  constructor(message: string, options?: ErrorOptions) { super('method_not_found', message, options); }
}
/** A conditional state write lost a race (the stored version moved on). */
export class InconsistentStateError extends GrainError {
  constructor(message: string, options?: ErrorOptions) { super('inconsistent_state', message, options); }
}
/** A call would wait on itself. */
export class DeadlockError extends GrainError {
  constructor(message: string, options?: ErrorOptions) { super('deadlock', message, options); }
}
/** No response within the call's deadline. */
export class TimeoutError extends GrainError {
  constructor(message: string, options?: ErrorOptions) { super('timeout', message, options); }
}
/** A transaction did not commit; `cause` says why. */
export class TransactionAbortedError extends GrainError {
  constructor(message: string, options?: ErrorOptions) { super('transaction_aborted', message, options); }
}
/** No silo (or backing service) could take the call right now; retrying later may work. */
export class SiloUnavailableError extends GrainError {
  constructor(message: string, options?: ErrorOptions) { super('silo_unavailable', message, options); }
}
/** The caller sent something that cannot be accepted (arguments, payload, options). */
export class InvalidArgumentError extends GrainError {
  constructor(message: string, options?: ErrorOptions & { code?: ErrorCode }) {
    super(options?.code ?? 'invalid_argument', message, options);
  }
}

const byCode: Record<string, new (message: string, options?: ErrorOptions) => GrainError> = {
  grain_not_found: GrainNotFoundError,
  method_not_found: MethodNotFoundError,
  inconsistent_state: InconsistentStateError,
  deadlock: DeadlockError,
  timeout: TimeoutError,
  transaction_aborted: TransactionAbortedError,
  silo_unavailable: SiloUnavailableError,
  invalid_argument: InvalidArgumentError,
};

/** Lets a feature's error class come back as itself from the wire (e.g. `transaction_in_doubt`). */
export function registerErrorClass(code: string, cls: new (message: string, options?: ErrorOptions) => GrainError): void {
  byCode[code] = cls;
}

function isWireError(x: unknown): x is WireError {
  const w = x as Partial<WireError> | null;
  return w !== null && typeof w === 'object' && typeof w.code === 'string' && typeof w.message === 'string';
}

/**
 * Rebuilds the typed error a `WireError` describes. An error that carries its cause as
 * `data.cause` (a transaction's abort) gets it back as its `cause`.
 */
/**
 * Marks errors rebuilt from a reply: they were thrown (and logged) where the call ran, so the
 * silo that only passes them on does not log them again (silo/grain-error-log.ts).
 */
export const FROM_WIRE = Symbol.for('granary.error.fromWire');

export function errorFromWire(w: WireError, depth = 0): GrainError {
  // No stack: where the reply was decoded says nothing about where the error was thrown (on
  // another host, whose stack is not sent), and capturing one costs more than the rest of
  // the rebuild. Its `stack` is its name and message.
  const errorClass = Error as { stackTraceLimit?: number };
  const limit = errorClass.stackTraceLimit;
  errorClass.stackTraceLimit = 0;
  let e: GrainError;
  try {
    e = rebuild(w, depth);
  } finally {
    errorClass.stackTraceLimit = limit;
  }
  Object.defineProperty(e, FROM_WIRE, { value: true, enumerable: false });
  return e;
}

function rebuild(w: WireError, depth: number): GrainError {
  const Cls = byCode[w.code];
  const options: ErrorOptions = {};
  if (w.data !== undefined) options.data = w.data;
  const cause = (w.data as { cause?: unknown } | null | undefined)?.cause;
  if (depth < 8 && isWireError(cause)) options.cause = errorFromWire(cause, depth + 1);
  if (w.status !== undefined) options.status = w.status;
  if (Cls) {
    const e = new Cls(w.message, options);
    if (w.name && w.name !== e.name) e.name = w.name;
    return e;
  }
  // Codes without a class of their own (grain_error, transaction_required, transaction_not_allowed, ...).
  if (w.code === 'transaction_required' || w.code === 'transaction_not_allowed' || w.code.startsWith('invalid_')) {
    return new InvalidArgumentError(w.message, { ...options, code: w.code });
  }
  return new GrainError(w.code, w.message, { ...options, name: w.name });
}

/**
 * What a caller receives for an exception thrown by grain code: typed errors pass through
 * unchanged, anything else becomes `code: 'grain_error'` keeping the original name and message.
 */
export function toGrainError(err: unknown): GrainError {
  if (err instanceof GrainError) return err;
  if (err instanceof Error) return new GrainError('grain_error', err.message, { name: err.name });
  return new GrainError('grain_error', `grain threw a non-Error value: ${safeString(err)}`, { name: 'Error' });
}

function safeString(v: unknown): string {
  try { return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v); } catch { return String(v); }
}
