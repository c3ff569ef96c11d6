/**
 * Chaos on Workers (issue 15, item 4, "where it applies"): grain objects reset mid-call
 * (`ctx.abort()`, what the platform does when it evicts or restarts an object that is busy)
 * under load from two HTTP clients, in miniflare (workerd). A reset object loses its memory
 * and its calls in flight; its storage stays.
 *
 * What must hold: no call failed (the runtime re-sends a call whose object was reset); every
 * counter holds exactly its acknowledged adds; no counter answered a value a single activation
 * with durable writes could not give. Prints calls/s with and without resets, and its seed
 * (`GRANARY_TEST_SEED=<seed>` repeats the reset times and the draws of their targets).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GrainClient } from 'granary';
import { LingeringCounter } from './chaos-grains.js';
import { CounterLoad, Outcomes, describeAgainst, describeDifferences, describeFailures, type ChaosEvent } from '../support/chaos-load.js';
import { seedNote, testSeed, workloadRandom } from '../support/random.js';
import { buildWorker, startWorker, tempDir, type RunningWorker } from './worker-host.js';

/** Length of the calm phase and of the reset phase (the same, so their rates compare). */
const PHASE_MS = 6_000;
const RESETS = 8;
const LOOPS = 24;

const build = tempDir('granary-worker-chaos-');
let worker: RunningWorker | undefined;
const clients: GrainClient[] = [];

beforeAll(async () => {
  testSeed(); // printed before anything can fail
  await buildWorker('test/workers/chaos-entry.ts', `${build.dir}/worker.js`);
  worker = await startWorker({ scriptPath: `${build.dir}/worker.js` });
  clients.push(GrainClient.http(worker.url), GrainClient.http(worker.url));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await worker?.dispose();
  build.remove();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

it(`${RESETS} grain objects reset mid-call under load: no failed call, counters equal acknowledged adds`, async () => {
  // The reset works: an object reset answers from a new instance, with its stored state.
  const probe = clients[0]!.getGrain(LingeringCounter, 'probe');
  expect(await probe.add(1)).toBe(1);
  const before = await probe.incarnation();
  const answer = await (await fetch(`${worker!.url}/__chaos/abort/${encodeURIComponent('LingeringCounter/probe')}`, { method: 'POST' })).text();
  expect(answer).toMatch(/^reset: /);
  expect(await probe.incarnation(), 'a new instance after the reset').not.toBe(before);
  expect(await probe.get(), 'the stored state after the reset').toBe(1);

  const outcomes = new Outcomes();
  const counters = new CounterLoad({
    loops: LOOPS,
    keysPerLoop: 2,
    prefix: 'wchaos',
    outcomes,
    add: (loop, key) => clients[loop % clients.length]!.getGrain(LingeringCounter, key).add(1),
  });
  const t0 = performance.now();
  counters.start();
  const end = performance.now() + 30_000;
  while (outcomes.list.length < 200) {
    if (performance.now() > end) throw new Error(`200 calls did not finish within 30 s (${seedNote()})`);
    await sleep(10);
  }
  const calmStart = performance.now();
  await sleep(PHASE_MS);

  // Resets at seeded times, one per slot, each of an object while an add runs in it (keys with a
  // call in flight are tried in a seeded order until one is inside its object).
  const random = workloadRandom('workers chaos: resets');
  const resets: { at: number; key: string; tries: number; inFlight: number; answer: string }[] = [];
  const events: ChaosEvent[] = [];
  const resetStart = performance.now();
  const slot = (PHASE_MS - 1_000) / RESETS;
  for (let i = 0; i < RESETS; i++) {
    await sleep(Math.max(0, resetStart + i * slot + random() * slot * 0.6 - performance.now()));
    for (let tries = 1; ; tries++) {
      const busy = outcomes.keysInFlight();
      const key = busy[Math.floor(random() * busy.length)]!;
      const at = performance.now();
      const res = await fetch(`${worker!.url}/__chaos/abort-mid-call/${encodeURIComponent(`LingeringCounter/${key}`)}`, { method: 'POST' });
      const answer = await res.text();
      if (answer.startsWith('reset: ')) {
        resets.push({ at, key, tries, inFlight: busy.length, answer });
        events.push({ at, label: `reset ${i + 1} (${key})` });
        break;
      }
      if (tries >= 200) throw new Error(`no object with an add running in it after 200 tries (last answer: ${answer}; ${seedNote()})`);
    }
  }
  await sleep(Math.max(0, resetStart + PHASE_MS - performance.now()));
  const resetEnd = performance.now();
  await sleep(1_000);
  await counters.stop();

  const diffs = await counters.differences((key) => clients[1]!.getGrain(LingeringCounter, key).get());
  const s = (t: number) => ((t - t0) / 1000).toFixed(2);
  const calmRate = outcomes.rate(calmStart, calmStart + PHASE_MS);
  const resetRate = outcomes.rate(resetStart, resetEnd);
  const failureText = describeFailures(outcomes, describeAgainst(t0, events));
  console.log([
    `[workers chaos] ${seedNote()}`,
    `calls/s: calm ${calmRate.toFixed(0)} over ${(PHASE_MS / 1000).toFixed(1)} s; during ${resets.length} resets ${resetRate.toFixed(0)} over ${((resetEnd - resetStart) / 1000).toFixed(1)} s (${(resetRate / calmRate).toFixed(2)}× calm)`,
    `resets: ${resets.map((r) => `${s(r.at)} s ${r.key} (${r.answer.replace(/^.*the add /, 'the add ')}; try ${r.tries})`).join('; ')}`,
    failureText,
    describeDifferences(diffs, counters.keys().length).split('\n').slice(0, 12).join('\n'),
    `answers no single activation could give: ${counters.anomalies.length}${counters.anomalies.length ? '\n  ' + counters.anomalies.slice(0, 8).join('\n  ') : ''}`,
  ].join('\n'));

  // The harness did what it says: each reset reset an object while an add ran in it.
  expect(resets.length).toBe(RESETS);
  for (const r of resets) expect(r.answer, `the reset of ${r.key}`).toMatch(/^reset: .*mid-call/);
  expect(outcomes.succeededIn(resetStart, resetEnd), 'calls during the resets').toBeGreaterThan(0);

  expect.soft(outcomes.failures().length, `failed calls (${seedNote()}):\n${failureText}`).toBe(0);
  expect.soft(diffs.length, `counters (${seedNote()}):\n${describeDifferences(diffs, counters.keys().length)}`).toBe(0);
  expect.soft(counters.anomalies, `answers that contradict a single activation (${seedNote()})`).toEqual([]);
}, 90_000);
