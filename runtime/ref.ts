/**
 * Grain references: typed proxies that turn a method call into a grain call.
 *
 * A reference holds only an identity and the invoker that sends its calls, so it is cheap
 * to create and valid forever. When the grain class is known the reference is an object
 * whose prototype has one function per callable method (fast); with only a type name it is
 * a `Proxy` that forwards any method name (the target silo rejects unknown ones).
 */
import type { Grain } from './grain.js';
import type { GrainType } from './grain-type.js';
import { grainId, grainRefTarget, type GrainId } from './identity.js';

type LifecycleHook = 'onActivate' | 'onDeactivate' | 'initialState';

/**
 * Names of the members a feature's framework base adds (e.g. `JournaledGrain`'s `raiseEvent`):
 * never callable through a reference. Features add theirs by declaration merging.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface FrameworkMemberNames {}

/** Names of the methods a reference to `G` exposes. */
export type CallableMethods<G> = {
  [K in keyof G]-?: K extends string
    ? K extends `_${string}` | LifecycleHook | 'constructor' | keyof Grain<never> | keyof FrameworkMemberNames
      ? never
      : G[K] extends (...args: never[]) => unknown
        ? K
        : never
    : never;
}[keyof G];

/** A typed reference to a grain: its callable methods, each returning a promise. */
export type GrainRef<G> = {
  readonly [K in CallableMethods<G>]: G[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** Sends calls for references. */
export interface Invoker {
  invoke(target: GrainId, targetKey: string, method: string, args: unknown[]): Promise<unknown>;
}

const INVOKER = Symbol('granary.invoker');
const KEY = Symbol('granary.idString');

interface RefObject {
  [grainRefTarget]: GrainId;
  [KEY]: string;
  [INVOKER]: Invoker;
}

const protoCache = new WeakMap<GrainType, object>();

function refPrototype(type: GrainType): object {
  let proto = protoCache.get(type);
  if (proto) return proto;
  proto = {
    toString(this: RefObject) { return `GrainRef(${this[KEY]})`; },
    toJSON(this: RefObject) { return { type: this[grainRefTarget].type, key: this[grainRefTarget].key }; },
  };
  for (const name of type.methods) {
    Object.defineProperty(proto, name, {
      value: function (this: RefObject, ...args: unknown[]) {
        return this[INVOKER].invoke(this[grainRefTarget], this[KEY], name, args);
      },
      enumerable: false,
    });
  }
  protoCache.set(type, proto);
  return proto;
}

/** A reference built from the known grain class. */
export function typedRef(type: GrainType, key: string, invoker: Invoker): unknown {
  const ref = Object.create(refPrototype(type)) as RefObject;
  const id = grainId(type.name, key);
  ref[grainRefTarget] = id;
  ref[KEY] = String(id);
  ref[INVOKER] = invoker;
  return ref;
}

/** A reference built from a type name only: any method name is sent. */
export function untypedRef(typeName: string, key: string, invoker: Invoker): unknown {
  const id = grainId(typeName, key);
  const idString = String(id);
  return new Proxy(Object.create(null) as object, {
    get(_t, prop) {
      if (prop === grainRefTarget) return id;
      if (typeof prop === 'symbol' || prop === 'then') return undefined;
      if (prop === 'toString') return () => `GrainRef(${idString})`;
      if (prop === 'toJSON') return () => ({ type: id.type, key: id.key });
      return (...args: unknown[]) => invoker.invoke(id, idString, prop, args);
    },
    has(_t, prop) {
      return prop === grainRefTarget;
    },
  });
}

/** Makes references for a host: typed where the class is known, untyped otherwise. */
export function makeRef(types: { get(name: string): GrainType | undefined }, typeName: string, key: string, invoker: Invoker): unknown {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`grain key must be a non-empty string (got ${JSON.stringify(key)})`);
  }
  const t = types.get(typeName);
  return t ? typedRef(t, key, invoker) : untypedRef(typeName, key, invoker);
}
