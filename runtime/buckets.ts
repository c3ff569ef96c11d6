/**
 * A timing wheel of coarse buckets: items filed under the bucket of their due time, one
 * clock timer armed for the earliest non-empty bucket. A sweep touches only the buckets
 * that fell due, so its cost follows the items that expire, not all items.
 */
import type { Clock, TimerHandle } from './clock.js';

export class Buckets<T> {
  private readonly buckets = new Map<number, T[]>();
  private armedFor = Infinity;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly widthMs: number,
    /** Called with each item whose bucket fell due; it may `add` the item again. */
    private readonly due: (item: T, now: number) => void,
  ) {}

  /** Files `item` under the bucket that ends at or after `at`; returns the bucket index. */
  add(item: T, at: number): number {
    const index = Math.ceil(at / this.widthMs);
    let list = this.buckets.get(index);
    if (list === undefined) {
      list = [];
      this.buckets.set(index, list);
      if (index < this.armedFor) this.arm(index);
    }
    list.push(item);
    return index;
  }

  /** Runs every bucket that is due now; returns how many items it looked at. */
  sweep(): number {
    const now = this.clock.now();
    const last = Math.floor(now / this.widthMs);
    const dueIndexes: number[] = [];
    for (const index of this.buckets.keys()) if (index <= last) dueIndexes.push(index);
    dueIndexes.sort((a, b) => a - b);
    let seen = 0;
    for (const index of dueIndexes) {
      const list = this.buckets.get(index)!;
      this.buckets.delete(index);
      seen += list.length;
      for (const item of list) this.due(item, now);
    }
    this.armedFor = Infinity;
    this.timer?.cancel();
    this.timer = undefined;
    let next = Infinity;
    for (const index of this.buckets.keys()) if (index < next) next = index;
    if (next !== Infinity) this.arm(next);
    return seen;
  }

  /** Every filed item, earliest bucket first (an item may be filed more than once, and may be stale). */
  *ascending(): Generator<T> {
    const indexes = [...this.buckets.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      const list = this.buckets.get(index);
      if (list !== undefined) yield* list;
    }
  }

  get size(): number {
    let n = 0;
    for (const l of this.buckets.values()) n += l.length;
    return n;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.buckets.clear();
  }

  private arm(index: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.armedFor = index;
    const delay = Math.max(0, index * this.widthMs - this.clock.now());
    this.timer = this.clock.setTimer(() => { this.sweep(); }, delay);
  }
}
