/**
 * The silo's router. A call goes to the local activation if there is one; else to the silo
 * the directory cache or the directory names; else placement picks a silo. Calls that
 * arrive from other silos come in through `inbound`.
 */
import {
  CallRouter, InvalidArgumentError, SiloUnavailableError, decode, encode, handleInbound, isPlainPrimitive, isReservedMethod,
  type CallMessage, type CallRouterOptions, type Catalog, type GrainTypes, type InboundOrigin, type PendingCall, type SiloInfo,
} from '../runtime/index.js';
import { place } from './placement.js';

export interface RouterOptions extends CallRouterOptions {
  self: () => SiloInfo;
  types: GrainTypes;
  /** Every local call goes through the codec, as if remote (TestCluster). */
  serializeLocalCalls: boolean;
}

export class Router extends CallRouter {
  catalog!: Catalog;
  private readonly self: () => SiloInfo;
  private readonly types: GrainTypes;
  private readonly serializeLocalCalls: boolean;
  private readonly decodeOptions: CallRouterOptions['decodeOptions'];

  constructor(options: RouterOptions) {
    super(options);
    this.self = options.self;
    this.types = options.types;
    this.serializeLocalCalls = options.serializeLocalCalls;
    this.decodeOptions = options.decodeOptions;
  }

  /**
   * Local calls copy non-primitive arguments through the codec, so caller and callee never
   * share a mutable object; all-primitive arguments (the common case) are passed as they are.
   */
  protected prepareArgs(args: unknown[]): unknown[] {
    if (!this.serializeLocalCalls) {
      let primitive = true;
      for (let i = 0; i < args.length; i++) if (!isPlainPrimitive(args[i])) { primitive = false; break; }
      if (primitive) return args;
    }
    // The array around the arguments is not counted against the depth limit (it is on each value).
    return decode(encode(args, 1), this.decodeOptions, 1) as unknown[];
  }

  /** Copies a value between local caller and callee (results). */
  copy(value: unknown): unknown {
    if (!this.serializeLocalCalls && (value === null || typeof value !== 'object')) return value;
    return decode(encode(value), this.decodeOptions);
  }

  route(call: PendingCall): void {
    const act = this.catalog.get(call.targetKey);
    if (act !== undefined) {
      act.receive(call);
      return;
    }
    const selfId = this.self().id;
    const cached = this.caller.cache.get(call.targetKey);
    if (cached !== undefined && cached !== selfId && this.connection.membership.isLive(cached)) {
      this.caller.send(call, cached, true);
      return;
    }
    const type = this.types.get(call.target.type);
    // A feature's own messages (`$txn.*`) must reach the existing activation: directory first.
    if (type !== undefined && (type.placement ?? 'preferLocal') === 'preferLocal' && this.catalog.accepting && !isReservedMethod(call.method)) {
      // Placement would pick this silo; registering in the directory settles any race.
      this.catalog.deliver(call);
      return;
    }
    this.lookupAndPlace(call);
  }

  private lookupAndPlace(call: PendingCall): void {
    this.connection.directory.lookup(call.target).then(
      (entry) => {
        const selfId = this.self().id;
        if (entry !== undefined && this.connection.membership.isLive(entry.silo)) {
          if (entry.silo === selfId) this.catalog.deliver(call);
          else {
            this.caller.cache.set(call.targetKey, entry.silo);
            this.caller.send(call, entry.silo, true);
          }
          return;
        }
        this.placeNew(call, false);
      },
      (err) => this.caller.unavailable(call, new SiloUnavailableError(`directory lookup for ${call.targetKey} failed: ${(err as Error).message}`, { cause: err })),
    );
  }

  /** Picks a silo for a grain with no activation; `excludeSelf` while this silo is stopping. */
  private placeNew(call: PendingCall, excludeSelf: boolean): void {
    const self = this.self();
    const type = this.types.get(call.target.type);
    const live = this.connection.membership.live().filter((s) => !(excludeSelf && s.id === self.id));
    if (type === undefined) {
      // Not hosted here: let a silo that hosts the type apply its placement.
      try {
        this.caller.send(call, this.caller.anySiloFor(call.target.type, self.id).id, false);
      } catch (err) {
        call.reject(err);
      }
      return;
    }
    const target = place({
      strategy: type.placement ?? 'preferLocal', type: type.name, grainKey: call.targetKey, self: excludeSelf ? undefined : self, live,
      random: this.clock.random?.bind(this.clock),
    });
    if (target === undefined) {
      call.reject(new SiloUnavailableError(`no live silo can host ${call.targetKey} right now (this silo is ${excludeSelf ? 'stopping' : 'not in the membership'}); retry shortly`));
    } else if (target.id === self.id) {
      this.catalog.deliver(call);
    } else {
      this.caller.send(call, target.id, true);
    }
  }

  /** For the catalog: new activations go elsewhere while this silo stops. */
  placeElsewhere(call: PendingCall): void {
    this.placeNew(call, true);
  }

  forward(call: PendingCall, siloId: string): void {
    this.caller.cache.set(call.targetKey, siloId);
    this.caller.send(call, siloId, true);
  }

  /** Handles a request from another silo or a client. */
  readonly inbound = (payload: string, origin?: InboundOrigin): Promise<string> =>
    handleInbound(payload, {
      decodeOptions: this.decodeOptions,
      maxTimeoutMs: this.responseTimeoutMs * 10,
      host: this.self().id,
      deliver: (call, msg) => {
        // The runtime's own messages, the features' call extensions (a transaction) and a call
        // chain (which grants reentrancy into the grains on it) come from silos and trusted
        // clients only (the transport says who sent it); a client is on no call chain.
        if (origin?.trusted === false) {
          const refused = untrustedRefusal(msg);
          if (refused !== undefined) {
            call.reject(new InvalidArgumentError(refused, { code: 'forbidden' }));
            return;
          }
        }
        if (!msg.placed) {
          this.route(call);
          return;
        }
        const act = this.catalog.get(msg.target);
        if (act !== undefined) act.receive(call);
        else if (this.types.get(call.target.type) !== undefined) this.catalog.deliver(call);
        else this.route(call);
      },
    });
}

/** Why a call from an untrusted client is refused, or undefined when it is an ordinary call. */
function untrustedRefusal(msg: CallMessage): string | undefined {
  if (isReservedMethod(msg.method)) {
    return `${msg.method} is a runtime message, accepted only from silos and from clients holding the cluster key; this client may call grain methods`;
  }
  if (msg.ext !== undefined) {
    return 'a call inside a transaction is accepted only from silos and from clients holding the cluster key (clusterKey, GRANARY_CLUSTER_KEY); run the transaction in a grain, or give this client the key';
  }
  if (msg.chain !== undefined && msg.chain.length > 0) {
    return 'a call chain (reentrancy into the grains on it) is accepted only from silos and from clients holding the cluster key; a client calls from outside any grain';
  }
  return undefined;
}
