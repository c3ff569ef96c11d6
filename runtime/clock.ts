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
  /**
   * Randomness for placement, ids and jitter. Absent in production (`Math.random`); a seeded
   * simulation (`TestCluster.start({ seed })`) supplies its generator so that a run repeats.
   */
  random?(): number;
  /**
   * Timers that wait for the outside world (resend and retry backoff, a peer finishing its
   * activation). Absent: real time (`setTimeout`), under a hand-moved `FakeClock` too; a
   * simulation runs them in simulated time.
   */
  waitTimer?(fn: () => void, ms: number): TimerHandle;
}

/** A number in [0, 1) from the clock's randomness, or `Math.random()` when it has none. */
export function randomOf(clock: Clock | undefined): number {
  return clock?.random !== undefined ? clock.random() : Math.random();
}

/** Runs `fn` after `ms` on the clock's wait timers, or in real time when it has none (see `Clock.waitTimer`). */
export function waitTimer(clock: Clock | undefined, fn: () => void, ms: number): void {
  if (clock?.waitTimer !== undefined) clock.waitTimer(fn, ms);
  else setTimeout(fn, ms);
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
  /** A binary min-heap by (due, seq); cancelled timers leave lazily, when they reach the top. */
  private readonly timers: FakeTimer[] = [];
  private live = 0;

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
    this.push(t);
    this.live++;
    return { cancel: () => { if (!t.cancelled) { t.cancelled = true; this.live--; } } };
  }

  /** Moves time without running timers, for benchmarks that drive a collector by hand. */
  jump(ms: number): void {
    this.current += ms;
  }

  /** Timers still waiting (for tests and diagnostics). */
  get pending(): number {
    return this.live;
  }

  /** When the earliest waiting timer falls due; undefined when none waits (a simulation jumps there). */
  get nextDue(): number | undefined {
    return this.top()?.due;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, earliest first, each at
   * its own instant, and lets the work they start settle before moving on (`settleRounds`
   * rounds of the event loop after each).
   */
  async advance(ms: number, settleRounds = 3): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const next = this.top();
      if (next === undefined || next.due > target) break;
      this.pop();
      this.current = Math.max(this.current, next.due);
      next.cancelled = true;
      this.live--;
      next.fn();
      await settle(settleRounds);
    }
    // Never backwards: another advance may have run past `target` meanwhile.
    this.current = Math.max(this.current, target);
    await settle(settleRounds);
  }

  /** The earliest timer not cancelled (dropping cancelled ones on the way). */
  private top(): FakeTimer | undefined {
    while (this.timers.length > 0 && this.timers[0]!.cancelled) this.pop();
    return this.timers[0];
  }

  private push(t: FakeTimer): void {
    const h = this.timers;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.timers;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && earlier(h[l]!, h[m]!)) m = l;
      if (r < h.length && earlier(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function earlier(a: FakeTimer, b: FakeTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** Lets queued promise reactions and immediates run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));
}
