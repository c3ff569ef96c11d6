/**
 * What the runtime knows about a grain class: its type name, its callable methods and its
 * scheduling and placement options, read once from the class and its statics.
 */
import { typeFilters, typeStateLoader, type ActivationFilter, type StateLoader } from './features.js';
import { Grain } from './grain.js';
import { GRAIN_BRAND, GRAIN_PROTOCOL, brandedBase, type BrandedBase } from './grain-brand.js';
import { LIFECYCLE_METHODS, isReservedMethod } from './protocol.js';

export type PlacementStrategy = 'preferLocal' | 'random' | 'hash';

/** The statics a grain class may declare. */
export interface GrainStatics {
  grainType?: string;
  idleTimeoutMs?: number;
  reentrant?: boolean;
  interleave?: readonly string[];
  placement?: PlacementStrategy;
  // Features add the statics they read (`transactions`, `schemas`, …) by declaration merging.
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type GrainClass<G extends Grain<any> = Grain<any>> = (new () => G) & GrainStatics;

export interface GrainType {
  readonly name: string;
  readonly cls: GrainClass;
  readonly methods: ReadonlySet<string>;
  readonly interleave: ReadonlySet<string>;
  readonly reentrant: boolean;
  readonly idleTimeoutMs: number | undefined;
  readonly placement: PlacementStrategy | undefined;
  /** Incoming call filters the registered features give this type's activations (runtime/features.ts). */
  readonly filters: readonly ActivationFilter[];
  /** Loads an activation's state instead of the storage port, when a feature keeps it (journaled grains). */
  readonly loadState: StateLoader | undefined;
}

const PLACEMENTS = new Set<string>(['preferLocal', 'random', 'hash']);

export function grainTypeName(cls: GrainClass): string {
  return Object.prototype.hasOwnProperty.call(cls, 'grainType') && cls.grainType ? cls.grainType : cls.name;
}

/**
 * The methods a reference may call (API.md, "Callable methods"): those the class declares,
 * own and inherited up to (not including) its framework base — `Grain`, of this copy of
 * Granary or another, or any base that declares the brand itself — except the constructor,
 * lifecycle hooks, the base's own members, names starting with `_` and the runtime's `$`
 * names. `#private` methods are not properties, so they never appear. TypeScript's
 * `private`/`protected` do not exist at run time: `granary check` (silo/check.ts) finds them.
 */
export function callableMethods(cls: GrainClass): Set<string> {
  const out = new Set<string>();
  const base = brandedBase(cls);
  if (base === undefined) return out;
  const baseMembers = memberNames(base.prototype);
  for (let p: object | null = cls.prototype; p && p !== base.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (LIFECYCLE_METHODS.has(name) || baseMembers.has(name) || name.startsWith('_') || isReservedMethod(name)) continue;
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (d && typeof d.value === 'function') out.add(name);
    }
  }
  return out;
}

/** Every property name along a prototype chain, `Object.prototype` excluded. */
function memberNames(proto: object): Set<string> {
  const names = new Set<string>();
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) names.add(name);
  }
  return names;
}

/**
 * Whether `value` is a grain class built on any copy of Granary (by its brand, not
 * `instanceof`): the test for finding grain classes among a module's exports. A class of
 * another copy is then refused by `describeGrainClass` with an error that says so.
 */
export function isGrainClass(value: unknown): value is GrainClass {
  const base = brandedBase(value);
  return base !== undefined && base !== value;
}

/** One or two characters: what a minifier names classes. */
const MINIFIED_NAME = /^[A-Za-z_$][\w$]?$/;

/** Descriptions are read once per class: references are made on hot paths. */
const described = new WeakMap<GrainClass, GrainType>();

export function describeGrainClass(cls: GrainClass): GrainType {
  const known = typeof cls === 'function' ? described.get(cls) : undefined;
  if (known !== undefined) return known;
  const type = readGrainClass(cls);
  described.set(cls, type);
  return type;
}

function readGrainClass(cls: GrainClass): GrainType {
  const base = brandedBase(cls);
  if (base === undefined || (base as unknown) === cls) {
    throw new TypeError(`${String((cls as { name?: string })?.name ?? cls)} is not a grain class (it must extend Grain)`);
  }
  if (!(cls.prototype instanceof Grain)) throw new TypeError(otherCopyMessage(cls, base));
  const name = grainTypeName(cls);
  if (!name || name.includes('/')) throw new TypeError(`grain type name ${JSON.stringify(name)} is empty or contains "/"`);
  if (!Object.prototype.hasOwnProperty.call(cls, 'grainType') && MINIFIED_NAME.test(name)) {
    // The type name addresses the grain and keys its stored state: a build that renames the
    // class would strand that state and break callers built separately, so refuse to guess.
    throw new TypeError(`grain class "${name}" has a one- or two-character name, as a minifier gives, and no static grainType: `
      + `its type name is its address and the key of its stored state, so a build that renames it would lose that state. `
      + `Declare static grainType = '<Name>' on the class (or keep names when bundling, e.g. esbuild's keepNames)`);
  }
  const methods = callableMethods(cls);
  const interleave = new Set(cls.interleave ?? []);
  for (const m of interleave) {
    if (!methods.has(m)) throw new TypeError(`${name}.interleave names "${m}", which is not a callable method of ${name}`);
  }
  if (cls.placement !== undefined && !PLACEMENTS.has(cls.placement)) {
    throw new TypeError(`${name}.placement must be one of ${[...PLACEMENTS].join(', ')} (got ${JSON.stringify(cls.placement)})`);
  }
  if (cls.idleTimeoutMs !== undefined && !(cls.idleTimeoutMs > 0)) {
    throw new TypeError(`${name}.idleTimeoutMs must be a positive number of milliseconds`);
  }
  const type: { -readonly [K in keyof GrainType]: GrainType[K] } = {
    name,
    cls,
    methods,
    interleave,
    reentrant: cls.reentrant === true,
    idleTimeoutMs: cls.idleTimeoutMs,
    placement: cls.placement,
    filters: [],
    loadState: undefined,
  };
  type.filters = typeFilters(type);
  type.loadState = typeStateLoader(type);
  return type;
}

/** Where a brand's copy of Granary lives, for messages (a file path when it is a file URL). */
function copyLocation(base: BrandedBase): string {
  const url = base[GRAIN_BRAND].module;
  if (url === undefined) return 'an unknown location';
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  // A built package declares Grain in a chunk of its bundle (deploy/bundle-package.mjs): name the package.
  const chunk = /^(.*)\/dist\/chunks\/[^/]+\.js$/.exec(path);
  return chunk !== null ? chunk[1]! : path;
}

/** A grain class built on another copy of Granary than the one asked to host it. */
function otherCopyMessage(cls: GrainClass, base: BrandedBase): string {
  const ours = brandedBase(Grain)!;
  const theirs = base[GRAIN_BRAND];
  const fix = 'build the grain module against the granary that hosts it (see `npm ls granary`; `npm dedupe`, '
    + 'or make granary a peerDependency of the package that holds the grains)';
  if (theirs.protocol !== GRAIN_PROTOCOL) {
    return `${cls.name} extends ${base.name} from another copy of granary, at ${copyLocation(base)}, which speaks grain protocol ${theirs.protocol}; `
      + `the granary hosting it, at ${copyLocation(ours)}, speaks protocol ${GRAIN_PROTOCOL}: ${fix}`;
  }
  const where = copyLocation(base) === copyLocation(ours)
    ? `loaded a second time as a separate module (both at ${copyLocation(ours)})`
    : `at ${copyLocation(base)}, not the one hosting it, at ${copyLocation(ours)}`;
  return `${cls.name} extends ${base.name} from another copy of granary, ${where}. `
    + `Each copy has its own request context, transactions and error classes, so a grain of one copy cannot run in the other: ${fix}`;
}

/** The grain classes a silo hosts, by type name. */
export class GrainTypes {
  private readonly byName = new Map<string, GrainType>();

  constructor(classes: readonly GrainClass[] = []) {
    for (const c of classes) this.add(c);
  }

  add(cls: GrainClass): GrainType {
    const t = describeGrainClass(cls);
    const existing = this.byName.get(t.name);
    if (existing === t) return t;
    if (existing && existing.cls !== cls) throw new TypeError(`two grain classes share the type name "${t.name}"`);
    this.byName.set(t.name, t);
    return t;
  }

  get(name: string): GrainType | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The callable methods of each type, by type name (the silo logs them at start). */
  exposed(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, t] of this.byName) out[name] = [...t.methods];
    return out;
  }
}
