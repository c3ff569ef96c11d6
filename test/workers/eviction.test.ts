/**
 * Idle deactivation on Workers is the platform's eviction: workerd drops an object that has
 * had no request for a while (about 10 s in workerd; longer and at the platform's discretion
 * on Cloudflare). The next call meets a new instance, which loads the grain's state and goes
 * on with the same ETag.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GrainClient } from 'granary';
import { Incarnation } from './grains.js';
import { buildWorker, startWorker, tempDir, type RunningWorker } from './worker-host.js';

const build = tempDir('granary-worker-eviction-');
let worker: RunningWorker;
let client: GrainClient;

beforeAll(async () => {
  await buildWorker('test/workers/worker-entry.ts', `${build.dir}/worker.js`);
  worker = await startWorker({ scriptPath: `${build.dir}/worker.js` });
  client = GrainClient.http(worker.url);
});

afterAll(async () => {
  await client?.close();
  await worker?.dispose();
  build.remove();
});

it('an idle grain object is evicted; the next call activates it again with its stored state', async () => {
  const g = client.getGrain(Incarnation, 'idle');
  const before = await g.whoAmI();
  expect(await g.bump()).toBe(1);
  expect(await g.bump()).toBe(2);
  expect(await g.whoAmI()).toBe(before); // kept in memory between calls

  // No call may touch the object while we wait, or it stays in memory.
  let after = before;
  for (const waitMs of [12_000, 8_000, 10_000]) {
    await new Promise((r) => setTimeout(r, waitMs));
    after = await g.whoAmI();
    if (after !== before) break;
  }
  expect(after).not.toBe(before);
  expect(await g.bump()).toBe(3);
}, 60_000);
