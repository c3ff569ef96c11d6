/**
 * Where a grain's `registerReminder` goes: each host of activations (a silo's catalog, a
 * Durable Object's host) attaches a backend; the grain members find it through the
 * activation's host, so the core names no reminder code.
 */
import type { Clock } from '../../clock.js';
import { SiloUnavailableError } from '../../errors.js';
import { hostValues } from '../../features.js';
import type { ReminderRecord, ReminderStore } from '../../reminder-storage.js';
import { infoOf, type ReminderInfo, type ReminderSchedule } from './schedule.js';

export interface ReminderBackend {
  readonly clock: Clock;
  /** Persists (creates or replaces) the reminder; durable when it resolves. */
  register(grain: string, name: string, schedule: ReminderSchedule): Promise<void>;
  unregister(grain: string, name: string): Promise<boolean>;
  list(grain: string): Promise<ReminderInfo[]>;
}

const backends = hostValues<ReminderBackend>((grain) => new SiloUnavailableError(
  `${grain} cannot use reminders: its host keeps none (give the silo a storage provider with reminders, such as memoryStorage() or dynamoStorage())`,
));

/** Makes `backend` serve the grains `host` runs. */
export const attachReminderBackend: (host: object, backend: ReminderBackend) => void = backends.attach;

/** The backend of the host running a grain (a `GrainRuntime` with a `host`). */
export const reminderBackendOf: (runtime: unknown, grain: string) => ReminderBackend = backends.of;

/** Told when a reminder is written or removed here, so a silo that owns it need not wait for its next poll. */
export interface ReminderListener {
  registered(record: ReminderRecord): void;
  removed(grain: string, name: string): void;
}

/** The backend over a reminder store (silos). */
export function storeReminderBackend(store: ReminderStore, clock: Clock, listener?: ReminderListener): ReminderBackend {
  return {
    clock,
    async register(grain, name, schedule) {
      const record = await store.put({ grain, name, dueAt: schedule.dueAt, scheduledAt: schedule.dueAt, attempt: 0, ...optional(schedule) });
      listener?.registered(record);
    },
    async unregister(grain, name) {
      const existed = await store.remove(grain, name);
      listener?.removed(grain, name);
      return existed;
    },
    async list(grain) {
      return (await store.list(grain)).map(infoOf);
    },
  };
}

function optional(s: ReminderSchedule): Pick<ReminderSchedule, 'periodMs' | 'cron' | 'timeZone'> {
  return {
    ...(s.periodMs !== undefined ? { periodMs: s.periodMs } : {}),
    ...(s.cron !== undefined ? { cron: s.cron, timeZone: s.timeZone } : {}),
  };
}
