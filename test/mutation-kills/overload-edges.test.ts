/**
 * Overload protection (docs/deploy.md "Overload") beyond test/overload.test.ts: a refusal from
 * the activation bulkhead carries the same `data` and `retry-after` as one from the activation
 * bound, and the bound holds over many waves of shedding. Added where mutation testing found
 * those unchecked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Grain, Silo, SiloUnavailableError } from 'granary';
import { FakeClock } from 'granary/testing';
import { raw } from '../gateway/helpers.js';

let open: () => void = () => undefined;
let gate = new Promise<void>((r) => { open = r; });

class Slow extends Grain {
  static grainType = 'SlowEdge';
  override async onActivate(): Promise<void> { await gate; }
  async hi(): Promise<string> { return this.key; }
}

class Cell extends Grain<{ n: number }> {
  static grainType = 'Cell';
  protected override initialState() { return { n: 0 }; }
  async bump(): Promise<number> { this.state.n++; await this.writeState(); return this.state.n; }
}

const silos: Silo[] = [];
afterEach(async () => {
  open();
  await Promise.all(silos.splice(0).map((s) => s.stop()));
  gate = new Promise<void>((r) => { open = r; });
});

describe('overload edges', () => {
  it('a full bulkhead refuses with reason overloaded, retryAfterMs, and a retry-after in whole seconds', async () => {
    const silo = await Silo.start({
      grains: [Slow],
      limits: { maxConcurrentActivations: 1, maxPendingActivations: 0, retryAfterMs: 2_500 },
      gateway: { port: 0, host: '127.0.0.1' },
    });
    silos.push(silo);
    const first = silo.getGrain(Slow, 'first').hi();
    await new Promise((r) => setImmediate(r));
    const err = await silo.getGrain(Slow, 'second').hi().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as SiloUnavailableError).data).toEqual({ reason: 'overloaded', retryAfterMs: 2_500 });
    expect((err as Error).message).toMatch(/0 activations waiting to start; retry in 3 s$/);
    const http = await raw(silo.gateway!.port, 'POST', '/grains/SlowEdge/third/hi', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(http.status).toBe(503);
    expect(http.headers['retry-after']).toBe('3');
    expect(silo.renderMetrics()).toMatch(/^granary_overload_refused_total 2$/m);
    open();
    expect(await first).toBe('first');
  });

  it('the activation bound holds over many waves of shedding, and no call is refused while idle ones can go', async () => {
    const clock = new FakeClock();
    const silo = await Silo.start({ grains: [Cell], clock, limits: { maxActivations: 5 }, collectionQuantumMs: 1_000, idleTimeoutMs: 60_000 });
    silos.push(silo);
    for (let i = 0; i < 40; i++) {
      expect(await silo.getGrain(Cell, `c${i}`).bump()).toBe(1);
      await clock.advance(1_000);
      await silo.catalog.settled();
      expect(silo.activationCount('Cell')).toBeLessThanOrEqual(5);
    }
    expect(silo.renderMetrics()).toMatch(/^granary_overload_refused_total 0$/m);
  });
});
