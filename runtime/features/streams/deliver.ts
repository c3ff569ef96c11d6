/**
 * Delivering a stream item to a subscriber grain: the system message
 * `$stream.deliver(method, item, meta)`, sent to the grain like any call (so it activates the
 * grain wherever placement puts it), answered by running `method(item, meta)` as an exclusive
 * turn. System messages never come from the gateway, and `onStreamItem` is a lifecycle method,
 * so nothing outside the runtime can make a grain believe an item arrived.
 */
import type { Activation } from '../../activation.js';
import { Status } from '../../activation.js';
import { MethodNotFoundError } from '../../errors.js';
import { registerSystemMessages } from '../../features.js';
import type { PendingCall } from '../../pending-call.js';
import { RESERVED_METHOD_PREFIX } from '../../protocol.js';
import type { StreamItemMeta } from './model.js';

export const STREAM_PREFIX = 'stream';
/** `$stream.deliver`: args `[method, item, meta]`. */
export const DELIVER_MESSAGE = `${RESERVED_METHOD_PREFIX}${STREAM_PREFIX}.deliver`;
/** The method implicit subscribers receive items on. */
export const IMPLICIT_METHOD = 'onStreamItem';

registerSystemMessages<Activation>(STREAM_PREFIX, (act, call: PendingCall) => {
  if (call.method !== DELIVER_MESSAGE) {
    call.reject(new MethodNotFoundError(`"${call.method}" is not a stream message`));
    return;
  }
  if (act.status !== Status.Valid && act.status !== Status.Activating) {
    act.host.reroute(call);
    return;
  }
  const [method, item, meta] = call.args as [string, unknown, StreamItemMeta];
  act.runTurn(() => {
    const fn = (act.grain as unknown as Record<string, unknown>)[method];
    if (typeof fn !== 'function') {
      throw new MethodNotFoundError(`stream ${meta.namespace}/${meta.key} item ${meta.seq} is for ${act.key}.${method}(item, meta), but grain type ${act.type.name} has no such method; add it, or unsubscribe`);
    }
    return (fn as (item: unknown, meta: StreamItemMeta) => unknown).call(act.grain, item, meta);
  }, () => act.host.reroute(call)).then(() => call.resolve(undefined), (err) => call.reject(err));
});
