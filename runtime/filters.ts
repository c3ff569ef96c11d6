/**
 * Grain call filters: Orleans' incoming and outgoing grain call filters, shaped like Hono
 * middleware. A filter sees the call (target, method, arguments, request context), may
 * replace the arguments, short-circuit by returning or throwing, and sees the result of
 * `next()`. Granary's own cross-cutting features (argument schemas, transactions, tracing)
 * plug in here too, so the core names none of them.
 */
import type { GrainId } from './identity.js';

/** A call as filters see it. */
export interface GrainCall {
  /** The grain called. */
  readonly grain: GrainId;
  readonly method: string;
  /** The arguments; a filter may replace them (the grain gets what is here when `next()` runs). */
  args: unknown[];
  /** The call's request context (read-only; outgoing filters add values with `RequestContext.set`). */
  readonly context: Readonly<Record<string, unknown>>;
}

/**
 * `(call, next) => …`: call `next()` to go on; return (or throw) to answer in its place.
 * A filter with an `active` function that returns false is passing calls through unseen for
 * now (tracing with no tracer provider): when no filter of a list is active, calls skip the
 * filter machinery altogether, so a filter that is usually idle costs next to nothing.
 */
export type CallFilter = ((call: GrainCall, next: () => Promise<unknown>) => Promise<unknown>) & { active?: () => boolean };

/** Whether any of `filters` would do something now (one without `active` always would). */
export function anyFilterActive(filters: readonly CallFilter[]): boolean {
  for (let i = 0; i < filters.length; i++) {
    const active = filters[i]!.active;
    if (active === undefined || active()) return true;
  }
  return false;
}

export interface CallFilters {
  /** Run on the silo that hosts the grain, for every call to it (client, HTTP or grain). */
  incoming?: readonly CallFilter[];
  /** Run for the calls this silo's grains make (or a client makes), in the caller's request context. */
  outgoing?: readonly CallFilter[];
}

/**
 * Runs `filters` around `last`, outermost first. `last` is called with the call as the
 * filters left it. A filter that calls `next()` twice gets an error the second time.
 */
export function runFilters(
  filters: readonly CallFilter[],
  call: GrainCall,
  last: (call: GrainCall) => unknown,
): Promise<unknown> {
  const dispatch = (i: number): Promise<unknown> => {
    if (i === filters.length) {
      try {
        return Promise.resolve(last(call));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    let called = false;
    const next = (): Promise<unknown> => {
      if (called) return Promise.reject(new Error(`call filter #${i + 1} called next() more than once for ${call.grain.type}.${call.method}`));
      called = true;
      return dispatch(i + 1);
    };
    try {
      return Promise.resolve(filters[i]!(call, next));
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return dispatch(0);
}
