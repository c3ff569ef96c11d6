/**
 * Sends calls to other silos: the envelope, the transport request, the reply, and what to do
 * when a silo is gone. Shared by the silo's router and by clients that host no grains.
 */
import { chainOf, childScope, currentScope, scopeStorage, type CallScope } from './context.js';
import { randomOf, waitTimer, type Clock } from './clock.js';
import type { ClusterConnection, SiloInfo } from './cluster.js';
import { decode, encode, type DecodeOptions } from './codec.js';
import { errorFromWire, GrainNotFoundError, SiloUnavailableError, TimeoutError } from './errors.js';
import type { CallMessage, Reply } from './messages.js';
import { resendAllowed, mergeReplyExtensions, trackCall } from './features.js';
import { isReservedMethod } from './protocol.js';
import { anyFilterActive, runFilters, type CallFilter } from './filters.js';
import { PendingCall, type CallDeadline } from './pending-call.js';
import { CALL_ENVELOPE, REPLY_ENVELOPE } from './messages.js';
import type { GrainId } from './identity.js';
import type { Invoker } from './ref.js';
import { childCallId, freshCallId } from './call-log.js';

/** How many times a call that nobody received is re-sent (its silo turned out to be gone). */
const MAX_RESENDS = 4;
/** Backoff between re-sends (real time: membership changes happen in real time). */
const RESEND_DELAYS_MS = [0, 20, 80, 250];
/**
 * A call with an id that its silo may have received is re-sent until its deadline, this often
 * at most: the silo that takes it over needs the failover time (membership, directory).
 */
const MAX_RESENDS_WITH_ID = 40;
const RESEND_WITH_ID_DELAY_MS = 250;

/** Grain id → silo, learnt from the directory and from replies. Bounded. */
export class DirectoryCache {
  private readonly entries = new Map<string, string>();
  constructor(private readonly max = 200_000) {}

  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  set(key: string, silo: string): void {
    if (this.entries.size >= this.max && !this.entries.has(key)) {
      // Drop the oldest tenth: a Map iterates in insertion order.
      let n = Math.ceil(this.max / 10);
      for (const k of this.entries.keys()) { this.entries.delete(k); if (--n === 0) break; }
    }
    this.entries.set(key, silo);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every entry that points at a silo no longer live. */
  retainLive(isLive: (silo: string) => boolean): void {
    for (const [k, s] of this.entries) if (!isLive(s)) this.entries.delete(k);
  }
}

export class ClusterCaller {
  readonly cache = new DirectoryCache();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly connection: ClusterConnection,
    private readonly clock: Clock,
    private readonly decodeOptions: DecodeOptions,
    /** Routes a call again from scratch, after its silo was found gone. */
    private readonly reroute: (call: PendingCall) => void,
  ) {
    this.unsubscribe = connection.membership.onChange(() => this.cache.retainLive((s) => connection.membership.isLive(s)));
  }

  /** Sends `call` to `silo`; `placed` tells the silo to activate the grain there. */
  send(call: PendingCall, silo: string, placed: boolean): void {
    const timeout = call.remaining(this.clock.now());
    if (timeout <= 0) {
      call.reject(new TimeoutError(`call ${call.targetKey}.${call.method} ran out of time before it could be sent`));
      return;
    }
    let payload: string;
    try {
      payload = encode(this.message(call, timeout, placed), CALL_ENVELOPE);
    } catch (err) {
      call.reject(err);
      return;
    }
    // A call that may be re-sent does not wait its whole deadline for a request the transport
    // may have lost: it is sent again (the callee answers a second send of an id once).
    const attempt = this.connection.transport.attemptTimeoutMs;
    const wait = attempt !== undefined && call.resendable && timeout > attempt ? attempt : timeout;
    this.connection.transport.request(silo, payload, wait).then(
      (replyText) => this.settle(call, replyText),
      (err) => {
        if (wait < timeout && err instanceof TimeoutError) this.lost(call);
        else this.failed(call, silo, err);
      },
    );
  }

  /** No reply within an attempt's wait: sent again, to where the grain is now (not a dead silo: a slow one). */
  private lost(call: PendingCall): void {
    if (call.settled) return;
    call.resends++;
    this.cache.delete(call.targetKey);
    this.reroute(call);
  }

  /**
   * A step before sending failed (the directory did not answer): a call that may be re-sent
   * waits and is routed again, up to its deadline; any other fails with `err`.
   */
  unavailable(call: PendingCall, err: unknown): void {
    const delay = RESEND_DELAYS_MS[call.resends] ?? RESEND_WITH_ID_DELAY_MS;
    if (!(err instanceof SiloUnavailableError) || !call.resendable || call.resends >= MAX_RESENDS_WITH_ID || call.remaining(this.clock.now()) <= delay) {
      call.reject(err);
      return;
    }
    call.resends++;
    waitTimer(this.clock, () => this.reroute(call), Math.max(1, delay));
  }

  private message(call: PendingCall, timeout: number, placed: boolean): CallMessage {
    const caller = call.caller;
    const msg: { -readonly [K in keyof CallMessage]: CallMessage[K] } = {
      k: 'call',
      target: call.targetKey,
      method: call.method,
      args: call.args,
      timeout,
      hops: call.hops,
      placed,
    };
    if (caller?.ctx !== undefined) msg.ctx = caller.ctx;
    const chain = chainOf(caller);
    if (chain !== undefined) msg.chain = chain;
    if (caller?.ext !== undefined) msg.ext = caller.ext;
    if (call.id !== undefined) msg.id = call.id;
    if (call.resends > 0) msg.resent = true;
    return msg;
  }

  private settle(call: PendingCall, replyText: string): void {
    let reply: Reply;
    try {
      reply = decode(replyText, this.decodeOptions, REPLY_ENVELOPE) as Reply;
    } catch (err) {
      call.reject(err);
      return;
    }
    if (reply.host !== undefined) {
      this.cache.set(call.targetKey, reply.host);
      call.host = reply.host;
    }
    if (reply.ext !== undefined) mergeReplyExtensions(call.caller?.ext, reply.ext);
    if (reply.k === 'ok') call.resolve(reply.value);
    else call.reject(errorFromWire(reply.error));
  }

  private failed(call: PendingCall, silo: string, err: unknown): void {
    this.cache.delete(call.targetKey);
    if (!(err instanceof SiloUnavailableError)) {
      call.reject(err);
      return;
    }
    const data = err.data as { retryable?: boolean; closed?: boolean } | undefined;
    // Nobody received it (retryable), or the silo may have run it and the call has an id: the
    // silo that runs it next answers from its record if the first run's write committed
    // (runtime/call-log.ts). Without an id a re-send could apply the call twice.
    const notReceived = data?.retryable === true;
    if (data?.closed === true || (!notReceived && !call.resendable)) {
      call.reject(err);
      return;
    }
    this.connection.membership.suspect(silo);
    const attempt = call.resends;
    const limit = call.id === undefined ? MAX_RESENDS : MAX_RESENDS_WITH_ID;
    if (attempt >= limit) {
      call.reject(new SiloUnavailableError(`call ${call.targetKey}.${call.method} found no live silo after ${attempt + 1} attempts (last: ${silo}: ${err.message}); is the cluster up?`, { cause: err }));
      return;
    }
    call.resends++;
    call.hops++;
    const delay = RESEND_DELAYS_MS[attempt] ?? RESEND_WITH_ID_DELAY_MS;
    if (delay === 0) queueMicrotask(() => this.reroute(call));
    else waitTimer(this.clock, () => this.reroute(call), delay);
  }

  /** A live silo that hosts `type`, chosen at random (optionally excluding one). */
  anySiloFor(type: string, exclude?: string): SiloInfo {
    const live = this.connection.membership.live();
    const candidates = live.filter((s) => s.id !== exclude && s.status === 'active' && s.types.includes(type));
    if (candidates.length === 0) {
      const draining = live.filter((s) => s.id !== exclude && s.types.includes(type));
      if (draining.length > 0) return draining[Math.floor(randomOf(this.clock) * draining.length)]!;
      // `exclude` is the asking silo, which does not host the type either.
      if (live.length > 0) {
        throw new GrainNotFoundError(`no live silo hosts grain type "${type}" (check the type name, and that a silo with that class is running)`);
      }
      throw new SiloUnavailableError(`no live silo in the cluster to take a call for ${type}; start a silo or check the cluster connection`);
    }
    return candidates[Math.floor(randomOf(this.clock) * candidates.length)]!;
  }

  close(): void {
    this.unsubscribe();
  }
}

export interface CallRouterOptions {
  connection: ClusterConnection;
  clock: Clock;
  /** Default time a caller waits for a response. */
  responseTimeoutMs: number;
  decodeOptions: DecodeOptions;
  /** Outgoing call filters (`CallFilters.outgoing`). */
  outgoingFilters?: readonly CallFilter[];
  /** Run them only for calls made from inside grains (a silo), not for every call (a client). */
  outgoingFromGrainsOnly?: boolean;
}

const EMPTY_CONTEXT: Readonly<Record<string, unknown>> = Object.freeze({});

/** A call as a reference makes it. */
interface OutgoingCall {
  target: GrainId;
  targetKey: string;
  method: string;
  args: unknown[];
  deadline?: CallDeadline | undefined;
  id?: string | null | undefined;
}

/** What a caller outside any grain may fix about a call (the gateway). */
export interface InvokeOptions {
  /** The caller's own deadline on the call (the gateway's), kept to the runtime's rule. */
  deadline?: CallDeadline;
  /**
   * The call's id (an HTTP `Idempotency-Key`); omitted: a fresh one, or one derived from the
   * calling turn's; `null`: none, so the call is not re-sent after its silo may have received
   * it (a caller that settles that itself, and the benchmark of what ids cost).
   */
  id?: string | null;
}

/**
 * Turns reference calls into routed `PendingCall`s with a deadline. Subclasses decide
 * where a call goes (`route`): the silo router knows local activations and placement,
 * a client only the directory and the membership.
 */
export abstract class CallRouter implements Invoker {
  readonly caller: ClusterCaller;
  protected readonly clock: Clock;
  protected readonly connection: ClusterConnection;
  responseTimeoutMs: number;
  private readonly outgoing: readonly CallFilter[];
  private readonly outgoingFromGrainsOnly: boolean;

  constructor(options: CallRouterOptions) {
    this.outgoing = options.outgoingFilters ?? [];
    this.outgoingFromGrainsOnly = options.outgoingFromGrainsOnly ?? false;
    this.clock = options.clock;
    this.connection = options.connection;
    this.responseTimeoutMs = options.responseTimeoutMs;
    this.caller = new ClusterCaller(options.connection, options.clock, options.decodeOptions, (c) => this.route(c));
  }

  /** Where a call goes next. */
  abstract route(call: PendingCall): void;

  /** Arguments as the callee will see them; throws `InvalidArgumentError` for what cannot travel. */
  protected abstract prepareArgs(args: unknown[]): unknown[];

  invoke(target: GrainId, targetKey: string, method: string, args: unknown[], options?: InvokeOptions): Promise<unknown> {
    const caller = currentScope();
    const out: OutgoingCall = { target, targetKey, method, args, deadline: options?.deadline, id: options?.id };
    if (this.outgoing.length > 0 && (!this.outgoingFromGrainsOnly || caller?.grain !== undefined) && anyFilterActive(this.outgoing)) {
      return this.invokeFiltered(out, caller);
    }
    return this.dispatch(out, caller);
  }

  /**
   * Runs the outgoing filters in a scope of the call's own, so the context values a filter
   * sets travel with this call and not with the caller's next ones.
   */
  private invokeFiltered(out: OutgoingCall, caller: CallScope | undefined): Promise<unknown> {
    const scope = childScope(caller);
    return scopeStorage.run(scope, () => runFilters(
      this.outgoing,
      { grain: out.target, method: out.method, args: out.args, get context() { return scope.ctx ?? EMPTY_CONTEXT; } },
      (call) => this.dispatch({ ...out, args: call.args }, scope),
    ));
  }

  private dispatch(out: OutgoingCall, caller: CallScope | undefined): Promise<unknown> {
    let args: unknown[];
    try {
      args = this.prepareArgs(out.args);
    } catch (err) {
      return Promise.reject(err);
    }
    const result = new Promise((onResolve, onReject) => {
      // A call made inside a call's turn derives its id from the turn's: a re-run sends the same ids.
      const id = out.id === null ? undefined : out.id ?? callIdFor(caller, this.clock);
      const call = new PendingCall({
        target: out.target, targetKey: out.targetKey, method: out.method, args, caller,
        timeoutMs: this.responseTimeoutMs, copyResult: true, onResolve, onReject, id,
        // A call a feature settles itself (a transaction's) keeps its id, for the callee to
        // see duplicates, but is not re-sent once its silo may have received it.
        // A feature's own message is its feature's to settle too.
        resendable: id !== undefined && !isReservedMethod(out.method) && (caller?.ext === undefined || resendAllowed(caller.ext)),
      });
      if (out.deadline !== undefined) out.deadline.call = call;
      this.route(call);
    });
    // Features follow the calls made in their scope (a transaction counts its open calls).
    return caller?.ext === undefined ? result : trackCall(caller.ext, result);
  }

  close(): void {
    this.caller.close();
  }
}

/**
 * The id of a call made from `caller`'s scope: derived from the calling turn's, else fresh.
 */
function callIdFor(caller: CallScope | undefined, clock: Clock): string {
  return caller?.turn !== undefined ? childCallId(caller.turn) : freshCallId(clock);
}
