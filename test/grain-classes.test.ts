/**
 * What a grain class exposes and how it is named: the runtime's callable-method rule, the
 * brand that recognises grain classes of any copy of Granary, framework bases, the refusal
 * of minified names, and the silo's start-up log of what each type exposes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Grain, Silo, TestCluster } from 'granary';
import { GRAIN_BRAND, GRAIN_PROTOCOL, grainBrand } from '../runtime/grain-brand.js';
import { callableMethods, describeGrainClass, isGrainClass, type GrainClass } from '../runtime/grain-type.js';
import { jsonLogger } from '../silo/log.js';
import { Counter } from '../grains/index.js';

const silos: Silo[] = [];
afterEach(async () => {
  await Promise.all(silos.splice(0).map((s) => s.stop()));
});

async function start(grains: GrainClass[], write?: (line: string) => void): Promise<Silo> {
  const silo = await Silo.start({ grains, logger: jsonLogger({ level: 'info', write: write ?? (() => undefined) }) });
  silos.push(silo);
  return silo;
}

/** `runtime/grain.ts` loaded a second time, as a separate module: another copy of `Grain`. */
async function secondCopy(): Promise<typeof import('../runtime/grain.js')> {
  const url = '../runtime/grain.ts?copy=2'; // the query makes it a module of its own
  return (await import(/* @vite-ignore */ url)) as typeof import('../runtime/grain.js');
}

describe('callable methods', () => {
  class Cart extends Grain<{ n: number }> {
    protected override initialState() { return { n: 0 }; }
    override async onActivate(): Promise<void> {}
    async add(n: number): Promise<number> { return (this.state.n += n); }
    async discount(): Promise<void> {}
    #secret(): void {}
    _internal(): void { this.#secret(); }
    get size(): number { return this.state.n; }
    readonly arrow = () => 1;
    async receiveReminder(): Promise<void> {}
  }
  class BigCart extends Cart {
    async clear(): Promise<void> {}
  }

  it('are the methods the class declares, own and inherited up to Grain, less hooks, _names and #private', () => {
    expect([...callableMethods(BigCart)].sort()).toEqual(['add', 'clear', 'discount']);
    expect([...describeGrainClass(Cart).methods].sort()).toEqual(['add', 'discount']);
    // TypeScript's private/protected are gone at run time, so they are callable too: that is
    // what `granary check` is for (test/check.test.ts loads such a class and shows it).
  });

  it('stop at a framework base: a class that declares the brand itself (as Grain does)', () => {
    abstract class Journaled<S> extends Grain<S> {
      static override readonly [GRAIN_BRAND] = grainBrand(import.meta.url);
      raiseEvent(): void {}
      async confirmEvents(): Promise<void> {}
    }
    class Ledger extends Journaled<{ lines: string[] }> {
      async post(line: string): Promise<void> { this.raiseEvent(); await this.confirmEvents(); void line; }
      // Overrides a base member: still not callable.
      override raiseEvent(): void {}
    }
    expect([...callableMethods(Ledger)]).toEqual(['post']);
    expect(isGrainClass(Ledger)).toBe(true);
    expect(isGrainClass(Journaled)).toBe(false);
  });
});

describe('the brand: grain classes of another copy of Granary', () => {
  it('are recognised as grain classes, with their own Grain as the base', async () => {
    const copy = await secondCopy();
    expect(copy.Grain).not.toBe(Grain);
    class Foreign extends copy.Grain {
      async hi(): Promise<string> { return 'hi'; }
    }
    expect(Foreign.prototype instanceof Grain).toBe(false);
    expect(isGrainClass(Foreign)).toBe(true);
    expect([...callableMethods(Foreign as unknown as GrainClass)]).toEqual(['hi']);
  });

  it('are refused by a silo with an error that says so and names both copies', async () => {
    const copy = await secondCopy();
    class Foreign extends copy.Grain {
      async hi(): Promise<string> { return 'hi'; }
    }
    const grains = [Foreign as unknown as GrainClass];
    const refused = /^Foreign extends Grain from another copy of granary, loaded a second time as a separate module \(both at \/.*runtime\/grain\.ts\)\. Each copy has its own request context, transactions and error classes, so a grain of one copy cannot run in the other: build the grain module against the granary that hosts it \(see `npm ls granary`; `npm dedupe`, or make granary a peerDependency of the package that holds the grains\)$/;
    await expect(start(grains)).rejects.toThrow(refused);
    await expect(TestCluster.start({ silos: 1, grains })).rejects.toThrow(TypeError);
  });

  it('of another protocol version are refused naming both versions and locations', async () => {
    const elsewhere = 'file:///srv/app/node_modules/granary/dist/runtime/grain.js';
    class OtherGrain {
      static readonly [GRAIN_BRAND] = { protocol: GRAIN_PROTOCOL + 1, module: elsewhere };
    }
    class Future extends OtherGrain {
      async hi(): Promise<string> { return 'hi'; }
    }
    expect(isGrainClass(Future)).toBe(true);
    expect(() => describeGrainClass(Future as unknown as GrainClass)).toThrow(
      new RegExp(`^Future extends OtherGrain from another copy of granary, at /srv/app/node_modules/granary/dist/runtime/grain\\.js, `
        + `which speaks grain protocol ${GRAIN_PROTOCOL + 1}; the granary hosting it, at /.*runtime/grain\\.ts, speaks protocol ${GRAIN_PROTOCOL}: build the grain module`),
    );
  });

  it('a class that is no grain at all keeps its error', async () => {
    class Plain { async hi(): Promise<string> { return 'hi'; } }
    expect(isGrainClass(Plain)).toBe(false);
    expect(isGrainClass(Grain)).toBe(false);
    await expect(start([Plain as unknown as GrainClass])).rejects.toThrow(new TypeError('Plain is not a grain class (it must extend Grain)'));
    await expect(start([Grain as unknown as GrainClass])).rejects.toThrow(new TypeError('Grain is not a grain class (it must extend Grain)'));
  });
});

describe('grain type names that a minifier made', () => {
  // What a minifier leaves: a class named with one or two characters.
  const minified = (name: string) => ({ [name]: class extends Grain { async hi(): Promise<number> { return 1; } } })[name]!;

  it('are refused, naming the fix', async () => {
    for (const name of ['e', 'Qa', '$t', '_9']) {
      const cls = minified(name);
      expect(cls.name).toBe(name);
      await expect(start([cls])).rejects.toThrow(
        `grain class "${name}" has a one- or two-character name, as a minifier gives, and no static grainType: `
        + 'its type name is its address and the key of its stored state, so a build that renames it would lose that state. '
        + "Declare static grainType = '<Name>' on the class (or keep names when bundling, e.g. esbuild's keepNames)",
      );
    }
  });

  it('are fine with a static grainType (even a short one), and longer names are fine', async () => {
    const named = class extends minified('e') { static grainType = 'Ox'; };
    const silo = await start([named, minified('Box')]);
    expect(silo.types.names().sort()).toEqual(['Box', 'Ox']);
    expect(await silo.getGrain<{ hi(): Promise<number> }>('Ox', 'a').hi()).toBe(1);
  });
});

describe('the silo start-up log', () => {
  it('lists the methods each type exposes', async () => {
    const lines: string[] = [];
    class Shop extends Grain {
      async buy(): Promise<void> {}
      _audit(): void {}
    }
    await start([Counter, Shop], (l) => lines.push(l));
    const started = lines.map((l) => JSON.parse(l) as { msg: string; exposes?: unknown }).find((l) => l.msg === 'silo started');
    expect(started?.exposes).toEqual({ Counter: ['add', 'get', 'whoAsked'], Shop: ['buy'] });
  });
});
