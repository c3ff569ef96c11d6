/**
 * What one grain-hosting Durable Object runs: the grain's single activation (the runtime's
 * `Activation`: mailbox, turns, interleaving, call-chain reentrancy), and the host it needs.
 *
 * A call arrives as a wire-codec `CallMessage` and runs through the activation's mailbox as
 * on a silo. The object's input gate does not get in the way of reentrancy: it is open while
 * the object awaits an outgoing call, so A → B → A reaches A, and the activation sees A on
 * the call chain and runs it at once.
 *
 * There is no idle collector: the platform evicts idle objects (without `onDeactivate`, as a
 * crash would). `deactivateOnIdle()` still runs `onDeactivate`; the next call activates anew.
 */
import {
  Activation, ActivationStatus, GrainError, GrainNotFoundError, InvalidArgumentError, MAX_HOPS, PendingCall,
  SiloUnavailableError, copy, decode, encode, newScope, parseGrainId, toGrainError, withTransactionReply,
  type ActivationHost, type CallMessage, type Clock, type DeactivationReason, type GrainClass, type GrainId, type Reply,
  type StorageProvider,
} from '../../runtime/index.js';
import type { WorkersRuntime } from './runtime.js';

/** How often calls in progress are checked against their deadlines. */
const WATCHDOG_INTERVAL_MS = 250;

export class ObjectHost implements ActivationHost {
  readonly clock: Clock;
  readonly defaultIdleTimeoutMs = 0; // unused: eviction is the platform's
  private act: Activation | undefined;
  /** `"type/key"` of the grain this object hosts, fixed by the first call. */
  private grainKey: string | undefined;
  private provider: StorageProvider | undefined;
  private sequence = 0;
  private readonly watched = new Set<Activation>();
  private watchdog: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly runtime: WorkersRuntime,
    /** Storage for `grainKey` (the object's own storage, or the shared provider). */
    private readonly storageFor: (grainKey: string) => StorageProvider,
    /** Names this object in replies and logs (its id). */
    private readonly objectName: string,
  ) {
    this.clock = runtime.clock;
  }

  get storage(): StorageProvider {
    if (this.provider === undefined) throw new SiloUnavailableError('this Durable Object has no grain yet');
    return this.provider;
  }

  /** Handles one call message; always resolves to a reply (errors included). */
  inbound(payload: string): Promise<string> {
    return new Promise<string>((resolve) => {
      let msg: CallMessage;
      try {
        msg = decode(payload, this.runtime.decodeOptions) as CallMessage;
        if (msg === null || typeof msg !== 'object' || msg.k !== 'call' || typeof msg.target !== 'string' || typeof msg.method !== 'string' || !Array.isArray(msg.args)) {
          throw new InvalidArgumentError('malformed request: expected a call message');
        }
      } catch (err) {
        resolve(replyText({ k: 'err', error: toGrainError(err).toWire(), host: this.objectName }));
        return;
      }
      const caller = newScope(msg.ctx, false, undefined, undefined, msg.chain, msg.txn);
      const timeout = Math.max(1, Math.min(Number(msg.timeout) || 0, this.runtime.responseTimeoutMs * 10));
      let target: GrainId;
      try {
        target = parseGrainId(msg.target);
      } catch (err) {
        resolve(replyText({ k: 'err', error: new InvalidArgumentError((err as Error).message).toWire(), host: this.objectName }));
        return;
      }
      const call = new PendingCall(
        target, msg.target, msg.method, msg.args, caller, timeout, false, Number(msg.hops) || 0,
        // withTransactionReply: the participants this call enlisted go back to the caller's transaction.
        // The host a reply names is the grain's own object: its name is the grain id.
        (value) => resolve(replyText(withTransactionReply({ k: 'ok', value, host: msg.target }, caller))),
        (err) => resolve(replyText(withTransactionReply({ k: 'err', error: toGrainError(err).toWire(), host: msg.target }, caller))),
      );
      this.deliver(call);
    });
  }

  /** Hands the call to the activation, creating it on the first call (or after a deactivation). */
  private deliver(call: PendingCall): void {
    if (this.grainKey !== undefined && call.targetKey !== this.grainKey) {
      call.reject(new InvalidArgumentError(`this Durable Object hosts ${this.grainKey}, not ${call.targetKey}; address grains by idFromName("type/key")`));
      return;
    }
    const act = this.act;
    if (act !== undefined && act.status !== ActivationStatus.Dead) {
      act.receive(call);
      return;
    }
    const type = this.runtime.types.get(call.target.type);
    if (type === undefined) {
      call.reject(new GrainNotFoundError(`grain type "${call.target.type}" is not hosted by this Worker (hosted: ${this.runtime.types.names().join(', ')})`));
      return;
    }
    if (this.provider === undefined) {
      try {
        this.provider = this.storageFor(call.targetKey);
      } catch (err) {
        call.reject(err);
        return;
      }
      this.grainKey = call.targetKey;
    }
    const created = new Activation(call.target, call.targetKey, type, String(++this.sequence), this);
    this.act = created;
    created.receive(call);
    created.activate().catch((err: unknown) => {
      if (this.act === created) this.act = undefined;
      this.reportError(created, 'activation', err);
      created.fail(activationError(created.key, err));
    });
  }

  // ---- ActivationHost ------------------------------------------------------------

  ref(type: string | GrainClass, key: string): unknown {
    return this.runtime.ref(type, key);
  }

  copy(value: unknown): unknown {
    return copy(value, this.runtime.decodeOptions);
  }

  /**
   * A call for another grain (a transaction's protocol message) goes to that grain's object;
   * a call for this activation while it goes away waits for it to end, then meets the next.
   */
  reroute(call: PendingCall): void {
    if (call.targetKey !== this.grainKey) {
      this.runtime.router.route(call);
      return;
    }
    if (++call.hops > MAX_HOPS) {
      call.reject(new SiloUnavailableError(`call ${call.targetKey}.${call.method} found its grain deactivating ${MAX_HOPS} times in a row; retry shortly`));
      return;
    }
    const act = this.act;
    if (act !== undefined && act.status !== ActivationStatus.Valid && act.status !== ActivationStatus.Activating) {
      act.ended().then(() => this.deliver(call));
    } else {
      this.deliver(call);
    }
  }

  scheduleIdleCheck(): void {
    // The platform evicts idle objects; there is nothing to collect.
  }

  watch(act: Activation): void {
    act.watched = true;
    this.watched.add(act);
    this.watchdog ??= setTimeout(() => this.checkDeadlines(), WATCHDOG_INTERVAL_MS);
  }

  private checkDeadlines(): void {
    this.watchdog = undefined;
    const now = this.clock.now();
    for (const act of this.watched) {
      if (!act.expireCalls(now) || act.status === ActivationStatus.Dead) {
        act.watched = false;
        this.watched.delete(act);
      }
    }
    if (this.watched.size > 0) this.watchdog = setTimeout(() => this.checkDeadlines(), WATCHDOG_INTERVAL_MS);
  }

  requestDeactivation(act: Activation, reason: DeactivationReason): void {
    void this.deactivate(act, reason);
  }

  private async deactivate(act: Activation, reason: DeactivationReason): Promise<void> {
    if (act.status !== ActivationStatus.Valid) return;
    const queued = await act.deactivate(reason);
    if (this.act === act) this.act = undefined;
    act.markEnded();
    for (const c of queued) this.reroute(c);
  }

  reportError(act: Activation, what: string, err: unknown): void {
    console.error(JSON.stringify({ level: 'warn', msg: `${what} failed`, grain: act.key, err: describe(err) }));
  }
}

function replyText(reply: Reply): string {
  try {
    return encode(reply);
  } catch (err) {
    // The result itself cannot travel: say so instead of dropping the reply.
    return encode({ k: 'err', error: toGrainError(err).toWire(), host: reply.host } satisfies Reply);
  }
}

/** What callers see when an activation could not start. */
function activationError(key: string, err: unknown): GrainError {
  if (err instanceof GrainError) return err;
  const e = err as Error;
  return new GrainError('grain_error', `activation of ${key} failed: ${e?.message ?? String(err)}`, { name: e?.name ?? 'Error', cause: err });
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
