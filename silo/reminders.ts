/**
 * A silo's reminders: the service that fires the partitions this silo owns, and the backend
 * its grains register through, both over the storage provider's reminder store.
 */
import {
  PendingCall, ReminderService, attachReminderBackend, parseGrainId, storeReminderBackend, REMINDER_FIRE_MESSAGE,
  type Catalog, type Clock, type Membership, type ReminderStore, type ReminderTick,
} from '../runtime/index.js';

/** `Silo.start({ reminders })`: how the silo's reminder service runs (see docs/reminders.md). */
export interface SiloReminderOptions {
  /** How often the partitions this silo owns are read (default 1 000 ms). */
  pollMs?: number;
  /** How far ahead a poll reads, what is held in memory (default `pollMs` + 1 000 ms). */
  lookaheadMs?: number;
  /** Reminders read per partition and poll at most (default 1 000). */
  batch?: number;
  /** Firings under way at once at most (default 256). */
  maxConcurrentFirings?: number;
  /** How long a firing may run before it counts as failed and is retried (default: the silo's `responseTimeoutMs`). */
  firingTimeoutMs?: number;
  /** Retries of a tick whose `receiveReminder` threw: attempts (default 10), first delay (1 s, doubled each time), longest delay (5 min). */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** `false`: this silo fires no reminders (its grains can still register them). Default true. */
  fire?: boolean;
}

export interface SiloRemindersInit {
  store: ReminderStore;
  clock: Clock;
  siloId: string;
  membership: Membership;
  catalog: Catalog;
  /** Routes a call from this silo (directory, placement, transport). */
  route(call: PendingCall): void;
  responseTimeoutMs: number;
  options?: SiloReminderOptions;
  onError(what: string, err: unknown, grain?: string): void;
}

/** Attaches the backend to the catalog and gives the service (not started), or undefined when this silo fires none. */
export function siloReminders(init: SiloRemindersInit): ReminderService | undefined {
  const { fire = true, ...serviceOptions } = init.options ?? {};
  const service = fire
    ? new ReminderService({
      firingTimeoutMs: init.responseTimeoutMs,
      ...serviceOptions,
      store: init.store,
      clock: init.clock,
      self: init.siloId,
      membership: init.membership,
      send: (grain, name, tick) => sendFiring(init, grain, name, tick),
      onError: init.onError,
    })
    : undefined;
  attachReminderBackend(init.catalog, storeReminderBackend(init.store, init.clock, service));
  return service;
}

/** One firing, routed to the grain like a call (it activates the grain where placement says). */
function sendFiring(init: SiloRemindersInit, grain: string, name: string, tick: ReminderTick): Promise<unknown> {
  return new Promise((resolve, reject) => {
    init.route(new PendingCall({
      target: parseGrainId(grain), targetKey: grain, method: REMINDER_FIRE_MESSAGE, args: [name, tick], caller: undefined,
      timeoutMs: init.responseTimeoutMs, onResolve: resolve, onReject: reject,
    }));
  });
}
