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
  Activation, ActivationStatus, GrainNotFoundError, HostCore, InvalidArgumentError, SiloUnavailableError,
  activationError, copy, handleInbound,
  type ActivationHost, type CallFilter, type DeactivationReason, type GrainClass, type PendingCall, type StorageProvider,
} from '../../runtime/index.js';
import type { WorkersRuntime } from './runtime.js';

export interface ObjectHostOptions {
  runtime: WorkersRuntime;
  /** Storage for a grain key (the object's own storage, or the shared provider). */
  storageFor(grainKey: string): StorageProvider;
  /** Names this object in replies and logs (its id). */
  objectName: string;
  /** The Worker's incoming call filters. */
  incomingFilters?: readonly CallFilter[];
}

export class ObjectHost extends HostCore implements ActivationHost {
  readonly defaultIdleTimeoutMs = 0; // unused: eviction is the platform's
  private act: Activation | undefined;
  /** `"type/key"` of the grain this object hosts, fixed by the first call. */
  private grainKey: string | undefined;
  private provider: StorageProvider | undefined;
  private sequence = 0;
  private readonly runtime: WorkersRuntime;

  constructor(private readonly options: ObjectHostOptions) {
    super({ clock: options.runtime.clock, incomingFilters: options.incomingFilters });
    this.runtime = options.runtime;
  }

  get storage(): StorageProvider {
    if (this.provider === undefined) throw new SiloUnavailableError('this Durable Object has no grain yet');
    return this.provider;
  }

  /** Handles one call message; always resolves to a reply (errors included). */
  inbound(payload: string): Promise<string> {
    return handleInbound(payload, {
      decodeOptions: this.runtime.decodeOptions,
      maxTimeoutMs: this.runtime.responseTimeoutMs * 10,
      host: this.options.objectName,
      deliver: (call) => {
        // The host a reply names is the grain's own object: its name is the grain id.
        call.host = call.targetKey;
        this.deliver(call);
      },
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
        this.provider = this.options.storageFor(call.targetKey);
      } catch (err) {
        call.reject(err);
        return;
      }
      this.grainKey = call.targetKey;
    }
    const created = new Activation({ id: call.target, key: call.targetKey, type, activationId: String(++this.sequence), host: this });
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

  protected activationOf(key: string): Activation | undefined {
    return key === this.grainKey ? this.act : undefined;
  }

  protected routeAgain(call: PendingCall): void {
    this.deliver(call);
  }

  /** A call for another grain (a feature's own message) goes to that grain's object. */
  override reroute(call: PendingCall): void {
    if (call.targetKey !== this.grainKey) this.runtime.router.route(call);
    else super.reroute(call);
  }

  scheduleIdleCheck(): void {
    // The platform evicts idle objects; there is nothing to collect.
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

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
