import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, InvalidArgumentError, GrainError } from 'granary';
import { ChatRoom, Counter, GameSession, Player, sampleGrains } from '../grains/index.js';

let cluster: TestCluster | undefined;
afterEach(async () => { await cluster?.stop(); cluster = undefined; });

describe('sample grains', () => {
  it('chat room: join, post, history, validation', async () => {
    cluster = await TestCluster.start({ silos: 2, grains: sampleGrains });
    const room = cluster.client.getGrain(ChatRoom, 'lobby');
    expect(await room.join('ann')).toEqual(['ann']);
    expect(await room.join('bob')).toEqual(['ann', 'bob']);
    const m1 = await room.post('ann', 'hi');
    await room.post('bob', 'hello');
    expect(m1).toMatchObject({ from: 'ann', text: 'hi', seq: 1 });
    expect((await room.history(1)).map((m) => m.text)).toEqual(['hello']);
    await expect(room.post('eve', 'spam')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(room.post('ann', '')).rejects.toMatchObject({ code: 'invalid_argument' });
    await room.leave('bob');
    expect(await room.members()).toEqual(['ann']);
  });

  it('presence: players and game sessions call each other across silos', async () => {
    cluster = await TestCluster.start({ silos: 3, grains: sampleGrains });
    const c = cluster.client;
    expect(await c.getGrain(Player, 'p1').joinGame('g1')).toEqual(['p1']);
    expect(await c.getGrain(Player, 'p2').joinGame('g1')).toEqual(['p1', 'p2']);
    expect(await c.getGrain(GameSession, 'g1').heartbeat('p1', 10)).toBe(10);
    // p2 moves to another game: the player tells both games.
    expect(await c.getGrain(Player, 'p2').joinGame('g2')).toEqual(['p2']);
    expect(await c.getGrain(GameSession, 'g1').players()).toEqual(['p1']);
    // The game ends and tells its players (game → player).
    expect(await c.getGrain(GameSession, 'g1').end()).toEqual({ p1: 10 });
    expect(await c.getGrain(Player, 'p1').currentGame()).toBeUndefined();
    expect(await c.getGrain(Player, 'p2').currentGame()).toBe('g2');
    const err = await c.getGrain(GameSession, 'g1').addPlayer('p3').catch((e: GrainError) => e);
    expect(err).toMatchObject({ code: 'grain_error', message: 'game g1 has ended' });
  });

  it('Counter is the API contract grain', async () => {
    cluster = await TestCluster.start({ silos: 1, grains: [Counter] });
    expect(Counter.grainType).toBe('Counter');
    expect(Counter.idleTimeoutMs).toBe(60_000);
    expect(await cluster.client.getGrain<Counter>('Counter', 'x').add(2)).toBe(2);
  });
});
