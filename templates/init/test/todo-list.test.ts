import { afterEach, expect, it } from 'vitest';
import { TestCluster } from 'granary/testing';
import { TodoList } from '../src/todo-list.js';

// TestCluster: two silos in this process, every call through the wire codec, a fake clock.
let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

it('keeps one list per key', async () => {
  cluster = await TestCluster.start({ silos: 2, grains: [TodoList] });
  const alice = cluster.client.getGrain(TodoList, 'alice');
  const bob = cluster.client.getGrain(TodoList, 'bob');
  await alice.add('buy milk');
  await bob.add('water the plants');
  await alice.complete((await alice.add('call mum')).id);
  expect(await alice.items()).toEqual([
    { id: 1, text: 'buy milk', done: false },
    { id: 2, text: 'call mum', done: true },
  ]);
  expect(await bob.items()).toEqual([{ id: 1, text: 'water the plants', done: false }]);
});

it('keeps the list in storage across deactivation', async () => {
  cluster = await TestCluster.start({ silos: 2, grains: [TodoList] });
  await cluster.client.getGrain(TodoList, 'alice').add('buy milk');
  expect(cluster.activationCount('TodoList')).toBe(1);
  await cluster.advanceTime(10 * 60_000); // past idleTimeoutMs: the grain deactivates
  expect(cluster.activationCount('TodoList')).toBe(0);
  expect(await cluster.client.getGrain(TodoList, 'alice').items()).toEqual([{ id: 1, text: 'buy milk', done: false }]);
});

it('reports an error thrown by the grain to its caller, and stays usable', async () => {
  cluster = await TestCluster.start({ silos: 1, grains: [TodoList] });
  const list = cluster.client.getGrain(TodoList, 'alice');
  await expect(list.complete(7)).rejects.toMatchObject({ code: 'grain_error', message: 'no item 7 in list alice' });
  expect(await list.add('still here')).toEqual({ id: 1, text: 'still here', done: false });
});
