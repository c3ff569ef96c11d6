/**
 * The brand every copy of Granary puts on its `Grain` class. `instanceof Grain` only knows
 * one copy of the package; the brand is a registered symbol (`Symbol.for`), so any copy can
 * tell "a grain class, built on some copy of Granary" from "not a grain at all", and name
 * the copy in its error.
 *
 * A class that carries the brand as its OWN static member is a framework base (`Grain`,
 * and any base Granary builds on it): its members and its bases' members are never
 * callable through a reference. Nothing here imports anything: `grain.ts` evaluates it first.
 */

export const GRAIN_BRAND: unique symbol = Symbol.for('granary.grain');

/**
 * The major version of the protocol between grain classes and the runtime that hosts them
 * (how a grain is constructed, reaches its runtime, and what its base class provides).
 */
export const GRAIN_PROTOCOL = 1;

/** What the brand says about the copy of Granary a base class comes from. */
export interface GrainBrand {
  readonly protocol: number;
  /** The URL of the module that declares the branded class, when the host exposes one. */
  readonly module: string | undefined;
}

/** The brand of a framework base declared in the module at `moduleUrl`. */
export function grainBrand(moduleUrl: string | undefined): GrainBrand {
  return Object.freeze({ protocol: GRAIN_PROTOCOL, module: moduleUrl });
}

/** A class that declares the brand itself: `Grain` of some copy of Granary, or a base built on it. */
export interface BrandedBase {
  readonly [GRAIN_BRAND]: GrainBrand;
  readonly name: string;
  readonly prototype: object;
}

/** The nearest class in `cls`'s chain (itself included) that declares the brand as its own. */
export function brandedBase(cls: unknown): BrandedBase | undefined {
  for (let c = cls; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    if (Object.prototype.hasOwnProperty.call(c, GRAIN_BRAND)) return c as unknown as BrandedBase;
  }
  return undefined;
}
