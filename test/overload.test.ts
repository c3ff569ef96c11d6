/**
 * Overload protection (issue 17.5): a silo keeps at most `maxActivations`, shedding idle ones
 * least recently used first; a bounded number of activations start at once and a bounded
 * number wait; what cannot be taken is refused with SiloUnavailableError and a retry-after
 * (HTTP 503 with `retry-after`), and other traffic keeps flowing meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Grain, SiloUnavailableError, Silo, type DeactivationReason } from 'granary';
import { FakeClock } from 'granary/testing';
import { raw } from './gateway/helpers.js';

const ended: [string, DeactivationReason][] = [];

class Item extends Grain<{ n: number }> {
  static grainType = 'Item';
  protected override initialState() { return { n: 0 }; }
  async bump(): Promise<number> { this.state.n++; await this.writeState(); return this.state.n; }
  override onDeactivate(reason: DeactivationReason): void { ended.push([this.key, reason]); }
}

/** Turns that wait for the test to release them (`hold`), and activations likewise (`SlowStart`). */
let releaseHold: () => void = () => undefined;
let held = new Promise<void>((r) => { releaseHold = r; });
class Busy extends Grain {
  static grainType = 'Busy';
  async hold(): Promise<string> { await held; return 'done'; }
}

let startGate: () => void = () => undefined;
let startsOpen = new Promise<void>((r) => { startGate = r; });
let starting = 0;
let mostStarting = 0;
class SlowStart extends Grain {
  static grainType = 'SlowStart';
  override async onActivate(): Promise<void> {
    starting++;
    mostStarting = Math.max(mostStarting, starting);
    await startsOpen;
    starting--;
  }
  async hi(): Promise<string> { return `hi ${this.key}`; }
}

const silos: Silo[] = [];
afterEach(async () => {
  releaseHold();
  startGate();
  await Promise.all(silos.splice(0).map((s) => s.stop()));
  ended.length = 0;
  held = new Promise<void>((r) => { releaseHold = r; });
  startsOpen = new Promise<void>((r) => { startGate = r; });
  starting = 0;
  mostStarting = 0;
});

async function start(options: Partial<Parameters<typeof Silo.start>[0]>): Promise<Silo> {
  const silo = await Silo.start({ grains: [Item, Busy, SlowStart], ...options });
  silos.push(silo);
  return silo;
}

/** Lets queued work (deactivations, activations) run. */
async function settle(silo: Silo): Promise<void> {
  for (let i = 0; i < 3; i++) await silo.catalog.settled();
}

describe('overload protection', () => {
  it('past maxActivations the least recently used idle activations are shed (reason overload), their state kept', async () => {
    const clock = new FakeClock();
    const silo = await start({ clock, limits: { maxActivations: 10 }, collectionQuantumMs: 1_000, idleTimeoutMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      await silo.getGrain(Item, `g${i}`).bump();
      await clock.advance(1_000);
    }
    await silo.getGrain(Item, 'g0').bump(); // g0 is now the most recently used
    expect(silo.activationCount('Item')).toBe(10);
    await silo.getGrain(Item, 'g10').bump();
    await settle(silo);
    // One over the bound, plus 1 % of room: the two least recently used go.
    expect(ended).toEqual([['g1', 'overload'], ['g2', 'overload']]);
    expect(silo.activationCount('Item')).toBe(9);
    // Nothing is lost: a shed grain comes back with its stored state.
    expect(await silo.getGrain(Item, 'g1').bump()).toBe(2);
    expect(await silo.getGrain(Item, 'g0').bump()).toBe(3);
    const metrics = silo.renderMetrics();
    expect(metrics).toMatch(/^granary_activations_shed_total 2$/m);
  });

  it('when every activation is busy, a call needing a new one is refused with a retry-after; the busy ones finish', async () => {
    const silo = await start({ limits: { maxActivations: 3, retryAfterMs: 2_000 }, gateway: { port: 0, host: '127.0.0.1' } });
    const busy = [0, 1, 2].map((i) => silo.getGrain(Busy, `b${i}`).hold());
    await settle(silo);
    const err = await silo.getGrain(Item, 'one-too-many').bump().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as SiloUnavailableError).data).toEqual({ reason: 'overloaded', retryAfterMs: 2_000 });
    expect((err as Error).message).toMatch(/maximum of 3 activations, none of them idle; retry in 2 s/);
    const http = await raw(silo.gateway!.port, 'POST', '/grains/Item/over-http/bump', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(http.status).toBe(503);
    expect(http.headers['retry-after']).toBe('2');
    expect(http.json.error.code).toBe('silo_unavailable');
    releaseHold();
    expect(await Promise.all(busy)).toEqual(['done', 'done', 'done']);
    expect(silo.renderMetrics()).toMatch(/^granary_overload_refused_total 2$/m);
  });

  it('a fan-out to new grains starts a bounded number at once, queues a bounded number, refuses the rest; others keep flowing', async () => {
    const silo = await start({ limits: { maxConcurrentActivations: 2, maxPendingActivations: 3 } });
    // Activated before the rush: its calls must not wait behind the activations.
    startGate();
    expect(await silo.getGrain(SlowStart, 'warm').hi()).toBe('hi warm');
    startsOpen = new Promise<void>((r) => { startGate = r; });
    const rush = Array.from({ length: 5 }, (_, i) => silo.getGrain(SlowStart, `k${i}`).hi());
    await new Promise((r) => setImmediate(r));
    const refused = await silo.getGrain(SlowStart, 'k5').hi().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SiloUnavailableError);
    expect((refused as Error).message).toMatch(/3 activations waiting to start/);
    expect(silo.catalog.starting).toEqual({ active: 2, queued: 3 });
    expect(await silo.getGrain(SlowStart, 'warm').hi()).toBe('hi warm');
    startGate();
    expect(await Promise.all(rush)).toEqual([0, 1, 2, 3, 4].map((i) => `hi k${i}`));
    expect(mostStarting).toBe(2);
    expect(silo.catalog.starting).toEqual({ active: 0, queued: 0 });
  });
});
