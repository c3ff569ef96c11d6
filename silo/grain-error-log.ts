/**
 * Grain exceptions in the silo's log: every exception that reaches a caller from a grain this
 * silo hosts is logged once, at `warn`, on this silo (type, key, method, error name, code,
 * message, stack; the logger adds the trace id). The catalog reports each failed turn
 * (`CatalogOptions.onCallError`), so a call that succeeds costs nothing here.
 *
 * Once: an exception that passes up through several grains (B throws, A does not catch it)
 * is logged where it was thrown. What was logged is marked; an error rebuilt from a remote
 * reply is marked by the runtime (`FROM_WIRE`): the silo that ran that call logged it.
 */
import type { CallScope } from '../runtime/context.js';
import { FROM_WIRE } from '../runtime/errors.js';
import { carriedSpanContext, errorTraceId } from '../runtime/features/tracing/index.js';
import type { Logger } from './log.js';

const LOGGED = Symbol.for('granary.error.logged');

/** A grain exception as the log (and the dashboard's recent errors) records it. */
export interface GrainErrorRecord {
  time: number;
  type: string;
  key: string;
  method: string;
  error: string;
  code?: string;
  message: string;
  stack?: string;
  traceId?: string;
}

/** The failed call, as the catalog reports it. */
export interface FailedCall {
  type: string;
  key: string;
  method: string;
  /** The caller's scope: what the call carried (its trace). */
  caller: CallScope | undefined;
}

function seenBefore(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const marks = err as Record<symbol, unknown>;
  return marks[LOGGED] === true || marks[FROM_WIRE] === true;
}

function mark(err: unknown): void {
  if (err === null || typeof err !== 'object' || !Object.isExtensible(err)) return;
  Object.defineProperty(err, LOGGED, { value: true, enumerable: false, configurable: true });
}

export interface GrainErrorLogOptions {
  logger: Logger;
  /** Also told of each logged exception (the dashboard keeps the recent ones). */
  onError?(record: GrainErrorRecord): void;
}

/**
 * What the catalog calls for a failed turn: logs `err` (as thrown) unless it was logged
 * before; `answer` is the error as the caller gets it (marked too, so a grain that passes it
 * on does not log it again).
 */
export function grainErrorLog(options: GrainErrorLogOptions): (call: FailedCall, err: unknown, answer?: unknown) => void {
  const { logger, onError } = options;
  return ({ type, key, method, caller }, err, answer) => {
    if (seenBefore(err)) { mark(answer); return; }
    mark(err);
    mark(answer);
    const e = err as { name?: unknown; message?: unknown; code?: unknown; stack?: unknown } | null;
    const record: GrainErrorRecord = {
      time: Date.now(), type, key, method,
      error: typeof e?.name === 'string' ? e.name : typeof err,
      message: typeof e?.message === 'string' ? e.message : String(err),
    };
    if (typeof e?.code === 'string') record.code = e.code;
    // Formatting a stack costs more than the rest of a failed call (transactions that lose a
    // lock race fail by the thousand): it is formatted when a log line or a reader takes it.
    const stack = () => (typeof e?.stack === 'string' ? e.stack : undefined);
    Object.defineProperty(record, 'stack', { get: stack, enumerable: true, configurable: true });
    // The span that failed marked the error with its trace; else the trace the call came in with.
    const traceId = errorTraceId(err) ?? carriedSpanContext(caller)?.traceId;
    if (traceId !== undefined) record.traceId = traceId;
    logger.warn('grain call failed', {
      grain: `${type}/${key}`, type, key, method,
      error: record.error, code: record.code, message: record.message, get stack() { return stack(); }, trace_id: traceId,
    });
    onError?.(record);
  };
}

/** The last `capacity` grain exceptions, newest last (the dashboard's "recent errors"). */
export class RecentErrors {
  private readonly items: GrainErrorRecord[] = [];
  constructor(readonly capacity = 50) {}
  push(record: GrainErrorRecord): void {
    this.items.push(record);
    if (this.items.length > this.capacity) this.items.shift();
  }
  list(): readonly GrainErrorRecord[] {
    return this.items;
  }
}
