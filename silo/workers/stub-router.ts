/**
 * Calls between grains on Workers: every grain is its own host, a Durable Object named by
 * its grain id, so routing is the name itself — `idFromName("type/key")` — and the platform
 * guarantees one live object per name (single activation, no directory).
 *
 * The router is the runtime's `CallRouter` (the envelope with request context, call chain
 * and deadline; the wire codec; typed errors from the reply), over a cluster connection
 * whose "silo" address is the grain id and whose transport is the object's RPC method.
 */
import {
  CallRouter, SiloUnavailableError,
  type CallFilter, type Clock, type ClusterConnection, type DecodeOptions, type PendingCall, type Transport,
} from '../../runtime/index.js';
import type { DurableObjectNamespaceLike, GrainObjectStub } from './cloudflare.js';

/** Time on Workers: plain `Date.now()` and `setTimeout` (no background ticker in an isolate). */
export const workersClock: Clock = {
  now: () => Date.now(),
  coarseNow: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * Sends a wire-codec payload to the object named `grainKey` and resolves to its reply.
 *
 * No timer per call: the deadline travels in the message, and the callee object times the
 * call out at it (its deadline watchdog answers `TimeoutError`, even for a call still queued
 * behind a turn that never ends). An object that cannot answer at all (reset, overloaded,
 * over its CPU limit) fails the RPC, which rejects here. A per-call timer cost ~12 µs of
 * the Worker's CPU per call (profiled in workerd) and covered no case those do not.
 */
export function stubTransport(namespace: DurableObjectNamespaceLike<GrainObjectStub>): Transport {
  return {
    request(grainKey, payload) {
      let reply: Promise<string>;
      try {
        reply = namespace.get(namespace.idFromName(grainKey)).call(payload);
      } catch (err) {
        return Promise.reject(stubError(grainKey, err));
      }
      return reply.catch((err: unknown) => { throw stubError(grainKey, err); });
    },
  };
}

/**
 * An error of the platform, not of the grain (the object was reset, overloaded, or its
 * code failed to load). Not retried: the call may have run.
 */
export function stubError(grainKey: string, err: unknown): SiloUnavailableError {
  const e = err as { message?: string } | null;
  return new SiloUnavailableError(`the Durable Object of ${grainKey} failed to answer: ${e?.message ?? String(err)}`, { cause: err });
}

/** The cluster port as Workers see it: no membership, no directory, one transport. */
function objectConnection(transport: Transport): ClusterConnection {
  return {
    siloId: undefined,
    transport,
    membership: {
      live: () => [],
      isLive: () => true,
      onChange: () => () => undefined,
      suspect: () => undefined,
    },
    directory: {
      // Never asked: a grain's address is its name.
      lookup: async () => undefined,
      register: async (_id, entry) => entry,
      unregister: async () => undefined,
    },
    join: async () => undefined,
    setStatus: async () => undefined,
    leave: async () => undefined,
    close: async () => undefined,
  };
}

export interface StubRouterOptions {
  namespace: DurableObjectNamespaceLike<GrainObjectStub>;
  responseTimeoutMs: number;
  decodeOptions: DecodeOptions;
  /** Run for calls made from inside grains. */
  outgoingFilters?: readonly CallFilter[];
}

export class StubRouter extends CallRouter {
  constructor(options: StubRouterOptions) {
    super({
      connection: objectConnection(stubTransport(options.namespace)),
      clock: workersClock,
      responseTimeoutMs: options.responseTimeoutMs,
      decodeOptions: options.decodeOptions,
      outgoingFilters: options.outgoingFilters,
      outgoingFromGrainsOnly: true,
    });
  }

  /** Arguments always travel through the codec, so there is nothing to copy here. */
  protected prepareArgs(args: unknown[]): unknown[] {
    return args;
  }

  route(call: PendingCall): void {
    this.caller.send(call, call.targetKey, true);
  }
}
