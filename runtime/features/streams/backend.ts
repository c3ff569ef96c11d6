/**
 * Where a grain's `getStream(...)` goes: each host of activations (a silo's catalog, a
 * Durable Object's host) attaches a backend; the grain members find it through the
 * activation's host, so the core names no stream code.
 */
import { GrainError, SiloUnavailableError } from '../../errors.js';
import { hostValues } from '../../features.js';
import type { StreamProvider, StreamSubscriptionRecord } from '../../stream-storage.js';
import { encodeStreamItem, streamLabel } from './model.js';

export interface StreamBackend {
  /** Encodes, checks and appends `item`; resolves with its seq once durable. */
  publish(namespace: string, key: string, item: unknown): Promise<number>;
  /** Creates (or keeps) the durable subscription; `from` undefined: from the next item published. */
  subscribe(record: StreamSubscriptionRecord, from: number | undefined): Promise<void>;
  unsubscribe(namespace: string, key: string, id: string): Promise<boolean>;
  /** The subscriptions `grain` (`"type/key"`) holds. */
  list(grain: string): Promise<StreamSubscriptionRecord[]>;
}

/** Told when a subscription is made here, so delivery (a replay with `from`) starts at once. */
export interface StreamSubscriptionListener {
  subscribed(namespace: string, key: string): void;
}

const backends = hostValues<StreamBackend>((grain) => new SiloUnavailableError(
  `${grain} cannot use streams: its host has no stream provider (memoryStorage() keeps streams; on NATS pass Silo.start({ streams: natsStreams(…) }))`,
));

/** Makes `backend` serve the grains `host` runs. */
export const attachStreamBackend: (host: object, backend: StreamBackend) => void = backends.attach;

/** The backend of the host running a grain (a `GrainRuntime` with a `host`). */
export const streamBackendOf: (runtime: unknown, grain: string) => StreamBackend = backends.of;

/** The backend of a grain's host, or undefined when it keeps no streams (no error). */
export const findStreamBackend: (runtime: unknown) => StreamBackend | undefined = backends.find;

/** A provider's failure as callers see it: typed errors pass, anything else means "unavailable". */
export function providerError(err: unknown, what: string): GrainError {
  if (err instanceof GrainError) return err;
  return new SiloUnavailableError(`${what} failed: ${(err as Error)?.message ?? String(err)}; retry when the stream provider is back`, { cause: err });
}

/** Publishes `item` to a provider: the checks every publisher runs, then the append. */
export async function publishTo(provider: StreamProvider, namespace: string, key: string, item: unknown): Promise<number> {
  const payload = encodeStreamItem(item, provider.maxItemBytes, streamLabel(namespace, key));
  try {
    return await provider.append(namespace, key, payload);
  } catch (err) {
    throw providerError(err, `publishing to stream ${streamLabel(namespace, key)}`);
  }
}

/** The backend over a stream provider (silos). */
export function providerStreamBackend(provider: StreamProvider, listener?: StreamSubscriptionListener): StreamBackend {
  return {
    publish: (ns, key, item) => publishTo(provider, ns, key, item),
    async subscribe(record, from) {
      let cursor: number;
      try {
        cursor = from === undefined ? (await provider.read(record.namespace, record.key, Number.MAX_SAFE_INTEGER, 0)).last : from - 1;
        await provider.putSubscription(record, cursor, from !== undefined);
        // The silo that delivers this stream may be another one: tell it there is work.
        await provider.announce(record.namespace, record.key);
      } catch (err) {
        throw providerError(err, `subscribing to stream ${streamLabel(record.namespace, record.key)}`);
      }
      listener?.subscribed(record.namespace, record.key);
    },
    async unsubscribe(ns, key, id) {
      try {
        return await provider.removeSubscription(ns, key, id);
      } catch (err) {
        throw providerError(err, `unsubscribing from stream ${streamLabel(ns, key)}`);
      }
    },
    async list(grain) {
      try {
        return await provider.subscriptionsOf(grain);
      } catch (err) {
        throw providerError(err, `listing the stream subscriptions of ${grain}`);
      }
    },
  };
}
