/**
 * `client.transaction(fn)` with something that is not a function fails at once with a
 * TypeError saying what it takes, and starts nothing. Added where mutation testing found the
 * check unchecked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster } from 'granary';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('transaction input', () => {
  it('a non-function is a TypeError saying transaction(fn) takes a function', async () => {
    cluster = await TestCluster.start({ silos: 1, grains: [] });
    const client = cluster.client;
    for (const notFn of [undefined, 42, 'fn', {}]) {
      await expect(client.transaction(notFn as unknown as () => Promise<void>)).rejects.toThrow(new TypeError('transaction(fn) takes a function'));
    }
  });
});
