/**
 * The caller's deadline (`x-granary-timeout-ms`): the gateway answers 504 `timeout` when it
 * passes, without waiting for the grain (whose turn runs on; JavaScript cannot stop it).
 */
import { TIMEOUT_HEADER } from '../../runtime/protocol.js';
import type { GrainTarget } from './target.js';

export function withDeadline<T>(p: Promise<T>, ms: number | undefined, t: GrainTarget): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(Object.assign(new Error(`${t.type}/${t.key}.${t.method} did not answer within ${ms} ms (${TIMEOUT_HEADER})`), { code: 'timeout', name: 'TimeoutError' }));
    }, ms);
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}
