/**
 * A typed registry of grain classes: `defineGrains([Counter, Account])` gives a value whose
 * type maps each class's `grainType` to the class, so a client that knows only the
 * registry's type (a type-only import, nothing bundled) gets typed references from type
 * names and a type error for a name that is not in it:
 *
 *   export const grains = defineGrains([Counter, Account]);        // with the grain classes
 *   import type { grains } from './grains.js';                     // in a client
 *   GrainClient.http<typeof grains>(url).getGrain('Counter', 'a').add(1);
 *
 * TypeScript knows no class's name, so each class declares its type name as a literal:
 * `static readonly grainType = 'Counter'` (or `static grainType = 'Counter' as const`).
 */
import { grainTypeName, isGrainClass, type GrainClass } from './grain-type.js';

/** Grain type names → grain classes. */
export type GrainClassMap = Readonly<Record<string, GrainClass>>;

export interface GrainRegistry<M extends GrainClassMap = GrainClassMap> {
  /** The classes in the order given: what `Silo.start({ grains })` and `TestCluster.start` take. */
  readonly grains: readonly GrainClass[];
  /** Each class by its grain type name. */
  readonly types: M;
}

/** The type names a registry knows (`string` for an untyped client). */
export type RegisteredName<R extends GrainRegistry> = keyof R['types'] & string;

/** The grain (instance) type a registry gives type name `N`. */
export type RegisteredGrain<R extends GrainRegistry, N extends RegisteredName<R>> = InstanceType<R['types'][N]>;

/** What `defineGrains` is given in place of a class whose type name TypeScript cannot see. */
type NeedsLiteralGrainType = 'each class in defineGrains needs its own literal type name: static readonly grainType = \'Name\'';

/** Each class as is when its `grainType` is a string literal type, else the message above. */
type LiteralNamed<C extends readonly GrainClass[]> = {
  [I in keyof C]: C[I] extends { readonly grainType: infer N extends string } ? (string extends N ? NeedsLiteralGrainType : C[I]) : NeedsLiteralGrainType;
};

/** Type name → class, from a list of classes with literal `grainType`s. */
export type GrainClassMapOf<C extends readonly GrainClass[]> = {
  readonly [K in C[number] as K extends { readonly grainType: infer N extends string } ? N : never]: K;
};

/**
 * A registry of grain classes whose type names are known to TypeScript. Throws a
 * `TypeError` for a value that is not a grain class, a class without its own `grainType`
 * (a subclass inherits its base's static, but its type name is its own class name), and
 * two classes with one type name.
 */
export function defineGrains<const C extends readonly GrainClass[]>(classes: C & LiteralNamed<C>): GrainRegistry<GrainClassMapOf<C>> {
  if (!Array.isArray(classes)) throw new TypeError('defineGrains takes an array of grain classes: defineGrains([Counter, Account])');
  const types: Record<string, GrainClass> = {};
  for (const cls of classes as readonly unknown[]) {
    if (!isGrainClass(cls)) throw new TypeError(`defineGrains: ${String((cls as { name?: unknown })?.name ?? cls)} is not a grain class (it must extend Grain)`);
    if (!Object.prototype.hasOwnProperty.call(cls, 'grainType') || typeof cls.grainType !== 'string') {
      throw new TypeError(`defineGrains: ${cls.name} declares no static grainType of its own; a registry names each type: `
        + `static readonly grainType = '${cls.name}'`);
    }
    const name = grainTypeName(cls);
    if (types[name] !== undefined) throw new TypeError(`defineGrains: ${types[name]!.name} and ${cls.name} share the type name "${name}"`);
    types[name] = cls;
  }
  return Object.freeze({
    grains: Object.freeze([...classes] as GrainClass[]),
    types: Object.freeze(types) as GrainClassMapOf<C>,
  });
}
