/**
 * Durable reminders (API.md "Durable reminders"), plugged into the core's seams
 * (runtime/features.ts): grain members by declaration merging, the system message
 * `$reminder.fire`, and a per-host backend. Silos run a `ReminderService` over the storage
 * provider's reminder store; Workers keep each grain's reminders in its Durable Object.
 * Importing this module registers the feature (runtime/index.ts does).
 */
import './grain-members.js';
import './fire.js';
export { FIRE_MESSAGE as REMINDER_FIRE_MESSAGE, LIST_MESSAGE as REMINDER_LIST_MESSAGE } from './fire.js';
export { attachReminderBackend, reminderBackendOf, storeReminderBackend } from './backend.js';
export type { ReminderBackend, ReminderListener } from './backend.js';
export { ReminderService } from './service.js';
export type { ReminderCounters, ReminderServiceOptions } from './service.js';
export { ownedPartitions, partitionOwner, reminderOwners } from './ownership.js';
export {
  DEFAULT_RETRY as REMINDER_RETRY_DEFAULTS, MIN_PERIOD_MS as MIN_REMINDER_PERIOD_MS, afterTick, checkReminderName, infoOf as reminderInfo,
  nextTickAfter, parseReminderSchedule, tickOf as reminderTick,
} from './schedule.js';
export type { ReminderInfo, ReminderOptions, ReminderSchedule, ReminderTick, RetryPolicy } from './schedule.js';
