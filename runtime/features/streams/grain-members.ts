/**
 * What streams add to every grain class, by declaration merging (the core's `Grain` names no
 * stream code): `getStream(namespace, key)`, `getStreamSubscriptions()`, and the
 * `static implicitStreams` a grain type feature checks. The hook implicit subscribers
 * implement, `onStreamItem(item, meta)`, is not declared on `Grain` (a declaration would make
 * `override` compulsory); it is a lifecycle method (runtime/protocol.ts), never callable by
 * clients, and absent from typed references.
 */
import { Grain, runtimeOf } from '../../grain.js';
import { registerGrainTypeFeature } from '../../features.js';
import type { StreamSubscriptionRecord } from '../../stream-storage.js';
import { streamBackendOf } from './backend.js';
import { IMPLICIT_METHOD } from './deliver.js';
import {
  checkFrom, checkStreamName, type GrainStream, type StreamSubscribeOptions, type StreamSubscriptionHandle,
} from './model.js';
import { InvalidArgumentError } from '../../errors.js';

declare module '../../grain.js' {
  interface Grain<S> {
    /**
     * The stream (`namespace`, `key`): `publish(item)` → `{ seq }`, and `subscribe('method',
     * { from })` for a durable subscription of this grain. Names are checked like grain keys
     * (`InvalidArgumentError`).
     */
    getStream<T = unknown>(namespace: string, key: string): GrainStream<T>;
    /** The durable stream subscriptions this grain holds. */
    getStreamSubscriptions(): Promise<StreamSubscriptionHandle[]>;
  }
}

declare module '../../grain-type.js' {
  interface GrainStatics {
    /**
     * Stream namespaces this type subscribes to implicitly: every item of stream (`ns`, `k`)
     * is delivered to `onStreamItem(item, meta)` of this type's grain whose key is `k`.
     */
    implicitStreams?: readonly string[];
  }
}

declare module '../../ref.js' {
  interface FrameworkMemberNames {
    /** The implicit subscribers' hook: a lifecycle method, never on a typed reference. */
    onStreamItem: true;
  }
}

const grainName = (g: Grain<unknown>) => `${g.id.type}/${g.id.key}`;

function handle(grain: Grain<unknown>, r: StreamSubscriptionRecord): StreamSubscriptionHandle {
  return {
    id: r.id,
    namespace: r.namespace,
    key: r.key,
    method: r.method,
    async unsubscribe() {
      await streamBackendOf(runtimeOf(grain), grainName(grain)).unsubscribe(r.namespace, r.key, r.id);
    },
  };
}

function grainStream<T>(grain: Grain<unknown>, namespace: string, key: string): GrainStream<T> {
  checkStreamName(namespace, key);
  const name = grainName(grain);
  return {
    namespace,
    key,
    async publish(item: T) {
      return { seq: await streamBackendOf(runtimeOf(grain), name).publish(namespace, key, item) };
    },
    async subscribe(method: string, options: StreamSubscribeOptions = {}) {
      const from = checkFrom(options.from);
      if (typeof method !== 'string' || typeof (grain as unknown as Record<string, unknown>)[method] !== 'function') {
        throw new InvalidArgumentError(`${name} cannot subscribe ${String(method)} to stream ${namespace}/${key}: ${grain.constructor.name} has no method of that name (give the name of a method taking (item, meta))`);
      }
      const record: StreamSubscriptionRecord = { namespace, key, id: `${name}#${method}`, grain: name, method };
      await streamBackendOf(runtimeOf(grain), name).subscribe(record, from);
      return handle(grain, record);
    },
  };
}

// Non-enumerable, as class methods are: they are `Grain`'s own members, never callable methods.
Object.defineProperties(Grain.prototype, {
  getStream: {
    configurable: true,
    writable: true,
    value: function getStream<T>(this: Grain<unknown>, namespace: string, key: string): GrainStream<T> {
      return grainStream<T>(this, namespace, key);
    },
  },
  getStreamSubscriptions: {
    configurable: true,
    writable: true,
    value: async function getStreamSubscriptions(this: Grain<unknown>): Promise<StreamSubscriptionHandle[]> {
      const records = await streamBackendOf(runtimeOf(this), grainName(this)).list(grainName(this));
      return records.map((r) => handle(this, r));
    },
  },
});

/** `static implicitStreams`, checked once per class: valid namespaces, and an `onStreamItem` to receive them. */
registerGrainTypeFeature({
  name: 'streams',
  describe(type) {
    const ns = (type.cls as { implicitStreams?: unknown }).implicitStreams;
    if (ns === undefined) return undefined;
    if (!Array.isArray(ns)) throw new TypeError(`${type.name}.implicitStreams must be an array of stream namespaces, e.g. ['chat']`);
    for (const n of ns) {
      try {
        checkStreamName(n, 'k');
      } catch (err) {
        throw new TypeError(`${type.name}.implicitStreams: ${(err as Error).message}`);
      }
    }
    if (typeof (type.cls.prototype as Record<string, unknown>)[IMPLICIT_METHOD] !== 'function') {
      throw new TypeError(`${type.name} declares implicitStreams but has no ${IMPLICIT_METHOD}(item, meta) method to receive them`);
    }
    return undefined;
  },
});

/** The implicit subscriber types of each namespace, over a set of grain classes. */
export function implicitSubscribers(types: Iterable<{ name: string; cls: { implicitStreams?: readonly string[] } }>): (namespace: string) => readonly string[] {
  const byNs = new Map<string, string[]>();
  for (const t of types) {
    for (const ns of t.cls.implicitStreams ?? []) {
      let list = byNs.get(ns);
      if (list === undefined) byNs.set(ns, list = []);
      if (!list.includes(t.name)) list.push(t.name);
    }
  }
  return (ns) => byNs.get(ns) ?? [];
}
