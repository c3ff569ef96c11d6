/**
 * Edges of the transaction API outside the storage suite: protocol messages are not callable
 * through the HTTP gateway (not even for types hosted on another silo), and an HTTP client
 * cannot run a transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, InvalidArgumentError, Silo, memoryCluster, memoryStorage } from 'granary';
import { jsonLogger } from 'granary/internal';
import { Account } from '../../grains/index.js';

let front: Silo;
let back: Silo;

beforeAll(async () => {
  const cluster = memoryCluster();
  const storage = memoryStorage();
  const logger = jsonLogger({ level: 'error' });
  back = await Silo.start({ grains: [Account], cluster, storage, logger });
  // Hosts nothing: calls for Account go on to `back`, unchecked here.
  front = await Silo.start({ grains: [], cluster, storage, logger, gateway: { port: 0, host: '127.0.0.1' } });
});
afterAll(async () => {
  await front?.stop();
  await back?.stop();
});

describe('transactions at the edges', () => {
  it('the gateway refuses protocol messages ($txn.*), also for types hosted elsewhere', async () => {
    for (const method of ['$txn.commit', '$txn.abort', '$txn.finish', '$txn.resolve', '$txn.prepare']) {
      const res = await fetch(`${front.gateway!.url}/grains/Account/a/${encodeURIComponent(method)}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ args: ['x'] }),
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_found');
    }
    // An ordinary call through the same gateway works (balance creates its own transaction).
    const ok = await fetch(`${front.gateway!.url}/grains/Account/a/balance`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ args: [] }),
    });
    expect(await ok.json()).toEqual({ result: 0 });
  });

  it('an HTTP client cannot carry a transaction: transaction() rejects and says what to do', async () => {
    const http = GrainClient.http(front.gateway!.url);
    const err = await http.transaction(async () => undefined).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toContain('GrainClient.connect');
    await http.close();
  });
});
