/**
 * A bulkhead: at most `limit` pieces of work at once, the rest waiting in order, and at most
 * `maxWaiting` waiting; past that, work is refused at once (the caller is told to retry later)
 * instead of piling up. The silo runs activations through one, so a fan-out to thousands of
 * new grains queues behind a bounded number of storage reads instead of stalling the silo.
 */
export class Bulkhead {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(readonly limit: number, readonly maxWaiting: number) {
    if (!(limit >= 1)) throw new RangeError(`a bulkhead needs a limit of at least 1 (got ${limit})`);
    if (!(maxWaiting >= 0)) throw new RangeError(`a bulkhead's maxWaiting must be 0 or more (got ${maxWaiting})`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length - this.head;
  }

  /**
   * Takes a place: resolves when the work may start (call `release` when it ends); returns
   * false at once when the queue is full.
   */
  enter(): Promise<void> | false {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    if (this.queued >= this.maxWaiting) return false;
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    if (this.head < this.waiting.length) {
      // The place passes straight to the next waiter.
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next();
      return;
    }
    this.running--;
  }
}
