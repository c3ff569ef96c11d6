/**
 * A read model from the seeds' pattern (Akka Persistence's write side and query side):
 * `ShoppingCart` is the write side, a journaled grain whose events are the truth;
 * `OrderHistory` is a read side built only from those events.
 *
 * The read side catches up by version (`eventsSince(seen)`), so it sees every event exactly
 * once however often it is nudged, and a lost nudge is made good by the next one. The cart
 * nudges it after each checkout; with streams, `static journalStream = 'carts'` publishes the
 * same events to the stream `carts/<key>` (today to any registered journal publisher).
 */
import { Grain, InvalidArgumentError, JournaledGrain } from '../runtime/index.js';

export type CartEvent =
  | { type: 'added'; sku: string; qty: number }
  | { type: 'removed'; sku: string }
  | { type: 'checkedOut'; orderId: string; lines: [sku: string, qty: number][]; at: Date };

export interface CartState {
  /** sku → quantity (a Map: the codec keeps it one through the journal and snapshots). */
  items: Map<string, number>;
  checkouts: number;
}

export interface Order {
  orderId: string;
  lines: [sku: string, qty: number][];
  at: Date;
}

/** The write side: every change is an event; `state` is their fold. Keyed by customer. */
export class ShoppingCart extends JournaledGrain<CartState, CartEvent> {
  static grainType = 'ShoppingCart';
  static override snapshotEvery = 100;
  static override journalStream = 'carts';

  protected override initialState(): CartState {
    return { items: new Map(), checkouts: 0 };
  }

  protected override apply(state: CartState, e: CartEvent): void {
    switch (e.type) {
      case 'added': state.items.set(e.sku, (state.items.get(e.sku) ?? 0) + e.qty); break;
      case 'removed': state.items.delete(e.sku); break;
      case 'checkedOut': state.items.clear(); state.checkouts++; break;
    }
  }

  async add(sku: string, qty: number): Promise<number> {
    // Checks belong before raiseEvent: an event, once raised, is a fact.
    if (typeof sku !== 'string' || sku === '') throw new InvalidArgumentError('add needs a sku (a non-empty string)');
    if (!Number.isSafeInteger(qty) || qty <= 0) throw new InvalidArgumentError(`add needs a whole quantity above 0 (got ${qty})`);
    this.raiseEvent({ type: 'added', sku, qty });
    await this.confirmEvents();
    return this.state.items.get(sku)!;
  }

  async remove(sku: string): Promise<void> {
    if (!this.state.items.has(sku)) return;
    this.raiseEvent({ type: 'removed', sku });
    await this.confirmEvents();
  }

  /** Turns the cart into an order; the order history learns of it from the cart's events. */
  async checkout(): Promise<string> {
    if (this.state.items.size === 0) throw new InvalidArgumentError(`the cart of ${this.key} is empty: add items before checking out`);
    const orderId = `${this.key}-${this.state.checkouts + 1}`;
    this.raiseEvent({ type: 'checkedOut', orderId, lines: [...this.state.items], at: new Date() });
    await this.confirmEvents();
    await this.getGrain(OrderHistory, this.key).catchUp();
    return orderId;
  }

  async items(): Promise<Record<string, number>> {
    return Object.fromEntries(this.state.items);
  }

  /** The confirmed events from `from` on, and the version they end at: how read sides catch up. */
  async eventsSince(from: number): Promise<{ version: number; events: CartEvent[] }> {
    const version = this.version;
    return { version, events: await this.retrieveConfirmedEvents(Math.min(from, version), version) };
  }
}

/** The read side: orders, built from the cart's events (never written by the cart itself). */
export class OrderHistory extends Grain<{ seen: number; orders: Order[] }> {
  static grainType = 'OrderHistory';
  protected override initialState() { return { seen: 0, orders: [] as Order[] }; }

  /** Reads the cart's events after the last one seen; idempotent. Returns the number of orders. */
  async catchUp(): Promise<number> {
    const { version, events } = await this.getGrain(ShoppingCart, this.key).eventsSince(this.state.seen);
    if (version <= this.state.seen) return this.state.orders.length;
    for (const e of events) {
      if (e.type === 'checkedOut') this.state.orders.push({ orderId: e.orderId, lines: e.lines, at: e.at });
    }
    this.state.seen = version;
    await this.writeState();
    return this.state.orders.length;
  }

  async orders(): Promise<Order[]> {
    return this.state.orders;
  }
}
