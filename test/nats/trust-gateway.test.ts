/**
 * Clients routed through the gateway (what a client credential gets, docs/nats.md): on a dev
 * server with `clientRouting: 'gateway'` forced, calls reach the one activation of each grain,
 * survive a silo's graceful stop with no failed call, and fail clearly with no silo at all; a
 * silo given the client credential fails its start saying which user it needs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, Silo, SiloUnavailableError, memoryStorage, natsCluster } from 'granary';
import { Counter } from '../../grains/index.js';
import { NatsServer } from '../support/nats-server.js';
import { shippedConfigEnv, shippedNatsConfig } from '../support/shipped-nats-config.js';

let dev: NatsServer;
let secured: NatsServer;
const PASSWORDS = { silo: 'gw-silo-password', client: 'gw-client-password' };
beforeAll(async () => {
  [dev, secured] = await Promise.all([NatsServer.start(), NatsServer.start({ config: shippedNatsConfig(), env: shippedConfigEnv(PASSWORDS) })]);
});
afterAll(async () => {
  await Promise.all([dev?.stop(), secured?.stop()]);
});

let n = 0;
const name = () => `gw${process.pid}-${++n}`;

describe('gateway-routed clients', () => {
  it('reach the one activation of each grain, and lose no call when a silo stops gracefully', async () => {
    const cluster = name();
    const storage = memoryStorage();
    const a = await Silo.start({ grains: [Counter], cluster: natsCluster({ servers: dev.url, name: cluster }), storage });
    const b = await Silo.start({ grains: [Counter], cluster: natsCluster({ servers: dev.url, name: cluster }), storage });
    const client = await GrainClient.connect({ cluster: natsCluster({ servers: dev.url, name: cluster, clientRouting: 'gateway' }) });
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `g${i}`);
      for (const k of keys) expect(await client.getGrain(Counter, k).add(1)).toBe(1);
      expect(a.activationCount('Counter') + b.activationCount('Counter')).toBe(30);
      // Load in flight while a leaves: its grains come back on b (state is shared), nothing fails.
      let stop = false;
      let done = 0;
      const failures: unknown[] = [];
      const callsPast = async (n: number) => { while (done < n) await new Promise((r) => setTimeout(r, 10)); };
      const counts = new Map(keys.map((k) => [k, 1]));
      const load = Promise.all(keys.map(async (k) => {
        while (!stop) {
          try {
            counts.set(k, await client.getGrain(Counter, k).add(1));
            done++;
          } catch (err) {
            failures.push(err);
          }
        }
      }));
      await callsPast(300);
      await a.stop();
      await callsPast(done + 300);
      stop = true;
      await load;
      expect(failures).toEqual([]);
      for (const k of keys) expect(await client.getGrain(Counter, k).get()).toBe(counts.get(k));
      expect(b.activationCount('Counter')).toBe(30);
    } finally {
      await client.close();
      await b.stop();
    }
  });

  it('with no silo at all, a call fails with SiloUnavailableError', async () => {
    const client = await GrainClient.connect({ cluster: natsCluster({ servers: dev.url, name: name(), clientRouting: 'gateway' }) });
    try {
      const err = await client.getGrain(Counter, 'x').get().catch((e: Error) => e);
      expect(err).toBeInstanceOf(SiloUnavailableError);
      expect((err as Error).message).toMatch(/no live silo/);
    } finally {
      await client.close();
    }
  });

  it('natsCluster refuses a short cluster key and an unknown clientRouting at once', () => {
    expect(() => natsCluster({ servers: dev.url, name: 'x', clusterKey: 'short' })).toThrow(/clusterKey must be a string of at least 16 characters/);
    expect(() => natsCluster({ servers: dev.url, name: 'x', clientRouting: 'kv' as never })).toThrow(/clientRouting must be 'auto', 'directory' or 'gateway'/);
  });

  it('a silo started with the client credential fails, naming the user it needs', async () => {
    const err = await Silo.start({
      grains: [Counter],
      cluster: natsCluster({ servers: secured.url, name: 'granary', user: 'granary-client', pass: PASSWORDS.client }),
      storage: memoryStorage(),
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as Error).message).toMatch(/silo user of deploy\/nats\/nats\.conf/);
    expect((err as Error).message).not.toContain(PASSWORDS.client);
  });
});
