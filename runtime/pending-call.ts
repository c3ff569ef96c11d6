/**
 * A call on its way to an activation: what to run, on whose behalf, and how to answer.
 * It outlives a single activation: when the activation it waited for deactivates or turns
 * out to live elsewhere, the call is routed again, never dropped.
 */
import type { CallScope } from './context.js';
import type { GrainId } from './identity.js';
import { TimeoutError, toGrainError } from './errors.js';

export interface PendingCallInit {
  target: GrainId;
  /** `"type/key"` of `target`. */
  targetKey: string;
  method: string;
  args: unknown[];
  /** The caller's scope: request context, call chain, what features attach. */
  caller: CallScope | undefined;
  /** How long the caller waits; the deadline is fixed the first time the call is scheduled. */
  timeoutMs: number;
  /** Copy the result before handing it over (local calls, so caller and callee share nothing). */
  copyResult?: boolean;
  /** How often the call was forwarded before it got here (a message's `hops`). */
  hops?: number;
  /** The call's id (runtime/call-log.ts); undefined: the call cannot be re-sent safely. */
  id?: string | undefined;
  /** How often it was re-sent already (a message that says `resent`: at least once). */
  resends?: number;
  /** Its id makes a re-send safe (default: it has an id). */
  resendable?: boolean;
  onResolve(value: unknown): void;
  onReject(error: unknown): void;
}

export class PendingCall {
  settled = false;
  /** Set while the call is in an activation's queue, so expiry can skip it there. */
  queued = false;
  /** Absolute deadline on the host's clock; 0 until first scheduled (saves a clock read per call). */
  deadline = 0;
  /** The silo that answered, when the call went remote (for replies that relay it). */
  host: string | undefined = undefined;
  readonly target: GrainId;
  readonly targetKey: string;
  readonly method: string;
  /** Replaceable by incoming call filters before the method runs. */
  args: unknown[];
  readonly caller: CallScope | undefined;
  readonly timeoutMs: number;
  readonly copyResult: boolean;
  /** How often this call was re-routed or forwarded. */
  hops: number;
  /** The call's id (runtime/call-log.ts): the same on every send, so the callee runs it once. */
  readonly id: string | undefined;
  /** How often the call was re-sent after its silo died or could not be reached. */
  resends = 0;
  /** Sent again after its silo may have received it and died (it has an id, and no feature settles it instead). */
  readonly resendable: boolean;
  /**
   * The turn running this call has begun a state write: no deadline cuts the call any more,
   * its caller gets the write's outcome (docs/storage.md, "Deadlines and state writes").
   */
  writing = false;
  /** Answered with a timeout: its turn, if it still runs, may not begin a state write. */
  timedOut = false;
  private readonly onResolve: (value: unknown) => void;
  private readonly onReject: (error: unknown) => void;

  constructor(init: PendingCallInit) {
    this.target = init.target;
    this.targetKey = init.targetKey;
    this.method = init.method;
    this.args = init.args;
    this.caller = init.caller;
    this.timeoutMs = init.timeoutMs;
    this.copyResult = init.copyResult ?? false;
    this.hops = init.hops ?? 0;
    this.id = init.id;
    this.resends = init.resends ?? 0;
    this.resendable = init.resendable ?? init.id !== undefined;
    this.onResolve = init.onResolve;
    this.onReject = init.onReject;
  }

  /** Told the outcome as the call settles (an activation remembering a feature message's outcome). */
  onSettled: ((ok: boolean, valueOrError: unknown) => void) | undefined = undefined;

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled?.(true, value);
    this.onResolve(value);
  }

  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const e = toGrainError(error);
    this.onSettled?.(false, e);
    this.onReject(e);
  }

  /** Fixes the deadline if not yet fixed; returns the time left. */
  remaining(now: number): number {
    if (this.deadline === 0) this.deadline = now + this.timeoutMs;
    return this.deadline - now;
  }

  /** Rejects the call with `TimeoutError` if its deadline has passed; true if it did. */
  expire(now: number): boolean {
    if (this.settled || this.writing) return false;
    if (this.deadline === 0) {
      this.deadline = now + this.timeoutMs;
      return false;
    }
    if (now < this.deadline) return false;
    this.timedOut = true;
    this.reject(new TimeoutError(
      `call ${this.targetKey}.${this.method} got no response within its deadline; the grain may be slow or blocked (raise responseTimeoutMs, or look for a call that never settles)`,
    ));
    return true;
  }
}

/**
 * A caller's own deadline on a call (the gateway's `x-granary-timeout-ms`), kept to the same
 * rule as the runtime's: the router attaches the call, and when the deadline passes the caller
 * asks `expire()` before it answers "timeout".
 */
export class CallDeadline {
  /** The call this deadline is on, once routed. */
  call: PendingCall | undefined = undefined;

  /**
   * True: answer "timeout" now; the call counts as timed out, so its turn can no longer
   * begin a state write (nothing it did is stored). False: its turn has begun a state
   * write; wait for the outcome, which is the call's answer.
   */
  expire(): boolean {
    const call = this.call;
    if (call === undefined || call.settled) return true;
    if (call.writing) return false;
    call.timedOut = true;
    // Settled now, so a call still waiting in the mailbox never runs.
    call.reject(new TimeoutError(`call ${call.targetKey}.${call.method} ran out of its caller's deadline`));
    return true;
  }
}
