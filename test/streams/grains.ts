/** Grains for the stream tests: they record what they receive in their state. */
import { Grain, JournaledGrain, type StreamItemMeta, type StreamSubscribeOptions } from 'granary';

export interface Got { item: unknown; seq: number; key: string }

/** `${grain key}` → how many more items throw (tests set it). */
export const failures = new Map<string, number>();
/** Gates a slow subscriber: each item waits for the test to open it. */
export const gates: Array<() => void> = [];
/** `open`: slow subscribers stop waiting (set before a cluster stops). */
export const slowMode = { open: false };

/** Implicit subscriber of namespace "chat": the grain whose key is the stream's key. */
export class ChatArchive extends Grain<{ got: Got[] }> {
  static grainType = 'StreamChatArchive';
  static implicitStreams = ['chat'];
  protected override initialState() { return { got: [] as Got[] }; }
  async onStreamItem(item: unknown, meta: StreamItemMeta): Promise<void> {
    const left = failures.get(`archive/${this.key}`) ?? 0;
    if (left > 0) {
      failures.set(`archive/${this.key}`, left - 1);
      throw new Error(`failing on purpose (${left - 1} more)`);
    }
    this.state.got.push({ item, seq: meta.seq, key: meta.key });
    await this.writeState();
  }
  async got(): Promise<Got[]> { return this.state.got; }
  async sleep(): Promise<void> { this.deactivateOnIdle(); }
}

/** Explicit, durable subscriber: subscribes to any stream on request. */
export class Listener extends Grain<{ got: Got[] }> {
  static grainType = 'StreamListener';
  protected override initialState() { return { got: [] as Got[] }; }
  async follow(ns: string, key: string, options?: StreamSubscribeOptions): Promise<string> {
    const h = await this.getStream(ns, key).subscribe('onItem', options);
    return h.id;
  }
  async followWith(ns: string, key: string, method: string): Promise<void> {
    await this.getStream(ns, key).subscribe(method);
  }
  async followSlowly(ns: string, key: string): Promise<void> {
    await this.getStream(ns, key).subscribe('onSlow', {});
  }
  async subscriptions(): Promise<Array<{ namespace: string; key: string; method: string }>> {
    return (await this.getStreamSubscriptions()).map((h) => ({ namespace: h.namespace, key: h.key, method: h.method }));
  }
  async unfollowAll(): Promise<number> {
    const hs = await this.getStreamSubscriptions();
    for (const h of hs) await h.unsubscribe();
    return hs.length;
  }
  async publish(ns: string, key: string, item: unknown): Promise<number> {
    return (await this.getStream(ns, key).publish(item)).seq;
  }
  async onItem(item: unknown, meta: StreamItemMeta): Promise<void> {
    const left = failures.get(`listener/${this.key}`) ?? 0;
    if (left > 0) {
      failures.set(`listener/${this.key}`, left - 1);
      throw new Error(`failing on purpose (${left - 1} more)`);
    }
    this.state.got.push({ item, seq: meta.seq, key: meta.key });
    await this.writeState();
  }
  async onSlow(item: unknown, meta: StreamItemMeta): Promise<void> {
    if (!slowMode.open) await new Promise<void>((resolve) => gates.push(resolve));
    this.state.got.push({ item, seq: meta.seq, key: meta.key });
    await this.writeState();
  }
  async got(): Promise<Got[]> { return this.state.got; }
  async sleep(): Promise<void> { this.deactivateOnIdle(); }
}

/** Publishes from inside a grain. */
export class Publisher extends Grain {
  static grainType = 'StreamPublisher';
  async send(ns: string, key: string, item: unknown): Promise<number> {
    return (await this.getStream(ns, key).publish(item)).seq;
  }
}

/** A journaled grain projecting its confirmed events to the stream ('ledger', its key). */
export class StreamLedger extends JournaledGrain<{ total: number }, { amount: number }> {
  static grainType = 'StreamLedger';
  static override journalStream = 'ledger';
  protected override initialState() { return { total: 0 }; }
  protected override apply(s: { total: number }, e: { amount: number }) { s.total += e.amount; }
  async add(...amounts: number[]): Promise<number> {
    for (const amount of amounts) this.raiseEvent({ amount });
    await this.confirmEvents();
    return this.state.total;
  }
}
