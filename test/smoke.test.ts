import { describe, expect, it } from 'vitest';
import { RequestContext, Silo, TestCluster } from 'granary';
import { Counter } from '../grains/index.js';

describe('smoke', () => {
  it('single silo', async () => {
    const silo = await Silo.start({ grains: [Counter] });
    const c = silo.getGrain(Counter, 'a');
    expect(await c.add(2)).toBe(2);
    expect(await c.add(3)).toBe(5);
    expect(await RequestContext.run({ user: 'bob' }, () => c.whoAsked())).toBe('bob');
    await silo.stop();
  });
  it('test cluster', async () => {
    const tc = await TestCluster.start({ silos: 3, grains: [Counter] });
    const c = tc.client.getGrain(Counter, 'a');
    expect(await c.add(2)).toBe(2);
    expect(await RequestContext.run({ user: 'bob' }, () => c.whoAsked())).toBe('bob');
    expect(tc.activationCount('Counter')).toBe(1);
    await tc.stop();
  });
});
