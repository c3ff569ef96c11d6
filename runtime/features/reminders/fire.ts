/**
 * Delivering a due reminder: the system message `$reminder.fire(name, tick)`, sent to the
 * grain like any call (so it activates the grain wherever placement puts it), answered by
 * running `receiveReminder` as an exclusive turn of the activation. System messages never
 * come from the gateway or untrusted clients, and `receiveReminder` is a lifecycle method,
 * so nothing outside the runtime can make a grain believe a reminder fired.
 */
import type { Activation } from '../../activation.js';
import { Status } from '../../activation.js';
import { MethodNotFoundError } from '../../errors.js';
import { registerSystemMessages } from '../../features.js';
import type { PendingCall } from '../../pending-call.js';
import { RESERVED_METHOD_PREFIX } from '../../protocol.js';
import { reminderBackendOf } from './backend.js';
import type { ReminderTick } from './schedule.js';

export const REMINDER_PREFIX = 'reminder';
/** `$reminder.fire`: args `[name, tick]`. */
export const FIRE_MESSAGE = `${RESERVED_METHOD_PREFIX}${REMINDER_PREFIX}.fire`;
/** `$reminder.list`: the grain's reminders, from its host's backend (operations on Workers, where they live with the grain). */
export const LIST_MESSAGE = `${RESERVED_METHOD_PREFIX}${REMINDER_PREFIX}.list`;

registerSystemMessages<Activation>(REMINDER_PREFIX, (act, call: PendingCall) => {
  if (call.method === LIST_MESSAGE) {
    reminderBackendOf(act, act.key).list(act.key).then((list) => call.resolve(list), (err) => call.reject(err));
    return;
  }
  if (call.method !== FIRE_MESSAGE) {
    call.reject(new MethodNotFoundError(`"${call.method}" is not a reminder message`));
    return;
  }
  if (act.status !== Status.Valid && act.status !== Status.Activating) {
    act.host.reroute(call);
    return;
  }
  const [name, tick] = call.args as [string, ReminderTick];
  act.runTurn(() => {
    const grain = act.grain as unknown as { receiveReminder?: (n: string, t: ReminderTick) => unknown };
    if (typeof grain.receiveReminder !== 'function') {
      throw new MethodNotFoundError(`reminder "${name}" of ${act.key} is due, but grain type ${act.type.name} has no receiveReminder(name, tick) method; add one, or unregisterReminder("${name}")`);
    }
    return grain.receiveReminder(name, tick);
  }, () => act.host.reroute(call)).then(() => call.resolve(undefined), (err) => call.reject(err));
});
