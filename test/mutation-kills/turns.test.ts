/**
 * Turn-based scheduling on a grain that is already active (docs/architecture.md "Turns"):
 * calls that arrive while a turn runs wait for it, one exclusive turn at a time; `reentrant`
 * and `interleave` start at once beside it. test/runtime.test.ts sends its calls before the
 * grain has activated, where the activation queue orders them anyway; mutation testing showed
 * that the path for an active grain (`Activation.receive` → `start`) went unchecked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Grain, Silo } from 'granary';
import { ReentrantSerial, Serial } from '../fixtures/grains.js';

/** Records the order turns start and end in, to see that they never overlap. */
class Journal extends Grain {
  static interleave = ['look', 'holdAside'];
  log: string[] = [];
  private gates = new Map<string, () => void>();
  async hold(name: string): Promise<string> {
    this.log.push(`start ${name}`);
    await new Promise<void>((r) => { this.gates.set(name, r); });
    this.log.push(`end ${name}`);
    return name;
  }
  async quick(name: string): Promise<string> {
    this.log.push(`quick ${name}`);
    return name;
  }
  /** Interleaves, and holds like `hold` until `look(name)` lets it go. */
  async holdAside(name: string): Promise<string> {
    return this.hold(name);
  }
  /** Interleaves: lets a held turn go and reports what ran so far. */
  async look(release?: string): Promise<string[]> {
    if (release !== undefined) this.gates.get(release)?.();
    return [...this.log];
  }
}

let silo: Silo | undefined;
afterEach(async () => {
  await silo?.stop();
  silo = undefined;
});

/** Resolves once `predicate` holds for what `look` reports (checked on each turn end). */
async function until(j: { look(release?: string): Promise<string[]> }, predicate: (log: string[]) => boolean): Promise<string[]> {
  for (;;) {
    const log = await j.look();
    if (predicate(log)) return log;
    await new Promise((r) => setImmediate(r));
  }
}

describe('turns on an active grain', () => {
  it('concurrent calls to an active grain run one at a time, each to completion', async () => {
    silo = await Silo.start({ grains: [Serial, ReentrantSerial] });
    const serial = silo.getGrain(Serial, 'active');
    await serial.stats(); // active before the burst
    await Promise.all(Array.from({ length: 20 }, () => serial.slowAdd(1)));
    expect(await serial.stats()).toEqual({ n: 20, maxInside: 1 });
  });

  it('a reentrant class, already active, interleaves its calls', async () => {
    silo = await Silo.start({ grains: [Serial, ReentrantSerial] });
    const re = silo.getGrain(ReentrantSerial, 'active');
    await re.stats();
    await Promise.all(Array.from({ length: 20 }, () => re.slowAdd(1, 5)));
    expect((await re.stats()).maxInside).toBeGreaterThan(1);
  });

  it('calls behind a held turn wait for it, then run in arrival order; interleaved ones do not wait', async () => {
    silo = await Silo.start({ grains: [Journal] });
    const j = silo.getGrain(Journal, 'j');
    await j.look();
    const first = j.hold('a');
    await until(j, (log) => log.includes('start a'));
    const second = j.hold('b');
    const third = j.quick('c');
    // Interleaved calls run beside the held turn, and nothing queued behind it has started.
    expect(await j.look()).toEqual(['start a']);
    expect(await j.look('a')).toEqual(['start a']);
    expect(await first).toBe('a');
    const log = await until(j, (l) => l.includes('start b'));
    expect(log).toEqual(['start a', 'end a', 'start b']);
    await j.look('b');
    expect(await second).toBe('b');
    expect(await third).toBe('c');
    expect(await j.look()).toEqual(['start a', 'end a', 'start b', 'end b', 'quick c']);
  });

  it('an exclusive call waits for interleaved turns in progress too', async () => {
    silo = await Silo.start({ grains: [Journal] });
    const j = silo.getGrain(Journal, 'aside');
    await j.look();
    const aside = j.holdAside('x');
    await until(j, (log) => log.includes('start x'));
    const exclusive = j.quick('y');
    expect(await j.look()).toEqual(['start x']);
    await j.look('x');
    expect(await aside).toBe('x');
    expect(await exclusive).toBe('y');
    expect(await j.look()).toEqual(['start x', 'end x', 'quick y']);
  });
});
