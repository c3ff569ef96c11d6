import { describe, expect, it } from 'vitest';
import { memoryStorage } from 'granary';
import { setupSuite } from './support.js';
import { faultyStorage } from './faulty-storage.js';
import { Probe } from './grains.js';

describe('probe', () => {
  const s = setupSuite('probe', async () => ({ storage: memoryStorage(), close: async () => undefined }));
  it('one-phase commit write fails, storage stays down', async () => {
    const f = faultyStorage(s.storage());
    const c = await s.start(2, f.storage);
    const p = s.key('p');
    await c.client.getGrain(Probe, p).createAdd(1);
    let armed = true;
    f.decide = (op, t) => (armed && op === 'write' && t === `Probe/${p}#txn:n` ? ((armed = false), 'outage') : 'pass');
    const t0 = Date.now();
    const r = await Promise.race([
      c.client.transaction(() => c.client.getGrain(Probe, p).joinAdd(5)).then(() => 'ok', (e) => `${e.name} ${e.code}: ${e.message}`),
      new Promise((res) => setTimeout(() => res('still pending after 8 s'), 8000)),
    ]);
    console.log('RESULT', r, Date.now() - t0);
    f.restore();
    await c.advanceTime(60_000);
    console.log('AFTER', await Promise.race([r === 'still pending after 8 s' ? 'x' : 'y']));
  }, 20000);
});
