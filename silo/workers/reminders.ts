/**
 * Durable reminders on Workers: a grain's reminders live in its own Durable Object's storage
 * and share the object's single alarm, set to the earliest due. Any number of reminders per
 * grain, where a bare Durable Object has one alarm.
 *
 * When the alarm runs (`GrainObject.alarm()`), every reminder due is delivered to the grain
 * as `$reminder.fire` through the object's own host (a turn, like on a silo), one after the
 * other; the outcome moves each on exactly as on a silo (next tick, retry with backoff, or
 * removal of a one-shot), then the alarm is set again. The platform keeps the alarm across
 * evictions and restarts; the record is written before the alarm, so a crash between the two
 * is repaired by the next registration or the object's next alarm.
 */
import {
  REMINDER_FIRE_MESSAGE, REMINDER_RETRY_DEFAULTS, afterTick, decode, encode, reminderInfo, reminderTick,
  type Clock, type Reply, type ReminderBackend, type ReminderRecord,
} from '../../runtime/index.js';
import type { DurableObjectStorageLike, SyncKvLike } from './cloudflare.js';
import { NotSqliteBackedError } from './durable-storage.js';

const GRAIN_KEY = 'granary:reminders:grain';
const NAMES_KEY = 'granary:reminders:names';
const recordKey = (name: string) => `granary:reminder:${name}`;

export interface ObjectReminders extends ReminderBackend {
  /** Runs the reminders due now; `deliver` sends one call message to this object's host. */
  runDue(deliver: (payload: string) => Promise<string>, timeoutMs: number): Promise<void>;
}

export function objectReminders(storage: DurableObjectStorageLike, clock: Clock): ObjectReminders {
  let version = 0;
  const kv = (): SyncKvLike => {
    if (storage.kv === undefined) throw new NotSqliteBackedError();
    return storage.kv;
  };
  const names = (): string[] => (kv().get(NAMES_KEY) as string[] | undefined) ?? [];
  const read = (name: string): ReminderRecord | undefined => kv().get(recordKey(name)) as ReminderRecord | undefined;
  const all = (): ReminderRecord[] => names().map(read).filter((r): r is ReminderRecord => r !== undefined);

  function write(r: ReminderRecord): void {
    kv().put(recordKey(r.name), r);
    const list = names();
    if (!list.includes(r.name)) kv().put(NAMES_KEY, [...list, r.name].sort());
  }

  function drop(name: string): boolean {
    const existed = kv().delete(recordKey(name));
    const list = names();
    if (list.includes(name)) kv().put(NAMES_KEY, list.filter((n) => n !== name));
    return existed;
  }

  /** The alarm at the earliest due reminder, or none. */
  async function arm(): Promise<void> {
    if (storage.setAlarm === undefined) throw new TypeError('this Durable Object has no alarm API (ctx.storage.setAlarm); reminders need it');
    let earliest = Infinity;
    for (const r of all()) earliest = Math.min(earliest, r.dueAt);
    if (earliest === Infinity) await storage.deleteAlarm?.();
    else if ((await storage.getAlarm?.()) !== earliest) await storage.setAlarm(earliest);
  }

  return {
    clock,
    async register(grain, name, schedule) {
      kv().put(GRAIN_KEY, grain);
      write({
        grain, name, dueAt: schedule.dueAt, scheduledAt: schedule.dueAt, attempt: 0, version: ++version,
        ...(schedule.periodMs !== undefined ? { periodMs: schedule.periodMs } : {}),
        ...(schedule.cron !== undefined ? { cron: schedule.cron, timeZone: schedule.timeZone } : {}),
      });
      await arm();
    },
    async unregister(_grain, name) {
      const existed = drop(name);
      await arm();
      return existed;
    },
    async list() {
      return all().map(reminderInfo);
    },
    async runDue(deliver, timeoutMs) {
      const grain = kv().get(GRAIN_KEY) as string | undefined;
      if (grain === undefined) return;
      const due = all().filter((r) => r.dueAt <= clock.now()).sort((a, b) => a.dueAt - b.dueAt);
      for (const r of due) {
        const message = { k: 'call', target: grain, method: REMINDER_FIRE_MESSAGE, args: [r.name, reminderTick(r)], timeout: timeoutMs };
        let ok: boolean;
        try {
          const reply = decode(await deliver(encode(message))) as Reply;
          ok = reply.k === 'ok';
          if (!ok) console.error(JSON.stringify({ level: 'warn', msg: 'reminder failed', grain, reminder: r.name, attempt: r.attempt + 1, err: (reply as { error?: unknown }).error }));
        } catch (err) {
          ok = false;
          console.error(JSON.stringify({ level: 'warn', msg: 'reminder failed', grain, reminder: r.name, err: String(err) }));
        }
        // Unless the grain registered it again or removed it meanwhile (then that stands).
        const current = read(r.name);
        if (current === undefined || current.dueAt !== r.dueAt || current.scheduledAt !== r.scheduledAt || current.attempt !== r.attempt) continue;
        const { next } = afterTick(current, ok, clock.now(), REMINDER_RETRY_DEFAULTS);
        if (next === undefined) drop(r.name);
        else write({ ...current, ...next, version: ++version });
      }
      await arm();
    },
  };
}
