/**
 * Reminder schedules: checking what `registerReminder` was given (every mistake is an
 * `InvalidArgumentError` saying what to pass instead) and computing the next tick. Cron
 * expressions are parsed and stepped by croner (five fields, IANA time zones), not by us.
 */
import { Cron } from 'croner';
import { InvalidArgumentError } from '../../errors.js';
import type { ReminderAdvance, ReminderRecord } from '../../reminder-storage.js';

/** What `registerReminder(name, options)` takes (API.md "Durable reminders"). */
export interface ReminderOptions {
  /** First firing this many milliseconds from now. */
  dueMs?: number;
  /** First firing at this time (instead of `dueMs`). */
  at?: Date;
  /** Then every `periodMs` (at least 1 000). */
  periodMs?: number;
  /** Or on this cron schedule: five fields (minute hour day-of-month month day-of-week). */
  cron?: string;
  /** The cron expression's IANA time zone (default `UTC`). */
  timeZone?: string;
}

/** What `receiveReminder(name, tick)` gets. */
export interface ReminderTick {
  /** Stable per tick: a retried or re-delivered firing of the same tick has the same id. */
  firingId: string;
  /** The time the tick was due. */
  scheduledAt: Date;
  /** 1 for the first delivery of this tick, 2 for its first retry, … */
  attempt: number;
}

/** One entry of `getReminders()`. */
export interface ReminderInfo {
  name: string;
  /** When it fires next. */
  nextAt: Date;
  periodMs?: number;
  cron?: string;
  /** The cron expression's time zone. */
  timeZone?: string;
}

/** A checked schedule: when the first tick is due and how it repeats. */
export interface ReminderSchedule {
  dueAt: number;
  periodMs?: number;
  cron?: string;
  timeZone?: string;
}

/** The shortest period accepted. */
export const MIN_PERIOD_MS = 1_000;
/** Longest reminder name accepted (it is part of storage keys). */
export const MAX_NAME_LENGTH = 200;

export function checkReminderName(name: unknown, grain: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(`a reminder name of ${grain} must be a non-empty string of at most ${MAX_NAME_LENGTH} characters (got ${describe(name)})`);
  }
  return name;
}

/** Checks `options` and gives the schedule, its first tick counted from `now`. */
export function parseReminderSchedule(name: string, grain: string, options: unknown, now: number): ReminderSchedule {
  const where = `registerReminder(${JSON.stringify(name)}) of ${grain}`;
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(`${where} needs options: { dueMs | at } for the first firing and/or { periodMs | cron } to repeat`);
  }
  const o = options as ReminderOptions;
  for (const k of Object.keys(o)) {
    if (!['dueMs', 'at', 'periodMs', 'cron', 'timeZone'].includes(k)) {
      throw new InvalidArgumentError(`${where}: unknown option "${k}" (options are dueMs, at, periodMs, cron, timeZone)`);
    }
  }
  if (o.dueMs !== undefined && o.at !== undefined) throw new InvalidArgumentError(`${where}: give dueMs or at, not both`);
  if (o.periodMs !== undefined && o.cron !== undefined) throw new InvalidArgumentError(`${where}: give periodMs or cron, not both`);
  if (o.dueMs === undefined && o.at === undefined && o.periodMs === undefined && o.cron === undefined) {
    throw new InvalidArgumentError(`${where} has no schedule: give dueMs or at for the first firing, and periodMs or cron to repeat`);
  }
  if (o.dueMs !== undefined && (typeof o.dueMs !== 'number' || !Number.isFinite(o.dueMs) || o.dueMs < 0)) {
    throw new InvalidArgumentError(`${where}: dueMs must be a finite number of milliseconds >= 0 (got ${describe(o.dueMs)})`);
  }
  if (o.at !== undefined && (!(o.at instanceof Date) || Number.isNaN(o.at.getTime()))) {
    throw new InvalidArgumentError(`${where}: at must be a valid Date (got ${describe(o.at)})`);
  }
  if (o.periodMs !== undefined && (typeof o.periodMs !== 'number' || !Number.isFinite(o.periodMs) || o.periodMs < MIN_PERIOD_MS)) {
    throw new InvalidArgumentError(`${where}: periodMs must be at least ${MIN_PERIOD_MS} ms (got ${describe(o.periodMs)}); for shorter intervals use registerTimer`);
  }
  if (o.timeZone !== undefined && o.cron === undefined) {
    throw new InvalidArgumentError(`${where}: timeZone applies to a cron schedule only; give cron too, or drop timeZone`);
  }
  let cron: Cron | undefined;
  if (o.cron !== undefined) cron = parseCron(o.cron, o.timeZone, where);
  const periodMs = o.periodMs;
  let dueAt: number;
  if (o.at !== undefined) dueAt = o.at.getTime();
  else if (o.dueMs !== undefined) dueAt = now + o.dueMs;
  else if (periodMs !== undefined) dueAt = now + periodMs;
  else dueAt = nextCronRun(cron!, now, where);
  return {
    dueAt,
    ...(periodMs !== undefined ? { periodMs } : {}),
    ...(o.cron !== undefined ? { cron: o.cron.trim(), timeZone: o.timeZone ?? 'UTC' } : {}),
  };
}

function parseCron(expr: unknown, timeZone: string | undefined, where: string): Cron {
  if (typeof expr !== 'string' || expr.trim().split(/\s+/).length !== 5) {
    throw new InvalidArgumentError(`${where}: cron must have five fields, "minute hour day-of-month month day-of-week" such as "0 9 * * 1-5" (got ${describe(expr)})`);
  }
  if (timeZone !== undefined) {
    try {
      if (typeof timeZone !== 'string') throw new TypeError('not a string');
      new Intl.DateTimeFormat('en-US', { timeZone });
    } catch {
      throw new InvalidArgumentError(`${where}: timeZone must be an IANA time zone such as "Europe/Paris" or "UTC" (got ${describe(timeZone)})`);
    }
  }
  try {
    return new Cron(expr.trim(), { paused: true, timezone: timeZone ?? 'UTC' });
  } catch (err) {
    throw new InvalidArgumentError(`${where}: the cron expression ${JSON.stringify(expr)} does not parse: ${(err as Error).message}`);
  }
}

function nextCronRun(cron: Cron, after: number, where: string): number {
  const next = cron.nextRun(new Date(after));
  if (next === null) throw new InvalidArgumentError(`${where}: the cron expression never fires after ${new Date(after).toISOString()}`);
  return next.getTime();
}

const cronCache = new Map<string, Cron>();
function cronOf(expr: string, timeZone: string | undefined): Cron {
  const key = `${timeZone ?? 'UTC'} ${expr}`;
  let c = cronCache.get(key);
  if (c === undefined) {
    c = new Cron(expr, { paused: true, timezone: timeZone ?? 'UTC' });
    if (cronCache.size > 1_000) cronCache.clear();
    cronCache.set(key, c);
  }
  return c;
}

/**
 * The first tick of `r`'s schedule after `now`, or undefined for a one-shot reminder: ticks
 * missed while nothing could run are skipped, so a recovery fires once, not in a burst.
 */
export function nextTickAfter(r: Pick<ReminderRecord, 'scheduledAt' | 'periodMs' | 'cron' | 'timeZone'>, now: number): number | undefined {
  if (r.periodMs !== undefined) {
    const behind = Math.max(0, now - r.scheduledAt);
    return r.scheduledAt + (Math.floor(behind / r.periodMs) + 1) * r.periodMs;
  }
  if (r.cron !== undefined) {
    const next = cronOf(r.cron, r.timeZone).nextRun(new Date(Math.max(now, r.scheduledAt)));
    return next === null ? undefined : next.getTime();
  }
  return undefined;
}

export interface RetryPolicy {
  /** Delivery attempts of one tick before it is given up (default 10). */
  maxAttempts: number;
  /** Delay before the first retry; doubled each time (default 1 s). */
  baseDelayMs: number;
  /** Longest delay between retries (default 5 min). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 10, baseDelayMs: 1_000, maxDelayMs: 5 * 60_000 };

/**
 * What a tick's outcome makes of the reminder: after success the next tick (a one-shot ends:
 * undefined); after a failure a retry of the same tick with exponential backoff, unless the
 * retries are used up or the next regular tick comes first (then that tick: `gaveUp`).
 */
export function afterTick(r: ReminderRecord, ok: boolean, now: number, retry: RetryPolicy): { next: ReminderAdvance | undefined; gaveUp: boolean } {
  const regular = nextTickAfter(r, now);
  const nextTick = regular === undefined ? undefined : { dueAt: regular, scheduledAt: regular, attempt: 0 };
  if (ok) return { next: nextTick, gaveUp: false };
  const attempt = r.attempt + 1;
  const delay = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  if (attempt >= retry.maxAttempts || (regular !== undefined && now + delay >= regular)) return { next: nextTick, gaveUp: true };
  return { next: { dueAt: now + delay, scheduledAt: r.scheduledAt, attempt }, gaveUp: false };
}

/** The tick a record's next firing delivers. */
export function tickOf(r: ReminderRecord): ReminderTick {
  return { firingId: `${r.name}:${r.scheduledAt}`, scheduledAt: new Date(r.scheduledAt), attempt: r.attempt + 1 };
}

export function infoOf(r: Pick<ReminderRecord, 'name' | 'dueAt' | 'periodMs' | 'cron' | 'timeZone'>): ReminderInfo {
  return {
    name: r.name,
    nextAt: new Date(r.dueAt),
    ...(r.periodMs !== undefined ? { periodMs: r.periodMs } : {}),
    ...(r.cron !== undefined ? { cron: r.cron, timeZone: r.timeZone ?? 'UTC' } : {}),
  };
}

function describe(v: unknown): string {
  if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString()})`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
