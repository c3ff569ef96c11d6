/**
 * Memory per idle activation and the idle collector's tick, at scale.
 *  - memory: heap growth per activation of a small grain beyond its state, at 100 k and 1 M
 *    (target ≤ 1 KB); the state itself is measured by allocating the same states bare.
 *  - collector: 1 M activations of which 1 % expire; the tick that finds and starts
 *    deactivating them (target ≤ 20 ms), beside a plain loop over all 1 M activations.
 * Run with --expose-gc (npm run bench does).
 */
import { Grain, Silo } from 'granary';
import { FakeClock } from 'granary/testing';
import { figure, fmtMs, heading, median, verdict } from './support.js';

class Small extends Grain<{ value: number }> {
  static idleTimeoutMs = 15 * 60_000;
  protected override initialState() { return { value: 0 }; }
  async touch(): Promise<number> { return ++this.state.value; }
}

class Brief extends Small {
  static override idleTimeoutMs = 60_000;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  gc?.(); gc?.();
  return process.memoryUsage().heapUsed;
}

async function activate(silo: Silo, cls: typeof Small, prefix: string, n: number): Promise<void> {
  const CHUNK = 5_000;
  for (let i = 0; i < n; i += CHUNK) {
    const calls: Promise<number>[] = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++) calls.push(silo.getGrain(cls, `${prefix}${j}`).touch());
    await Promise.all(calls);
    if (n >= 200_000 && i % 200_000 === 0) console.log(`  ... ${i / 1000}k activated`);
  }
}

async function memoryPerActivation(n: number): Promise<void> {
  const clock = new FakeClock();
  const silo = await Silo.start({ grains: [Small], clock, limits: { maxActivations: Infinity } });
  const before = heapUsed();
  await activate(silo, Small, 'm', n);
  const after = heapUsed();
  const states: { value: number }[] = [];
  const s0 = heapUsed();
  for (let i = 0; i < n; i++) states.push({ value: 1 });
  const s1 = heapUsed();
  const perActivation = (after - before) / n;
  const perState = (s1 - s0) / n;
  const fmtB = (x: number) => `${x.toFixed(0)} B`;
  console.log(`${String(n).padStart(9)} activations: ${perActivation.toFixed(0)} B each in all, state ${perState.toFixed(0)} B → ${(perActivation - perState).toFixed(0)} B beyond the state (1 round)   ${verdict([perActivation - perState], { atMost: 1024 }, fmtB)}`);
  if (silo.activationCount() !== n) throw new Error(`expected ${n} activations, found ${silo.activationCount()}`);
  states.length = 0;
  silo.catalog.abandonAll();
}

async function collectorTick(): Promise<void> {
  const total = 1_000_000;
  const expiring = total / 100;
  const clock = new FakeClock();
  const silo = await Silo.start({ grains: [Small, Brief], clock, limits: { maxActivations: Infinity } });
  await activate(silo, Brief, 'b', expiring);
  await activate(silo, Small, 's', total - expiring);
  const ticks: number[] = [];
  const loops: number[] = [];
  for (let r = 0; r < 5; r++) {
    // Plain loop over every activation: what a collector that scans everything would pay.
    const l0 = performance.now();
    let idle = 0;
    for (const key of (silo.catalog as unknown as { activations: Map<string, { isIdle(): boolean }> }).activations.keys()) if (key.length > 0) idle++;
    loops.push(performance.now() - l0);
    if (idle !== total) throw new Error('scan mismatch');
  }
  let examined = 0;
  let drained = 0;
  for (let round = 0; round < 5; round++) {
    if (round > 0) await activate(silo, Brief, `b${round}-`, expiring);
    clock.jump(61_000);
    const t0 = performance.now();
    examined = silo.catalog.collectIdle();
    ticks.push(performance.now() - t0);
    const d0 = performance.now();
    await silo.catalog.settled();
    drained = performance.now() - d0;
  }
  const tick = median(ticks);
  const left = silo.activationCount();
  figure(`collector tick, ${total / 1e6} M activations, ${expiring} expiring`, ticks, { fmt: fmtMs, target: { atMost: 20 } });
  console.log(`  examined ${examined} in the last tick; its deactivations then took ${drained.toFixed(0)} ms in batches; ${left} left`);
  console.log(`  beside: one plain pass over all ${total / 1e6} M activations takes ${median(loops).toFixed(1)} ms (median of 5): ratio tick/scan ${(tick / median(loops)).toFixed(2)}×`);
  if (left !== total - expiring) throw new Error(`expected ${total - expiring} left, found ${left}`);
  silo.catalog.abandonAll();
}

heading('activations: memory and idle collection');
if (!gc) console.log('(run with --expose-gc for exact heap figures)');
await memoryPerActivation(100_000);
await memoryPerActivation(1_000_000);
await collectorTick();
