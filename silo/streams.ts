/**
 * A silo's streams: the service that delivers the streams this silo owns, and the backend its
 * grains publish and subscribe through, both over the stream provider.
 */
import {
  PendingCall, StreamService, attachStreamBackend, decode, implicitSubscribers, parseGrainId, providerStreamBackend,
  STREAM_DELIVER_MESSAGE,
  type Catalog, type Clock, type DecodeOptions, type GrainTypes, type Membership, type StreamItemMeta, type StreamProvider,
  type StreamServiceOptions,
} from '../runtime/index.js';

/** `Silo.start({ streamDelivery })`: how the silo delivers stream items (see docs/streams.md). */
export type SiloStreamOptions = Pick<StreamServiceOptions, 'batch' | 'retry'> & {
  /** `false`: this silo delivers no streams (its grains can still publish and subscribe). Default true. */
  deliver?: boolean;
};

export interface SiloStreamsInit {
  provider: StreamProvider;
  clock: Clock;
  siloId: string;
  membership: Membership;
  catalog: Catalog;
  types: GrainTypes;
  decodeOptions: DecodeOptions;
  route(call: PendingCall): void;
  responseTimeoutMs: number;
  options?: SiloStreamOptions;
  onError(what: string, err: unknown, grain?: string): void;
}

/** Attaches the backend to the catalog and gives the service (not started), or undefined when this silo delivers none. */
export function siloStreams(init: SiloStreamsInit): StreamService | undefined {
  const { deliver = true, ...serviceOptions } = init.options ?? {};
  const types = init.types.names().map((n) => init.types.get(n)!);
  const service = deliver
    ? new StreamService({
      ...serviceOptions,
      provider: init.provider,
      clock: init.clock,
      self: init.siloId,
      membership: init.membership,
      implicitTypes: implicitSubscribers(types),
      send: (grain, method, item, meta) => sendItem(init, grain, method, item, meta),
      decode: (payload) => decode(payload, init.decodeOptions),
      onError: init.onError,
    })
    : undefined;
  attachStreamBackend(init.catalog, providerStreamBackend(init.provider, service));
  return service;
}

/** One item, routed to the subscriber like a call (it activates the grain where placement says). */
function sendItem(init: SiloStreamsInit, grain: string, method: string, item: unknown, meta: StreamItemMeta): Promise<unknown> {
  return new Promise((resolve, reject) => {
    init.route(new PendingCall({
      target: parseGrainId(grain), targetKey: grain, method: STREAM_DELIVER_MESSAGE, args: [method, item, meta], caller: undefined,
      timeoutMs: init.responseTimeoutMs, onResolve: resolve, onReject: reject,
    }));
  });
}
