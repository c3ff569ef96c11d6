/**
 * Idle deactivation on Workers is the platform's eviction: workerd drops an object that has
 * had no request for a while (about 10 s in workerd; longer and at the platform's discretion
 * on Cloudflare). The next call meets a new instance, which loads the grain's state and goes
 * on with the same ETag.
 */
import { expect, it } from 'vitest';
import { Incarnation } from './grains.js';
import { useTestWorker } from './worker-host.js';

const host = useTestWorker('granary-worker-eviction-');

it('an idle grain object is evicted; the next call activates it again with its stored state', async () => {
  const g = host.client.getGrain(Incarnation, 'idle');
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
