/**
 * Exactly-once over HTTP (docs/exactly-once.md): the same `Idempotency-Key` (same grain, same
 * method) within the dedupe window returns the first result without running again; two sends
 * of one key at once run once; `GrainClient.http` sends a key with every call and re-sends
 * with it when the gateway cannot be reached or answers 503.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, Silo, memoryStorage } from 'granary';
import { CALL_LOG_SIZE, jsonLogger } from 'granary/internal';
import { call } from '../gateway/helpers.js';
import { Tally } from './grains.js';
import { holdingStorage } from './holding-storage.js';

const logger = jsonLogger({ level: 'error', write: () => undefined });
let silo: Silo;
let storage: ReturnType<typeof holdingStorage>;
beforeAll(async () => {
  storage = holdingStorage(memoryStorage());
  silo = await Silo.start({ grains: [Tally], storage, gateway: { port: 0, host: '127.0.0.1' }, logger });
});
afterAll(async () => { await silo?.stop(); });

const add = (key: string, by: number, idem?: string, method = 'add') =>
  call(silo.gateway!.port, `/grains/Tally/${key}/${method}`, { args: [by] }, idem === undefined ? {} : { 'idempotency-key': idem });
const state = async (key: string) => (await call(silo.gateway!.port, `/grains/Tally/${key}/get`, { args: [] })).json.result as { n: number; runs: number };

describe('Idempotency-Key', () => {
  it('a repeat returns the first result and changes nothing; without the header every call runs', async () => {
    expect((await add('k1', 5, 'order-1')).json.result).toBe(5);
    const again = await add('k1', 5, 'order-1');
    expect(again.status).toBe(200);
    expect(again.json.result).toBe(5);
    expect(await state('k1')).toEqual({ n: 5, runs: 1 });
    await add('k1', 5);
    await add('k1', 5);
    expect(await state('k1')).toEqual({ n: 15, runs: 3 });
  });

  it('is per grain and method: the same key on another grain or method is another call', async () => {
    await add('k2a', 1, 'same');
    await add('k2b', 1, 'same');
    await add('k2a', 1, 'same', 'addTwice');
    expect(await state('k2a')).toEqual({ n: 3, runs: 1 });
    expect(await state('k2b')).toEqual({ n: 1, runs: 1 });
  });

  it('two sends of one key while the first runs: it runs once and both get its answer', async () => {
    const held = storage.hold(undefined, 'before');
    const first = add('k3', 4, 'twice');
    await held.reached;
    const second = add('k3', 4, 'twice');
    await new Promise((r) => setTimeout(r, 30));
    held.release();
    expect([(await first).json.result, (await second).json.result]).toEqual([4, 4]);
    expect(await state('k3')).toEqual({ n: 4, runs: 1 });
  });

  it('a caller that gave up while the write was in flight gets the write\'s result when it sends again', async () => {
    const held = storage.hold(undefined, 'before');
    const gaveUp = new AbortController();
    const first = fetch(`${silo.gateway!.url}/grains/Tally/k4/add`, {
      method: 'POST', signal: gaveUp.signal, body: '{"args":[9]}', headers: { 'content-type': 'application/json', 'idempotency-key': 'lost-1' },
    }).catch((e: Error) => e.name);
    await held.reached;
    gaveUp.abort();
    expect(await first).toBe('AbortError');
    const retry = add('k4', 9, 'lost-1');
    await new Promise((r) => setTimeout(r, 20));
    held.release();
    expect((await retry).json.result).toBe(9);
    expect(await state('k4')).toEqual({ n: 9, runs: 1 });
  });

  it(`the dedupe window is the last ${CALL_LOG_SIZE} calls that wrote: a key older than that runs again`, async () => {
    await add('k5', 1, 'oldest');
    for (let i = 1; i < CALL_LOG_SIZE; i++) await add('k5', 1, `k-${i}`);
    // 128 calls recorded, 'oldest' among them.
    expect((await add('k5', 1, 'oldest')).json.result).toBe(1);
    expect((await state('k5')).runs).toBe(CALL_LOG_SIZE);
    await add('k5', 1, `k-${CALL_LOG_SIZE}`);
    // 129 calls: 'oldest' left the record, so it runs again.
    expect((await add('k5', 1, 'oldest')).json.result).toBe(CALL_LOG_SIZE + 2);
  });

  it('a malformed key is refused with 400 before anything runs', async () => {
    for (const bad of ['has space', 'x'.repeat(201), 'é']) {
      const r = await call(silo.gateway!.port, '/grains/Tally/k6/add', { args: [1] }, { 'idempotency-key': bad });
      expect(r.status).toBe(400);
      expect(r.json.error.message).toContain('Idempotency-Key');
    }
    expect(await state('k6')).toEqual({ n: 0, runs: 0 });
  });
});

describe('GrainClient.http', () => {
  it('sends an Idempotency-Key with every call and re-sends with it when the answer is lost', async () => {
    const keys: string[] = [];
    let loseNext = true;
    const client = GrainClient.http(silo.gateway!.url, {
      fetch: (async (url: string, init: RequestInit) => {
        keys.push(new Headers(init.headers).get('idempotency-key') ?? '');
        const res = await fetch(url, init);
        if (loseNext) {
          // The call ran; its answer is lost on the way back.
          loseNext = false;
          await res.text();
          throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
        }
        return res;
      }) as typeof fetch,
    });
    try {
      expect(await client.getGrain(Tally, 'h1').add(3)).toBe(3);
      expect(keys.length).toBe(2);
      expect(keys[0]).not.toBe('');
      expect(keys[1]).toBe(keys[0]);
      expect(await client.getGrain(Tally, 'h1').get()).toEqual({ n: 3, runs: 1 });
      // Another call, another key.
      await client.getGrain(Tally, 'h1').add(1);
      expect(keys[2]).not.toBe(keys[0]);
    } finally {
      await client.close();
    }
  });
});
