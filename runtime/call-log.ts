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
import type { Clock } from './clock.js';
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

/** A seeded clock's own prefix and counter: ids in a simulation repeat with its seed. */
const seededIds = new WeakMap<Clock, { prefix: string; next: number }>();

/**
 * A new call id, unique across processes: a process prefix and a counter (cheaper than a ULID
 * per call). With a `clock` that has its own randomness (a seeded simulation), the prefix is
 * drawn from it, so a seed gives the same ids (they show in some errors' messages).
 */
export function freshCallId(clock?: Clock): string {
  if (clock?.random === undefined) return `${prefix()}${(nextFresh++).toString(36)}`;
  let ids = seededIds.get(clock);
  if (ids === undefined) {
    let p = '';
    for (let i = 0; i < 11; i++) p += PREFIX_ALPHABET[Math.floor(clock.random() * 64)];
    seededIds.set(clock, ids = { prefix: p, next: 0 });
  }
  return `${ids.prefix}${(ids.next++).toString(36)}`;
}

/** The id of the turn running a call, and how many calls it has made (the derived ids' ordinals). */
export interface TurnIds {
  readonly id: string;
  next: number;
  /** A replay (see above): this many state writes already committed and are skipped. */
  skipWrites: number;
  /** The call was re-sent after its silo died: an earlier run may have done what this one is about to. */
  readonly resent: boolean;
  /**
   * A replay (see above) under way: `overtaken` when other calls wrote after the first run's
   * last write, so the replay's state is not the stored one and it may not write more.
   */
  replay?: { readonly overtaken: boolean };
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
  }
  | {
    readonly kind: 'open';
    /** State writes of the call that were sent (a replay skips that many). */
    writes: number;
    /** The stored state from before the call (codec text; null: nothing was stored); undefined: too large to keep. */
    readonly prev: string | null | undefined;
    /** This activation runs the call now (false: the record came from storage: its host died). */
    live: boolean;
    /** Another call wrote after this one's last write (a replay may then answer, but not write on). */
    overtaken: boolean;
  };

/** A completed entry in record order, with its text relative to the entry before it (see below). */
interface DoneText {
  readonly id: string;
  /** `code,value`: the part of the entry's text that does not depend on its neighbour. */
  readonly tail: string;
  /** The whole entry's text, its id front-coded against the previous completed entry's id. */
  readonly text: string;
}

/** A recorded outcome, as a call is answered. */
export type RecordedOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

// The record is one flat JSON array, entry after entry, as small as it can be: it is rewritten
// with every write of the grain. An entry is `shared,suffix,0,value` | `shared,suffix,3,error` |
// `shared,suffix,1,length` | `shared,suffix,2,writes,prev,flags` (a call written and not yet
// answered; flags NO_PREV | OVERTAKEN). Its id is front-coded: the first `shared` characters of the previous entry's id,
// then `suffix`. Ids of one caller differ only in their last characters (a process prefix and
// a counter), so most entries shrink from ~20 characters to ~8. A suffix of base-36 digits
// without a leading zero is written as the number it spells: no quotes, which the SDK's JSON
// writer escapes slowly, and fewer characters.
const OUTCOME_VALUE = 0;
const OUTCOME_TOO_LARGE = 1;
const OUTCOME_OPEN = 2;
const OUTCOME_ERROR = 3;
/** An open entry's flags: the state before the call was too large to keep; another call wrote after it. */
const NO_PREV = 1;
const OVERTAKEN = 2;
/** A suffix written as a number: 0, or up to 10 base-36 digits (below 2^53) without a leading zero. */
const NUMERIC_SUFFIX = /^(?:0|[1-9a-z][0-9a-z]{0,9})$/;

/** `id` front-coded against `previous`: `shared,suffix`. */
function idText(id: string, previous: string): string {
  let shared = 0;
  const most = Math.min(id.length, previous.length);
  while (shared < most && id.charCodeAt(shared) === previous.charCodeAt(shared)) shared++;
  const suffix = id.slice(shared);
  return `${shared},${NUMERIC_SUFFIX.test(suffix) ? parseInt(suffix, 36) : JSON.stringify(suffix)}`;
}

export class CallLog {
  /** Every entry by id, for lookups. */
  private readonly entries = new Map<string, Entry>();
  /** The completed entries, oldest first: the oldest leave first. */
  private readonly done: DoneText[] = [];
  /** The ids of the open entries (written, not answered), in the order they were written. */
  private readonly open = new Set<string>();
  /**
   * The text of `done[1..]` joined, kept as entries come and go (the record is written with
   * every state write; rebuilding it would cost more than the write's own encoding). `done[0]`
   * is written apart: the first entry's id is not front-coded.
   */
  private restText = '';

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The ids recorded: the completed ones oldest first, then the open ones. */
  ids(): string[] {
    return [...this.done.map((d) => d.id), ...this.open];
  }

  /** The call `id` runs in this activation now and has written. */
  isLive(id: string): boolean {
    const e = this.entries.get(id);
    return e !== undefined && e.kind === 'open' && e.live;
  }

  /** The call `id` wrote, and its host died before its outcome was recorded: replay it. */
  replayOf(id: string): { writes: number; prev: string | null | undefined; overtaken: boolean } | undefined {
    const e = this.entries.get(id);
    return e !== undefined && e.kind === 'open' && !e.live ? { writes: e.writes, prev: e.prev, overtaken: e.overtaken } : undefined;
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
    this.markOvertaken(id);
    const e = this.entries.get(id);
    if (e !== undefined && e.kind === 'open') {
      e.writes++;
      return;
    }
    const prev = stored === null || stored.length <= REPLAY_STATE_LIMIT ? stored : undefined;
    this.entries.set(id, { kind: 'open', writes: 1, prev, live: true, overtaken: false });
    this.open.add(id);
  }

  /**
   * A write goes past the calls whose host died after they wrote (all but `except`, the
   * writing call's own): their replays may answer, but not write on (`TurnIds.replay`).
   */
  markOvertaken(except?: string): void {
    for (const other of this.open) {
      const o = this.entries.get(other) as Extract<Entry, { kind: 'open' }>;
      if (other !== except && !o.live) o.overtaken = true;
    }
  }

  /**
   * The call `id` ended with `outcome`: recorded for the next write. Returns true when the
   * record of its write cannot replay it (no `prev` kept): then store the record before answering.
   */
  complete(id: string, outcome: RecordedOutcome): boolean {
    const e = this.entries.get(id);
    if (e === undefined || e.kind !== 'open') return false;
    const { code, value } = doneOutcome(id, outcome);
    this.addDone(id, code, value);
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

  /** The record as stored (JSON, one line): the completed entries, oldest first, then the open ones. */
  text(): string {
    let out = '[';
    const first = this.done[0];
    if (first !== undefined) {
      out += `${idText(first.id, '')},${first.tail}`;
      if (this.restText !== '') out += `,${this.restText}`;
    }
    let previous = this.done.at(-1)?.id ?? '';
    for (const id of this.open) {
      const e = this.entries.get(id) as Extract<Entry, { kind: 'open' }>;
      if (out.length > 1) out += ',';
      out += `${idText(id, previous)},${OUTCOME_OPEN},${e.writes},${JSON.stringify(e.prev ?? null)},${(e.prev === undefined ? NO_PREV : 0) | (e.overtaken ? OVERTAKEN : 0)}`;
      previous = id;
    }
    return out + ']';
  }

  static parse(text: string): CallLog {
    const log = new CallLog();
    const raw = JSON.parse(text) as unknown;
    if (!Array.isArray(raw)) throw new Error('call record is not an array');
    let previous = '';
    for (let i = 0; i < raw.length;) {
      let id: string;
      const head: unknown = raw[i];
      if (typeof head === 'string') {
        // `#calls2` records (before front-coding): the id whole.
        id = head;
        i += 1;
      } else {
        const suffix: unknown = raw[i + 1];
        if (typeof head !== 'number' || head > previous.length || (typeof suffix !== 'string' && typeof suffix !== 'number')) throw new Error('call record entry is malformed');
        id = previous.slice(0, head) + (typeof suffix === 'number' ? suffix.toString(36) : suffix);
        i += 2;
      }
      previous = id;
      const code: unknown = raw[i];
      if (typeof code !== 'number' || log.entries.has(id)) throw new Error('call record entry is malformed');
      if (code === OUTCOME_OPEN) {
        const flags = Number(raw[i + 3]) || 0;
        log.entries.set(id, { kind: 'open', writes: Number(raw[i + 1]) || 0, prev: (flags & NO_PREV) !== 0 ? undefined : (raw[i + 2] as string | null), live: false, overtaken: (flags & OVERTAKEN) !== 0 });
        log.open.add(id);
        i += 4;
      } else {
        // The codec's text is JSON.stringify of its wire form: the value's text comes back as written.
        log.addDone(id, code, JSON.stringify(raw[i + 1]));
        i += 2;
      }
    }
    return log;
  }

  /** Records `id` as completed, the newest entry. */
  private addDone(id: string, code: number, value: string): void {
    this.open.delete(id);
    this.entries.set(id, { kind: 'done', code, value });
    const tail = `${code},${value}`;
    const last = this.done.at(-1);
    const entry: DoneText = { id, tail, text: `${idText(id, last?.id ?? '')},${tail}` };
    if (last !== undefined) this.restText = this.restText === '' ? entry.text : `${this.restText},${entry.text}`;
    this.done.push(entry);
  }

  /** Keeps the newest `CALL_LOG_SIZE` completed entries (open ones stay: their calls are not answered yet). */
  private trim(): void {
    while (this.entries.size > CALL_LOG_SIZE && this.done.length > 0) {
      const oldest = this.done.shift()!;
      this.entries.delete(oldest.id);
      // The new first entry leaves restText: it is written whole, not front-coded (see text()).
      const first = this.done[0];
      if (first !== undefined) this.restText = this.restText.slice(first.text.length + 1);
    }
  }
}

function doneOutcome(id: string, outcome: RecordedOutcome): { code: number; value: string } {
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
  return { code, value };
}

// ---- the stored payload ------------------------------------------------------------

/** A stored state with a call record: this line, the record, a newline, the state (empty: cleared). */
const RECORD_PREFIX = '#calls3\n';
/** The line of records written before ids were front-coded: still read. */
const RECORD_PREFIX_V2 = '#calls2\n';

/** The payload to store: the state alone while no call was recorded (as before call ids), else the record and the state. */
export function storedPayload(state: string | null, log: CallLog | null): string | undefined {
  if (log === null || log.size === 0) return state ?? undefined;
  return `${RECORD_PREFIX}${log.text()}\n${state ?? ''}`;
}

/** Splits a stored payload: the state's codec text (null: cleared) and the call record, if any. */
export function parseStoredPayload(payload: string): { state: string | null; log: CallLog | null } {
  if (!payload.startsWith(RECORD_PREFIX) && !payload.startsWith(RECORD_PREFIX_V2)) return { state: payload, log: null };
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
