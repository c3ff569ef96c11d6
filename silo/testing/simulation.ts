/**
 * The parts of a seeded TestCluster: simulated time that moves by itself while there is work,
 * and the faults it injects into the in-memory network and storage. Everything random draws
 * from one `SeededRandom`, and everything timed runs on one `SimulatedClock`, so a seed repeats
 * a run event for event.
 */
import { FakeClock, settle, type TimerHandle } from '../../runtime/clock.js';
import { InvalidArgumentError, SiloUnavailableError, type StorageProvider } from '../../runtime/index.js';
import type { MessageFate, NetworkConditions } from '../memory/cluster.js';
import type { SeededRandom } from './random.js';

/** Faults a seeded TestCluster injects (all drawn from its seed). */
export interface SimulationFaults {
  /** Every message between silos and clients is delayed by a whole number of ms in this range (default `[0, 2]`: delivery order varies with the seed). */
  messageDelayMs?: readonly [number, number];
  /** Share of messages (requests and replies) lost; the runtime's timeouts and retries must cope. */
  messageDropRate?: number;
  /** Share of messages delivered twice. */
  messageDuplicateRate?: number;
  /** Share of storage operations that fail (half before they reach storage, half after they landed: the caller cannot tell which). */
  storageErrorRate?: number;
  /** Every storage operation takes a whole number of ms in this range. */
  storageDelayMs?: readonly [number, number];
}

export function validateFaults(f: SimulationFaults | undefined): void {
  if (f === undefined) return;
  for (const k of ['messageDropRate', 'messageDuplicateRate', 'storageErrorRate'] as const) {
    const v = f[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) {
      throw new InvalidArgumentError(`faults.${k} must be a share from 0 to 1 (got ${String(v)})`);
    }
  }
  for (const k of ['messageDelayMs', 'storageDelayMs'] as const) {
    const v = f[k];
    if (v !== undefined && !(Array.isArray(v) && v.length === 2 && v.every((n) => Number.isFinite(n) && n >= 0) && v[0] <= v[1])) {
      throw new InvalidArgumentError(`faults.${k} must be [min, max] milliseconds with 0 ≤ min ≤ max (got ${JSON.stringify(v)})`);
    }
  }
}

/** A jump of simulated time this short needs no extra settling first (see `drive`). */
const SHORT_HOP_MS = 50;

/**
 * A FakeClock with the simulation's randomness, whose wait timers run in simulated time,
 * and which jumps to the next timer by itself while someone `hold`s it (a client call in
 * flight): a test awaits a call and simulated time passes until it is answered.
 */
export class SimulatedClock extends FakeClock {
  readonly random: () => number;
  private waits = 0;
  private holds = 0;
  private driving = false;
  private advancing: Promise<void> = Promise.resolve();

  constructor(rng: SeededRandom) {
    super();
    this.random = rng.next;
  }

  waitTimer(fn: () => void, ms: number): TimerHandle {
    this.waits++;
    let done = false;
    const handle = this.setTimer(() => { done = true; this.waits--; fn(); }, ms);
    return { cancel: () => { if (!done) { done = true; this.waits--; handle.cancel(); } } };
  }

  /** Wait timers (retries, backoff) not yet run: work the simulation still has. */
  get waiting(): number {
    return this.waits;
  }

  /** Keeps time moving until the returned function is called. */
  hold(): () => void {
    this.holds++;
    void this.drive();
    let released = false;
    return () => { if (!released) { released = true; this.holds--; } };
  }

  /** One advance at a time: the driver and `advanceTime` may both move the clock. */
  override advance(ms: number, settleRounds = 3): Promise<void> {
    const target = this.now() + ms;
    const run = this.advancing.then(() => super.advance(Math.max(0, target - this.now()), settleRounds));
    this.advancing = run.catch(() => undefined);
    return run;
  }

  /**
   * Moves to the next timer whenever the work in flight has settled without it. One round of
   * the event loop drains every promise chain a timer started; a jump past `SHORT_HOP_MS`
   * waits a few more rounds first, for work that yields to the event loop on its way (so a
   * long jump, typically to a timeout, never overtakes work that was about to go on).
   */
  private async drive(): Promise<void> {
    if (this.driving) return;
    this.driving = true;
    try {
      while (this.holds > 0) {
        await settle(1);
        if (this.holds === 0) break;
        let due = this.nextDue;
        if (due === undefined || due - this.now() > SHORT_HOP_MS) {
          await settle(3);
          if (this.holds === 0) break;
          due = this.nextDue;
        }
        if (due !== undefined) await this.advance(Math.max(0, due - this.now()), 1);
      }
    } finally {
      this.driving = false;
    }
  }
}

/** Network conditions of a simulation: faults from the seed, partitions and pauses set by the test. */
export class SimulatedNetwork implements NetworkConditions {
  private transit = 0;
  /** Silo id → its side of the partition (absent: reaches every silo). */
  private sides = new Map<string, number>();
  /** Silo id → clock time until which it is paused. */
  private readonly paused = new Map<string, number>();

  constructor(private readonly rng: SeededRandom, private readonly clock: SimulatedClock, public faults: SimulationFaults) {}

  message(from: string | undefined, to: string | undefined): MessageFate {
    const f = this.faults;
    const [lo, hi] = f.messageDelayMs ?? [0, 2];
    let delayMs = this.rng.int(lo, hi);
    if (from !== undefined && to !== undefined) {
      const a = this.sides.get(from);
      const b = this.sides.get(to);
      if (a !== undefined && b !== undefined && a !== b) return { drop: true, delayMs: 0 };
    }
    // A paused silo neither hears nor speaks until it wakes.
    const now = this.clock.now();
    for (const id of [from, to]) {
      const until = id === undefined ? undefined : this.paused.get(id);
      if (until !== undefined && until > now) delayMs = Math.max(delayMs, until - now + delayMs);
    }
    if (this.rng.chance(f.messageDropRate)) return { drop: true, delayMs: 0 };
    const fate: MessageFate = { drop: false, delayMs };
    if (this.rng.chance(f.messageDuplicateRate)) fate.duplicateDelayMs = delayMs + this.rng.int(lo, hi);
    return fate;
  }

  carried(): void { this.transit++; }
  delivered(): void { this.transit--; }

  /** Messages sent and not yet delivered. */
  get inTransit(): number {
    return this.transit;
  }

  partition(groups: readonly (readonly string[])[]): void {
    this.sides = new Map();
    groups.forEach((ids, side) => { for (const id of ids) this.sides.set(id, side); });
  }

  heal(): void {
    this.sides = new Map();
    this.paused.clear();
  }

  pause(siloId: string, ms: number): void {
    this.paused.set(siloId, Math.max(this.paused.get(siloId) ?? 0, this.clock.now() + ms));
  }
}

/**
 * Storage with the simulation's latency and transient errors around a real provider. Half
 * of the errors come before the operation reaches storage, half after it landed (a lost
 * answer), as a network to a database fails. Other members of the provider (journals,
 * reminders) pass through untouched.
 */
export function simulatedStorage(inner: StorageProvider, rng: SeededRandom, clock: SimulatedClock, faultsNow: () => SimulationFaults, seed: number): StorageProvider & { readonly pending: number } {
  let pending = 0;
  const delay = (): Promise<void> => {
    const [lo, hi] = faultsNow().storageDelayMs ?? [0, 0];
    const ms = rng.int(lo, hi);
    return ms === 0 && hi === 0 ? Promise.resolve() : new Promise((r) => clock.setTimer(r, ms));
  };
  const fault = (op: string, what: string, landed: boolean) => new SiloUnavailableError(
    `injected storage fault (simulation seed ${seed}): ${op} of ${what} ${landed ? 'landed, but its answer was lost' : 'failed before reaching storage'}; retry`,
  );
  const run = async <T>(op: string, what: string, call: () => Promise<T>): Promise<T> => {
    pending++;
    try {
      await delay();
      const failing = rng.chance(faultsNow().storageErrorRate);
      const afterLanding = failing && rng.next() < 0.5;
      if (failing && !afterLanding) throw fault(op, what, false);
      const result = await call();
      if (afterLanding) throw fault(op, what, true);
      return result;
    } finally {
      pending--;
    }
  };
  // Own, writable members over the inner provider (which stays the prototype for the rest):
  // runtime layers may wrap storage in proxies, whose invariants need configurable properties.
  const member = (value: unknown): PropertyDescriptor => ({ value, writable: true, configurable: true, enumerable: true });
  const wrapped: StorageProvider & { readonly pending: number } = Object.create(inner, {
    pending: { get: () => pending, configurable: true, enumerable: true },
    read: member((id: Parameters<StorageProvider['read']>[0], name: string) => run('read', `${String(id)}#${name}`, () => inner.read(id, name))),
    write: member((id: Parameters<StorageProvider['write']>[0], name: string, payload: string, etag: string | undefined) => run('write', `${String(id)}#${name}`, () => inner.write(id, name, payload, etag))),
    clear: member((id: Parameters<StorageProvider['clear']>[0], name: string, etag: string | undefined) => run('clear', `${String(id)}#${name}`, () => inner.clear(id, name, etag))),
  });
  return wrapped;
}
