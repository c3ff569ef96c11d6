/**
 * The clock port. Everything time-driven in the runtime (idle collection, grain timers,
 * response deadlines) goes through a `Clock`, so tests can drive time with `FakeClock`.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /**
   * `now()` to within a few tens of milliseconds, for bookkeeping on hot paths (idle
   * tracking): reading the system clock costs 60–100 ns on some VMs.
   */
  coarseNow(): number;
  /** Runs `fn` once after `ms`. Timers never keep the process alive on their own. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

/** Refresh period of the system clock's coarse time. */
const COARSE_MS = 50;
let coarse = 0;
let coarseTicker: ReturnType<typeof setInterval> | undefined;

function startCoarseTicker(): number {
  coarse = Date.now();
  coarseTicker = setInterval(() => { coarse = Date.now(); }, COARSE_MS);
  (coarseTicker as { unref?: () => void }).unref?.();
  return coarse;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  coarseNow: () => (coarseTicker === undefined ? startCoarseTicker() : coarse),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

interface FakeTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A manual clock: time moves only through `advance`, which fires due timers in order. */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  coarseNow(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const t: FakeTimer = { due: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => { t.cancelled = true; } };
  }

  /** Moves time without running timers, for benchmarks that drive a collector by hand. */
  jump(ms: number): void {
    this.current += ms;
  }

  /** Timers still waiting (for tests and diagnostics). */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, earliest first, each at
   * its own instant, and lets the work they start settle before moving on.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: FakeTimer | undefined;
      for (const t of this.timers) if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
      if (!next) break;
      this.current = Math.max(this.current, next.due);
      next.cancelled = true;
      next.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

/** Lets queued promise reactions and immediates run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));
}
