/**
 * The reminder storage port: durable reminders, one record per (grain, name), kept so that a
 * silo can read "due before T" for one partition without reading every reminder. A storage
 * provider that keeps reminders offers one as `StorageProvider.reminders` (memory, DynamoDB;
 * on Workers a grain's reminders live in its Durable Object instead).
 *
 * Reminders are spread over a fixed number of partitions by a hash of the grain id; the live
 * silos split the partitions between them (runtime/features/reminders/ownership.ts).
 */

/** What is stored for one reminder. */
export interface ReminderRecord {
  /** `"type/key"` of the grain it wakes. */
  readonly grain: string;
  readonly name: string;
  /** When it fires next (epoch ms): the tick's time, or later while a failed tick is retried. */
  readonly dueAt: number;
  /** The tick due (epoch ms): what `firingId` and `tick.scheduledAt` name; kept across retries. */
  readonly scheduledAt: number;
  /** Failed attempts of this tick so far (0 for a fresh tick). */
  readonly attempt: number;
  readonly periodMs?: number;
  readonly cron?: string;
  readonly timeZone?: string;
  /** Bumped by every change: `advance` is conditional on it, so a re-registration wins. */
  readonly version: number;
}

/** A record as written (the store assigns the version). */
export type ReminderInput = Omit<ReminderRecord, 'version'>;

/** What a tick's outcome changes: the next due time and tick (retry or next tick). */
export interface ReminderAdvance {
  dueAt: number;
  scheduledAt: number;
  attempt: number;
}

export interface ReminderStore {
  /** Partitions the reminders are spread over (fixed for a store's lifetime). */
  readonly partitions: number;
  /** Creates or replaces the reminder `(grain, name)`; durable when it resolves. */
  put(input: ReminderInput): Promise<ReminderRecord>;
  /** Removes it; resolves `true` if it existed. */
  remove(grain: string, name: string): Promise<boolean>;
  /** One reminder, read consistently (what a firing checks before it delivers). */
  get(grain: string, name: string): Promise<ReminderRecord | undefined>;
  /** A grain's reminders, by name. */
  list(grain: string): Promise<ReminderRecord[]>;
  /**
   * Reminders of `partition` due before `until`, earliest first, at most `limit`. May lag
   * behind writes (an eventually consistent index): a firing re-reads its record with `get`.
   */
  due(partition: number, until: number, limit: number): Promise<ReminderRecord[]>;
  /**
   * After a tick of `record`: moves it to `next` (or deletes it when `next` is undefined),
   * only if it is still the stored version; resolves `false` when it changed meanwhile (the
   * grain registered it again or removed it: the new registration stands).
   */
  advance(record: ReminderRecord, next: ReminderAdvance | undefined): Promise<boolean>;
}

/** Default number of partitions: enough to spread over many silos, few enough to poll each. */
export const DEFAULT_REMINDER_PARTITIONS = 64;

/** The partition of a grain's reminders (32-bit FNV-1a of `"type/key"`). */
export function reminderPartition(grain: string, partitions: number): number {
  return fnv1a(grain) % partitions;
}

/** 32-bit FNV-1a: a stable, fast string hash (placement uses the same). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
