/**
 * What the runtime knows about a grain class: its type name, its callable methods and its
 * scheduling and placement options, read once from the class and its statics.
 */
import { Grain } from './grain.js';

export type PlacementStrategy = 'preferLocal' | 'random' | 'hash';

export type TransactionOption = 'create' | 'join' | 'createOrJoin' | 'supported' | 'notAllowed' | 'suppress';

/** The statics a grain class may declare. */
export interface GrainStatics {
  grainType?: string;
  idleTimeoutMs?: number;
  reentrant?: boolean;
  interleave?: readonly string[];
  placement?: PlacementStrategy;
  transactions?: Readonly<Record<string, TransactionOption>>;
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
  readonly transactions: Readonly<Record<string, TransactionOption>>;
}

const LIFECYCLE = new Set(['constructor', 'onActivate', 'onDeactivate', 'initialState']);
const PLACEMENTS = new Set<string>(['preferLocal', 'random', 'hash']);
const TX_OPTIONS = new Set<string>(['create', 'join', 'createOrJoin', 'supported', 'notAllowed', 'suppress']);

export function grainTypeName(cls: GrainClass): string {
  return Object.prototype.hasOwnProperty.call(cls, 'grainType') && cls.grainType ? cls.grainType : cls.name;
}

/**
 * The methods a reference may call: those the class declares (own and inherited up to,
 * not including, `Grain`), except the constructor, lifecycle hooks, `Grain`'s own members
 * and names starting with `_`.
 */
export function callableMethods(cls: GrainClass): Set<string> {
  const out = new Set<string>();
  const base = new Set(Object.getOwnPropertyNames(Grain.prototype));
  for (let p = cls.prototype; p && p !== Grain.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (LIFECYCLE.has(name) || base.has(name) || name.startsWith('_')) continue;
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (d && typeof d.value === 'function') out.add(name);
    }
  }
  return out;
}

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
  if (typeof cls !== 'function' || !(cls.prototype instanceof Grain)) {
    throw new TypeError(`${String((cls as { name?: string })?.name ?? cls)} is not a grain class (it must extend Grain)`);
  }
  const name = grainTypeName(cls);
  if (!name || name.includes('/')) throw new TypeError(`grain type name ${JSON.stringify(name)} is empty or contains "/"`);
  const methods = callableMethods(cls);
  const interleave = new Set(cls.interleave ?? []);
  for (const m of interleave) {
    if (!methods.has(m)) throw new TypeError(`${name}.interleave names "${m}", which is not a callable method of ${name}`);
  }
  if (cls.placement !== undefined && !PLACEMENTS.has(cls.placement)) {
    throw new TypeError(`${name}.placement must be one of ${[...PLACEMENTS].join(', ')} (got ${JSON.stringify(cls.placement)})`);
  }
  const transactions = cls.transactions ?? {};
  for (const [m, opt] of Object.entries(transactions)) {
    if (!methods.has(m)) throw new TypeError(`${name}.transactions names "${m}", which is not a callable method of ${name}`);
    if (!TX_OPTIONS.has(opt)) throw new TypeError(`${name}.transactions.${m} must be one of ${[...TX_OPTIONS].join(', ')}`);
  }
  if (cls.idleTimeoutMs !== undefined && !(cls.idleTimeoutMs > 0)) {
    throw new TypeError(`${name}.idleTimeoutMs must be a positive number of milliseconds`);
  }
  return {
    name,
    cls,
    methods,
    interleave,
    reentrant: cls.reentrant === true,
    idleTimeoutMs: cls.idleTimeoutMs,
    placement: cls.placement,
    transactions,
  };
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
}
