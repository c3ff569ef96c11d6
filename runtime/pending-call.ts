/**
 * A call on its way to an activation: what to run, on whose behalf, and how to answer.
 * It outlives a single activation: when the activation it waited for deactivates or turns
 * out to live elsewhere, the call is routed again, never dropped.
 */
import type { CallScope } from './context.js';
import type { GrainId } from './identity.js';
import { TimeoutError, toGrainError } from './errors.js';

export class PendingCall {
  settled = false;
  /** Set while the call is in an activation's queue, so expiry can skip it there. */
  queued = false;
  /** The silo that answered, when the call went remote (for replies that relay it). */
  host: string | undefined = undefined;

  constructor(
    readonly target: GrainId,
    readonly targetKey: string,
    readonly method: string,
    readonly args: unknown[],
    /** The caller's scope: request context, call chain, transaction. */
    readonly caller: CallScope | undefined,
    /** Absolute deadline on the host's clock. */
    readonly deadline: number,
    /** Copy the result before handing it over (local calls, so caller and callee share nothing). */
    readonly copyResult: boolean,
    /** How often this call was re-routed or forwarded. */
    public hops: number,
    private readonly onResolve: (value: unknown) => void,
    private readonly onReject: (error: unknown) => void,
  ) {}

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onResolve(value);
  }

  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onReject(toGrainError(error));
  }

  /** Called by the deadline sweep. */
  expire(now: number): void {
    if (this.settled) return;
    if (now < this.deadline) return;
    this.reject(new TimeoutError(
      `call ${this.targetKey}.${this.method} got no response within its deadline; the grain may be slow or blocked (raise responseTimeoutMs, or look for a call that never settles)`,
    ));
  }
}
