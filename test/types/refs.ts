/**
 * Type-level tests: `tsc` (inside `npm test`) checks this file. Every `@ts-expect-error`
 * line must be an error, so a `GrainRef` that exposed too much or typed too loosely fails.
 */
import { GrainClient, Silo, defineGrains, type GrainClass, type GrainRef } from 'granary';
import { Counter } from '../../grains/index.js';
import { Thrower } from '../fixtures/grains.js';
import { Tally, Wallet, type registry } from './registry-grains.js';

declare const client: GrainClient;
declare const silo: Silo;

export async function refs(): Promise<void> {
  const byClass = client.getGrain(Counter, 'a');
  const byName = client.getGrain<Counter>('Counter', 'a');
  const fromSilo: GrainRef<Counter> = silo.getGrain(Counter, 'a');

  const n: number = await byClass.add(1);
  const m: number = await byName.get();
  const w: unknown = await fromSilo.whoAsked();
  void [n, m, w];

  // @ts-expect-error unknown method
  await byClass.nope();
  // @ts-expect-error wrong argument type
  await byClass.add('1');
  // @ts-expect-error missing argument
  await byClass.add();
  // @ts-expect-error the result is a promise of number, not a string
  const s: string = await byClass.get();
  void s;
  // @ts-expect-error base-class member writeState is not callable through a reference
  await byClass.writeState();
  // @ts-expect-error lifecycle hook onActivate is not callable through a reference
  await byClass.onActivate();
  // @ts-expect-error getGrain is a Grain member, not a callable method
  byClass.getGrain(Counter, 'b');
  // @ts-expect-error state is not reachable through a reference
  void byClass.state;

  const t = client.getGrain(Thrower, 't');
  const flipped: { x: number; y: number } = await t.point({ x: 1, y: 2 });
  void flipped;
  // @ts-expect-error object argument of the wrong shape
  await t.point({ x: 1 });
  // @ts-expect-error _private methods are not callable through a reference
  await t._hidden();
  // @ts-expect-error a reference's methods return promises even when the grain's do not
  const sync: number = t.calls();
  void sync;
  // @ts-expect-error the class form needs a grain class
  client.getGrain(Date, 'x');
}

/** A client typed with a `defineGrains` registry, known through a type-only import. */
export async function registryRefs(): Promise<void> {
  const http = GrainClient.http<typeof registry>('http://127.0.0.1:8080');
  const n: number = await http.getGrain('Tally', 'a').add(1);
  const connected = await GrainClient.connect<typeof registry>({ nats: 'nats://127.0.0.1:4222', cluster: 'prod' });
  const b: number = await connected.getGrain('Wallet', 'w').balance();
  const explicit: number = await http.getGrain<Tally>('Tally', 'a').add(2);
  void [n, b, explicit];

  // @ts-expect-error a type name the registry does not have
  http.getGrain('Tally2', 'a');
  // @ts-expect-error nor with an explicit grain type
  http.getGrain<Tally>('Nope', 'a');
  // @ts-expect-error the name decides the type: a Wallet has no add
  await http.getGrain('Wallet', 'w').add(1);
  // @ts-expect-error wrong argument type, checked through the name
  await http.getGrain('Tally', 'a').add('1');
  // @ts-expect-error the result is a promise of number
  const s: string = await http.getGrain('Tally', 'a').add(1);
  void s;

  // A client without a registry still takes any name, typed by its type argument.
  const untyped: number = await client.getGrain<Tally>('Anything', 'a').add(1);
  void untyped;
}

/** What defineGrains accepts, and what its value holds. */
export function registryDefinitions(): void {
  const reg = defineGrains([Tally, Wallet] as const);
  const tally: typeof Tally = reg.types.Tally;
  const grains: readonly GrainClass[] = reg.grains;
  void [tally, grains, Silo.start({ grains: reg.grains })];
  // @ts-expect-error not in the registry
  void reg.types.Counter;
  // @ts-expect-error Counter's grainType is typed string, not a literal: TypeScript cannot see its name
  defineGrains([Counter]);
  // @ts-expect-error a class without static grainType has no name TypeScript can see
  defineGrains([Tally, Thrower]);
  // @ts-expect-error only grain classes
  defineGrains([Date]);
}
