/**
 * What reminders add to every grain class, by declaration merging (the core's `Grain` names
 * no reminder code): `registerReminder`, `unregisterReminder`, `getReminders`. The hook a
 * grain implements, `receiveReminder(name, tick)`, is not declared on `Grain` (a declaration
 * would make `override` compulsory under `noImplicitOverride`); it is a lifecycle method
 * (runtime/protocol.ts), never callable by clients, and absent from typed references.
 */
import { Grain, runtimeOf } from '../../grain.js';
import { reminderBackendOf } from './backend.js';
import { checkReminderName, parseReminderSchedule, type ReminderInfo, type ReminderOptions } from './schedule.js';

declare module '../../grain.js' {
  interface Grain<S> {
    /**
     * Persists a durable reminder for this grain (resolved: it is stored); a name registered
     * again is replaced. `at` or `dueMs` for the first firing; `periodMs` (≥ 1 s) or `cron`
     * (five fields, `timeZone` IANA, default UTC) to repeat; neither: one firing. When due,
     * the grain is activated and `receiveReminder(name, tick)` runs as a turn. An invalid
     * schedule rejects with `InvalidArgumentError`.
     */
    registerReminder(name: string, options: ReminderOptions): Promise<void>;
    /** Removes the reminder; resolves `true` if it existed. */
    unregisterReminder(name: string): Promise<boolean>;
    /** This grain's reminders: `[{ name, nextAt, periodMs?, cron?, timeZone? }]`. */
    getReminders(): Promise<ReminderInfo[]>;
  }
}

function grainName(g: Grain<unknown>): string {
  return `${g.id.type}/${g.id.key}`;
}

declare module '../../ref.js' {
  interface FrameworkMemberNames {
    /** The reminder hook: a lifecycle method, never on a typed reference. */
    receiveReminder: true;
  }
}

// Non-enumerable, as class methods are: they are `Grain`'s own members, never callable methods.
Object.defineProperties(Grain.prototype, {
  registerReminder: {
    configurable: true,
    writable: true,
    value: async function registerReminder(this: Grain<unknown>, name: string, options: ReminderOptions): Promise<void> {
      const grain = grainName(this);
      checkReminderName(name, grain);
      const backend = reminderBackendOf(runtimeOf(this), grain);
      await backend.register(grain, name, parseReminderSchedule(name, grain, options, backend.clock.now()));
    },
  },
  unregisterReminder: {
    configurable: true,
    writable: true,
    value: async function unregisterReminder(this: Grain<unknown>, name: string): Promise<boolean> {
      const grain = grainName(this);
      checkReminderName(name, grain);
      return reminderBackendOf(runtimeOf(this), grain).unregister(grain, name);
    },
  },
  getReminders: {
    configurable: true,
    writable: true,
    value: function getReminders(this: Grain<unknown>): Promise<ReminderInfo[]> {
      const grain = grainName(this);
      return reminderBackendOf(runtimeOf(this), grain).list(grain);
    },
  },
});
