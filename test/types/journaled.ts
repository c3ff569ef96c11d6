/**
 * Type-level tests for journaled grains (`tsc` checks this file): API.md's example compiles,
 * and a reference exposes the class's methods but none of `JournaledGrain`'s own members.
 */
import { GrainClient, JournaledGrain } from 'granary';
import { ShoppingCart } from '../../grains/index.js';

type CartEvent = { type: 'added'; sku: string; qty: number } | { type: 'removed'; sku: string };

/** API.md's example, as written there (only `override` added: this repository sets noImplicitOverride). */
export class Cart extends JournaledGrain<{ items: Record<string, number> }, CartEvent> {
  static override snapshotEvery = 100;
  protected override initialState() { return { items: {} }; }
  protected override apply(state: { items: Record<string, number> }, e: CartEvent) {
    if (e.type === 'added') state.items[e.sku] = (state.items[e.sku] ?? 0) + e.qty;
    else delete state.items[e.sku];
  }
  async add(sku: string, qty: number) { this.raiseEvent({ type: 'added', sku, qty }); await this.confirmEvents(); }
  async items() { return this.state.items; }
}

declare const client: GrainClient;

export async function journaledRefs(): Promise<void> {
  const cart = client.getGrain(Cart, 'a');
  await cart.add('apple', 1);
  const items: Record<string, number> = await cart.items();
  void items;
  const sample = client.getGrain(ShoppingCart, 'b');
  const v: number = (await sample.eventsSince(0)).version;
  void v;
  // @ts-expect-error raiseEvent is JournaledGrain's own member, not callable through a reference
  await cart.raiseEvent({ type: 'removed', sku: 'x' });
  // @ts-expect-error confirmEvents is not callable through a reference
  await cart.confirmEvents();
  // @ts-expect-error retrieveConfirmedEvents is not callable through a reference
  await cart.retrieveConfirmedEvents(0, 1);
  // @ts-expect-error version is not reachable through a reference
  void cart.version;
  // @ts-expect-error apply is a lifecycle hook, never callable
  await cart.apply({ items: {} }, { type: 'removed', sku: 'x' });
  // @ts-expect-error an event of the wrong shape is a type error inside the grain too
  new (class extends Cart { async bad() { this.raiseEvent({ type: 'nope' }); } })();
}
