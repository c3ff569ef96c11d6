/**
 * Call ids and the call log: how a call's effect on grain state happens once, however often
 * the call is sent (docs/exactly-once.md).
 *
 * Every call carries an id: fresh for a call a client (or a grain turn without an id) makes,
 * derived from the turn's own id for a call a grain makes inside a call, so a re-run of a
 * deterministic method sends the same ids again. A grain's state write records the id of the
 * call whose turn wrote; when the turn ends, the call's outcome joins the record, and the
 * next write stores it. The record rides inside the stored state payload, so it commits in
 * the same conditional write as the effect, on every storage provider.
 *
 * The one gap in "the next write stores it": the host may die after the write committed and
 * before the outcome reached the caller. The record then says "written, outcome unknown" and
 * holds the state from before the call (`prev`); the re-sent call re-runs the method on that
 * state with the writes that committed skipped, which gives the outcome again (for a
 * deterministic method) and changes nothing twice.
 */
import { decode, encode } from './codec.js';
import { GrainError, toGrainError, errorFromWire, type WireError } from './errors.js';

/** Calls a grain's record keeps (the dedupe window): the most recent completed ones. */
export const CALL_LOG_SIZE = 128;
/** Characters of a call's encoded outcome kept in the record; a larger one is recorded as too large. */
export const CALL_RESULT_LIMIT = 16 * 1024;
/**
 * Characters of the state from before a call kept for its replay. Above it, the call's outcome
 * is stored by a second write before the call is answered (costlier, but no double copy).
 */
export const REPLAY_STATE_LIMIT = 64 * 1024;
/** Characters of an `Idempotency-Key` header. */
export const IDEMPOTENCY_KEY_MAX = 200;
/** Derived ids longer than this are hashed (a chain of nested calls would grow them). */
const MAX_DERIVED_ID = 96;

// ---- ids ---------------------------------------------------------------------------

/**
 * 66 random bits per process (11 characters of 64), so fresh ids of two processes never meet
 * (a million processes: a chance of about 1 in 10^8 that two share one). Drawn on first use:
 * Workers allow no randomness while a module loads.
 */
let processPrefix: string | undefined;
let nextFresh = 0;
const PREFIX_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_';

function prefix(): string {
  if (processPrefix === undefined) {
    let s = '';
    for (const b of crypto.getRandomValues(new Uint8Array(11))) s += PREFIX_ALPHABET[b & 63];
    processPrefix = s;
  }
  return processPrefix;
}

/** A new call id, unique across processes: a process prefix and a counter (cheaper than a ULID per call). */
export function freshCallId(): string {
  return `${prefix()}${(nextFresh++).toString(36)}`;
}

/** The id of the turn running a call, and how many calls it has made (the derived ids' ordinals). */
export interface TurnIds {
  readonly id: string;
  next: number;
  /** A replay (see above): this many state writes already committed and are skipped. */
  skipWrites: number;
  /** The call was re-sent after its silo died: an earlier run may have done what this one is about to. */
  readonly resent: boolean;
}

export function turnIds(id: string, resent = false): TurnIds {
  return { id, next: 0, skipWrites: 0, resent };
}

/** The id of the next call made by `turn`: the same on every run that makes its calls in the same order. */
export function childCallId(turn: TurnIds): string {
  const id = `${turn.id}.${turn.next++}`;
  return id.length <= MAX_DERIVED_ID ? id : hashedId(id);
}

/** The id an HTTP `Idempotency-Key` gives a call: one per grain, method and key. */
export function idempotencyCallId(method: string, key: string): string {
  return `key:${method}:${key}`;
}

/** Two 32-bit FNV-1a hashes (different bases): a 64-bit id for a long derived id. */
function hashedId(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return `h${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
}

// ---- the record --------------------------------------------------------------------

/** A call of this record: completed (its outcome, or that it was too large), or written and still open. */
type Entry =
  | {
    readonly kind: 'done';
    /** OUTCOME_VALUE, OUTCOME_ERROR or OUTCOME_TOO_LARGE. */
    readonly code: number;
    /** The value's or error's codec text, or the too-large outcome's length. */
    readonly value: string;
    /** The entry as the record stores it: `"id",code,value` (computed once). */
    readonly text: string;
  }
  | {
    readonly kind: 'open';
    /** State writes of the call that were sent (a replay skips that many). */
    writes: number;
    /** The stored state from before the call (codec text; null: nothing was stored); undefined: too large to keep. */
    readonly prev: string | null | undefined;
    /** This activation runs the call now (false: the record came from storage: its host died). */
    live: boolean;
  };

/** A recorded outcome, as a call is answered. */
export type RecordedOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

// The record is one flat JSON array, entry after entry, as small as it can be: it is rewritten
// with every write of the grain (`"id",0,value` | `"id",3,error` | `"id",1,length` |
// `"id",2,writes,prev,noPrev` for a call written and not yet answered).
const OUTCOME_VALUE = 0;
const OUTCOME_TOO_LARGE = 1;
const OUTCOME_OPEN = 2;
const OUTCOME_ERROR = 3;

export class CallLog {
  /** Insertion order is age: the oldest completed entries leave first. */
  private readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The ids recorded, oldest first. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** The call `id` runs in this activation now and has written. */
  isLive(id: string): boolean {
    const e = this.entries.get(id);
    return e !== undefined && e.kind === 'open' && e.live;
  }

  /** The call `id` wrote, and its host died before its outcome was recorded: replay it. */
  replayOf(id: string): { writes: number; prev: string | null | undefined } | undefined {
    const e = this.entries.get(id);
    return e !== undefined && e.kind === 'open' && !e.live ? { writes: e.writes, prev: e.prev } : undefined;
  }

  /** The replay of `id` begins in this activation. */
  resume(id: string): void {
    const e = this.entries.get(id);
    if (e !== undefined && e.kind === 'open') e.live = true;
  }

  /**
   * A write of call `id`'s turn goes now; `stored` is the stored state before it. The first
   * write of a call keeps that state for a replay, when it is small enough.
   */
  writing(id: string, stored: string | null): void {
    const e = this.entries.get(id);
    if (e !== undefined && e.kind === 'open') {
      e.writes++;
      return;
    }
    const prev = stored === null || stored.length <= REPLAY_STATE_LIMIT ? stored : undefined;
    this.entries.set(id, { kind: 'open', writes: 1, prev, live: true });
  }

  /**
   * The call `id` ended with `outcome`: recorded for the next write. Returns true when the
   * record of its write cannot replay it (no `prev` kept): then store the record before answering.
   */
  complete(id: string, outcome: RecordedOutcome): boolean {
    const e = this.entries.get(id);
    if (e === undefined || e.kind !== 'open') return false;
    this.entries.delete(id); // re-inserted last: the newest
    this.entries.set(id, doneEntry(id, outcome));
    this.trim();
    return e.prev === undefined;
  }

  /** The recorded outcome of a completed call; undefined when `id` is not completed here. */
  outcome(id: string, decodeOptions: Parameters<typeof decode>[1], target: string): RecordedOutcome | undefined {
    const e = this.entries.get(id);
    if (e === undefined || e.kind !== 'done') return undefined;
    if (e.code === OUTCOME_TOO_LARGE) {
      return { ok: false, error: new GrainError('result_not_recorded', `call ${id} to ${target} already ran and its state write committed, but its result (${e.value} characters encoded) was over the recorded-result limit (${CALL_RESULT_LIMIT}) and was not kept, so it cannot be answered again; do not retry it: read what you need with a call that does not write, or return less from methods that write state`, { status: 409, data: { callId: id } }) };
    }
    if (e.code === OUTCOME_ERROR) return { ok: false, error: errorFromWire(decode(e.value, decodeOptions) as WireError) };
    return { ok: true, value: decode(e.value, decodeOptions, 1) };
  }

  /** The record as stored (JSON, one line). */
  text(): string {
    let out = '[';
    let first = true;
    for (const [id, e] of this.entries) {
      if (!first) out += ',';
      first = false;
      out += e.kind === 'done' ? e.text : `${JSON.stringify(id)},${OUTCOME_OPEN},${e.writes},${JSON.stringify(e.prev ?? null)},${e.prev === undefined ? 1 : 0}`;
    }
    return out + ']';
  }

  static parse(text: string): CallLog {
    const log = new CallLog();
    const raw = JSON.parse(text) as unknown;
    if (!Array.isArray(raw)) throw new Error('call record is not an array');
    for (let i = 0; i < raw.length;) {
      const id: unknown = raw[i];
      const code: unknown = raw[i + 1];
      if (typeof id !== 'string' || typeof code !== 'number') throw new Error('call record entry is malformed');
      if (code === OUTCOME_OPEN) {
        const noPrev = raw[i + 4] === 1;
        log.entries.set(id, { kind: 'open', writes: Number(raw[i + 2]) || 0, prev: noPrev ? undefined : (raw[i + 3] as string | null), live: false });
        i += 5;
      } else {
        // The codec's text is JSON.stringify of its wire form: the value's text comes back as written.
        const value = JSON.stringify(raw[i + 2]);
        log.entries.set(id, { kind: 'done', code, value, text: `${JSON.stringify(id)},${code},${value}` });
        i += 3;
      }
    }
    return log;
  }

  /** Keeps the newest `CALL_LOG_SIZE` completed entries (open ones stay: their calls are not answered yet). */
  private trim(): void {
    let excess = this.entries.size - CALL_LOG_SIZE;
    if (excess <= 0) return;
    for (const [id, e] of this.entries) {
      if (e.kind === 'done') {
        this.entries.delete(id);
        if (--excess === 0) return;
      }
    }
  }
}

function doneEntry(id: string, outcome: RecordedOutcome): Entry {
  let code = outcome.ok ? OUTCOME_VALUE : OUTCOME_ERROR;
  let value: string;
  try {
    value = outcome.ok ? encode(outcome.value, 1) : encode(toGrainError(outcome.error).toWire());
  } catch {
    // A result that cannot be encoded could not be answered either; the caller got that error.
    code = OUTCOME_ERROR;
    value = encode(toGrainError(new GrainError('grain_error', `call ${id}: its result could not be encoded`)).toWire());
  }
  if (value.length > CALL_RESULT_LIMIT) {
    code = OUTCOME_TOO_LARGE;
    value = String(value.length);
  }
  return { kind: 'done', code, value, text: `${JSON.stringify(id)},${code},${value}` };
}

// ---- the stored payload ------------------------------------------------------------

/** A stored state with a call record: this line, the record, a newline, the state (empty: cleared). */
const RECORD_PREFIX = '#calls2\n';

/** The payload to store: the state alone while no call was recorded (as before call ids), else the record and the state. */
export function storedPayload(state: string | null, log: CallLog | null): string | undefined {
  if (log === null || log.size === 0) return state ?? undefined;
  return `${RECORD_PREFIX}${log.text()}\n${state ?? ''}`;
}

/** Splits a stored payload: the state's codec text (null: cleared) and the call record, if any. */
export function parseStoredPayload(payload: string): { state: string | null; log: CallLog | null } {
  if (!payload.startsWith(RECORD_PREFIX)) return { state: payload, log: null };
  const end = payload.indexOf('\n', RECORD_PREFIX.length);
  if (end < 0) throw new Error('stored state with a call record has no state part');
  const state = payload.slice(end + 1);
  return { state: state === '' ? null : state, log: CallLog.parse(payload.slice(RECORD_PREFIX.length, end)) };
}

/** The state a stored payload holds (a tool's or a test's view; `undefined`: cleared). */
export function decodeStoredState(payload: string, options?: Parameters<typeof decode>[1]): unknown {
  const { state } = parseStoredPayload(payload);
  return state === null ? undefined : decode(state, options);
}
