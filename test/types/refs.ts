/**
 * Type-level tests: `tsc` (inside `npm test`) checks this file. Every `@ts-expect-error`
 * line must be an error, so a `GrainRef` that exposed too much or typed too loosely fails.
 */
import { GrainClient, Silo, type GrainRef } from 'granary';
import { Counter } from '../../grains/index.js';
import { Thrower } from '../fixtures/grains.js';

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
