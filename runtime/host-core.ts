/**
 * What every host of activations shares — the silo's Catalog and the Durable Object of a
 * Workers grain alike: the deadline watchdog, bounded re-routing of calls whose activation
 * went away, taking a call message off the wire, and encoding the reply.
 */
import type { Activation } from './activation.js';
import { Status } from './activation.js';
import type { Clock, TimerHandle } from './clock.js';
import { decode, encode, type DecodeOptions } from './codec.js';
import { newScope } from './context.js';
import { GrainError, InvalidArgumentError, SiloUnavailableError, toGrainError } from './errors.js';
import { replyExtensions } from './features.js';
import type { CallFilter } from './filters.js';
import { parseGrainId, type GrainId } from './identity.js';
import { CALL_ENVELOPE, REPLY_ENVELOPE, type CallMessage, type Reply } from './messages.js';
import { PendingCall } from './pending-call.js';

/** How often calls in progress are checked against their deadlines. */
const WATCHDOG_INTERVAL_MS = 250;

/** A call hops at most this often between silos (or activations) before it is refused as a routing loop. */
export const MAX_HOPS = 6;

export interface HostCoreOptions {
  clock: Clock;
  /** Silo-wide incoming call filters. */
  incomingFilters?: readonly CallFilter[];
}

export abstract class HostCore {
  readonly clock: Clock;
  readonly incomingFilters: readonly CallFilter[];
  /** Activations with calls in progress: the deadline watchdog's beat. */
  private readonly watched = new Set<Activation>();
  private watchdog: TimerHandle | undefined;

  constructor(options: HostCoreOptions) {
    this.clock = options.clock;
    this.incomingFilters = options.incomingFilters ?? [];
  }

  /** This host's activation of `key`, if any. */
  protected abstract activationOf(key: string): Activation | undefined;

  /** Routes a call again once its activation is out of the way. */
  protected abstract routeAgain(call: PendingCall): void;

  /**
   * Routes a call again (its activation went away or lives elsewhere), at most `MAX_HOPS`
   * times; a call for an activation that is ending waits for its end, then meets the next.
   */
  reroute(call: PendingCall): void {
    if (++call.hops > MAX_HOPS) {
      call.reject(new SiloUnavailableError(`call ${call.targetKey}.${call.method} was re-routed ${MAX_HOPS} times without reaching an activation; the cluster may be changing membership, retry shortly`));
      return;
    }
    const act = this.activationOf(call.targetKey);
    if (act !== undefined && act.status !== Status.Valid && act.status !== Status.Activating) {
      act.ended().then(() => this.routeAgain(call));
    } else {
      this.routeAgain(call);
    }
  }

  /** Puts the activation under the deadline watchdog while it has calls in progress. */
  watch(act: Activation): void {
    act.watched = true;
    this.watched.add(act);
    this.watchdog ??= this.clock.setTimer(() => this.checkDeadlines(), WATCHDOG_INTERVAL_MS);
  }

  /**
   * Times out calls past their deadline. Only activations with work in progress are
   * looked at, and one that went idle leaves the watch: a call costs a flag check.
   */
  private checkDeadlines(): void {
    this.watchdog = undefined;
    const now = this.clock.now();
    for (const act of this.watched) {
      if (!act.expireCalls(now) || act.status === Status.Dead) {
        act.watched = false;
        this.watched.delete(act);
      }
    }
    if (this.watched.size > 0) this.watchdog = this.clock.setTimer(() => this.checkDeadlines(), WATCHDOG_INTERVAL_MS);
  }

  protected stopWatchdog(): void {
    this.watchdog?.cancel();
    this.watchdog = undefined;
    this.watched.clear();
  }
}

/** The longest call id a message may carry (derived ids are hashed past 96 characters; an Idempotency-Key adds its own). */
const MAX_CALL_ID = 512;

export interface InboundOptions {
  decodeOptions: DecodeOptions;
  /** The longest a message may ask the call to wait. */
  maxTimeoutMs: number;
  /** Names this host in replies (a call that went further names the host that answered). */
  host: string;
  /** Hands the call on. */
  deliver(call: PendingCall, msg: CallMessage): void;
}

/** Handles a call message from another host or a client; always resolves to a reply (errors included). */
export function handleInbound(payload: string, options: InboundOptions): Promise<string> {
  return new Promise<string>((resolve) => {
    let msg: CallMessage;
    let target: GrainId;
    try {
      msg = decode(payload, options.decodeOptions, CALL_ENVELOPE) as CallMessage;
      if (msg === null || typeof msg !== 'object' || msg.k !== 'call' || typeof msg.target !== 'string' || typeof msg.method !== 'string' ||
        !Array.isArray(msg.args) || (msg.ext !== undefined && (msg.ext === null || typeof msg.ext !== 'object'))) {
        throw new InvalidArgumentError('malformed request: expected a call message');
      }
      target = parseGrainId(msg.target);
    } catch (err) {
      resolve(replyText({ k: 'err', error: toGrainError(err).toWire(), host: options.host }));
      return;
    }
    const caller = newScope({ ctx: msg.ctx, remoteChain: msg.chain, ext: msg.ext });
    const call: PendingCall = new PendingCall({
      target,
      targetKey: msg.target,
      method: msg.method,
      args: msg.args,
      caller,
      timeoutMs: Math.max(1, Math.min(Number(msg.timeout) || 0, options.maxTimeoutMs)),
      hops: Number(msg.hops) || 0,
      resends: msg.resent === true ? 1 : 0,
      id: typeof msg.id === 'string' && msg.id.length > 0 && msg.id.length <= MAX_CALL_ID ? msg.id : undefined,
      // Features on this side may send something back (the participants a transaction enlisted).
      onResolve: (value) => resolve(replyText(withExtensions({ k: 'ok', value, host: call.host ?? options.host }, caller.ext))),
      onReject: (err) => resolve(replyText(withExtensions({ k: 'err', error: toGrainError(err).toWire(), host: call.host ?? options.host }, caller.ext))),
    });
    options.deliver(call, msg);
  });
}

function withExtensions(reply: Reply, ext: Record<string, unknown> | undefined): Reply {
  const info = replyExtensions(ext);
  return info === undefined ? reply : { ...reply, ext: info };
}

/** Encodes a reply; a result that cannot travel becomes an error reply instead of no reply. */
export function replyText(reply: Reply): string {
  try {
    return encode(reply, REPLY_ENVELOPE);
  } catch (err) {
    return encode({ k: 'err', error: toGrainError(err).toWire(), host: reply.host } satisfies Reply);
  }
}

/** What callers see when an activation could not start. */
export function activationError(key: string, err: unknown): GrainError {
  if (err instanceof GrainError) return err;
  const e = err as Error;
  return new GrainError('grain_error', `activation of ${key} failed: ${e?.message ?? String(err)}`, { name: e?.name ?? 'Error', cause: err });
}
