/**
 * `defineGrains`: the registry value a silo hosts and a client is typed with (the types
 * themselves are checked by tsc in test/types/refs.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Grain, GrainClient, TestCluster, defineGrains, type GrainClass } from 'granary';
import { Counter } from '../grains/index.js';
import { Tally, Wallet, registry } from './types/registry-grains.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('defineGrains', () => {
  it('maps each literal grainType to its class, and its grains are what a silo hosts', async () => {
    expect(registry.types).toEqual({ Tally, Wallet });
    expect(registry.grains).toEqual([Tally, Wallet]);
    expect(Object.isFrozen(registry.types) && Object.isFrozen(registry.grains)).toBe(true);

    cluster = await TestCluster.start({ silos: 1, grains: registry.grains });
    const client = cluster.client as GrainClient<typeof registry>;
    expect(await client.getGrain('Tally', 'a').add(2)).toBe(2);
    expect(await client.getGrain('Tally', 'a').add(3)).toBe(5);
    expect(await client.getGrain('Wallet', 'w').balance()).toBe(0);
  });

  it('refuses what would make its names wrong, saying what to declare', () => {
    class Unnamed extends Grain { async hi() { return 1; } }
    class Inherits extends Tally {}
    const define = defineGrains as (classes: readonly unknown[]) => unknown;
    expect(() => define([Unnamed])).toThrow(new TypeError("defineGrains: Unnamed declares no static grainType of its own; a registry names each type: static readonly grainType = 'Unnamed'"));
    // A subclass inherits the static, but its type name is its own class name.
    expect(() => define([Tally, Inherits])).toThrow(/^defineGrains: Inherits declares no static grainType of its own/);
    expect(() => define([Date])).toThrow(new TypeError('defineGrains: Date is not a grain class (it must extend Grain)'));
    class Twin extends Grain { static readonly grainType = 'Tally'; }
    expect(() => define([Tally, Twin])).toThrow(new TypeError('defineGrains: Tally and Twin share the type name "Tally"'));
    expect(() => define('Counter' as unknown as GrainClass[])).toThrow(/takes an array of grain classes/);
    expect(() => define([Counter])).not.toThrow(); // its grainType is its own (a string at the type level only)
  });
});
