/**
 * The caller's deadline (`x-granary-timeout-ms`): the gateway answers 504 `timeout` when it
 * passes, without waiting for the grain (whose turn runs on; JavaScript cannot stop it) —
 * unless the turn has begun a state write: then it waits for the write's outcome, so a
 * committed write is never answered as a timeout, and a turn answered 504 can no longer
 * write (`CallDeadline`; docs/storage.md, "Deadlines and state writes").
 */
import type { CallDeadline } from '../../runtime/pending-call.js';
import { TIMEOUT_HEADER } from '../../runtime/protocol.js';
import type { GrainTarget } from './target.js';

export function withDeadline<T>(p: Promise<T>, ms: number | undefined, t: GrainTarget, deadline?: CallDeadline): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A turn that has begun writing answers with the write's outcome (p settles then).
      if (deadline !== undefined && !deadline.expire()) return;
      reject(Object.assign(new Error(`${t.type}/${t.key}.${t.method} did not answer within ${ms} ms (${TIMEOUT_HEADER})`), { code: 'timeout', name: 'TimeoutError' }));
    }, ms);
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}
