/** NATS outages: a restart mid-run, and no NATS at all at start. */
import { afterAll, describe, expect, it } from 'vitest';
import { GrainClient, Silo, SiloUnavailableError, memoryStorage, natsCluster } from 'granary';
import { systemClock } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { NatsServer, freePort } from '../support/nats-server.js';
import { sleep, until } from './helpers.js';

const servers: NatsServer[] = [];
afterAll(async () => { await Promise.all(servers.map((s) => s.stop())); });

describe('NATS outages', () => {
  it('NATS restarted mid-run: no call fails (those in flight are re-sent with their ids), none hang, every counter holds exactly its acknowledged adds, and everything recovers', async () => {
    const server = await NatsServer.start();
    servers.push(server);
    const cluster = () => natsCluster({ servers: server.url, name: 'outage', heartbeatIntervalMs: 200, staleAfterMs: 1500 });
    const storage = memoryStorage();
    const silos = [await Silo.start({ grains: [Counter], cluster: cluster(), storage }), await Silo.start({ grains: [Counter], cluster: cluster(), storage })];
    const client = await GrainClient.connect({ cluster: cluster(), responseTimeoutMs: 4000 });
    try {
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      const acked = new Map<string, number>(keys.map((k) => [k, 0]));
      for (const k of keys) { await client.getGrain(Counter, k).add(1); acked.set(k, 1); }

      const outcomes: { worker: number; start: number; error?: unknown }[] = [];
      let running = true;
      const worker = async (w: number) => {
        for (let i = 0; running; i++) {
          const k = keys[(w * 7 + i) % keys.length]!;
          const start = performance.now();
          try {
            await client.getGrain(Counter, k).add(1);
            acked.set(k, acked.get(k)! + 1);
            outcomes.push({ worker: w, start });
          } catch (error) {
            outcomes.push({ worker: w, start, error });
            await sleep(20);
          }
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      const succeeded = (since: number) => outcomes.filter((o) => o.start > since && o.error === undefined).length;
      await until(() => succeeded(0) >= 20, 30_000, 'calls succeed before the outage');
      const down = performance.now();
      await server.restart(700); // SIGKILL, 0.7 s without NATS, same port and store
      const up = performance.now();
      // Recovered: every silo sees both silos again, and every worker had a call succeed since.
      const recoveredAfter = (t: number) => silos.every((s) => s.connection.membership.live().length === silos.length)
        && Array.from({ length: 8 }, (_, w) => w).every((w) => outcomes.some((o) => o.worker === w && o.start > t && o.error === undefined));
      await until(() => recoveredAfter(up), 30_000, 'calls succeed again after NATS is back');
      const recovered = performance.now();
      await until(() => outcomes.filter((o) => o.start > recovered).length >= 100, 30_000, '100 calls after recovery');
      running = false;
      await Promise.all(workers);

      // A call in flight when the connection dropped is sent again once NATS is back (it has an
      // id: docs/exactly-once.md); none hung (that would have failed with TimeoutError at 4 s).
      const failures = outcomes.filter((o) => o.error !== undefined);
      expect(failures.map((f) => String(f.error)).slice(0, 5)).toEqual([]);
      // Once recovered, calls keep succeeding.
      const after = outcomes.filter((o) => o.start > recovered);
      expect(after.filter((o) => o.error !== undefined).map((o) => String(o.error)).slice(0, 5)).toEqual([]);
      expect(outcomes.filter((o) => o.start < down && o.error === undefined).length).toBeGreaterThan(0);
      // Membership recovered everywhere; no acknowledged increment was lost, and none applied twice.
      for (const s of silos) expect(s.connection.membership.live().map((i) => i.id).sort()).toEqual(silos.map((x) => x.id).sort());
      for (const k of keys) expect(await client.getGrain(Counter, k).get(), k).toBe(acked.get(k)!);
      expect(silos.reduce((n, s) => n + s.activationCount('Counter'), 0)).toBe(keys.length);
    } finally {
      await client.close();
      await Promise.all(silos.map((s) => s.stop()));
    }
  });

  it('no NATS at start: a clear SiloUnavailableError naming the URL', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    // (A connect that kept retrying instead would hang here until the test's timeout.)
    const err = await natsCluster({ servers: url, name: 'nowhere' }).connect({ clock: systemClock }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toMatch(/could not connect to NATS/);
    await expect(GrainClient.connect({ nats: url, cluster: 'nowhere' })).rejects.toThrow(url);
    await expect(Silo.start({ grains: [Counter], cluster: natsCluster({ servers: url, name: 'nowhere' }) })).rejects.toThrow(SiloUnavailableError);
  });

  it('a NATS server without JetStream: a clear error saying so', async () => {
    const server = await NatsServer.start({ jetstream: false });
    servers.push(server);
    const err = await natsCluster({ servers: server.url, name: 'nojs' }).connect({ clock: systemClock }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as Error).message).toMatch(/JetStream/);
    expect((err as Error).message).toContain(server.url);
  });

  it('a client joins through GrainClient.connect({ nats, cluster }) and survives a graceful silo stop', async () => {
    const server = await NatsServer.start();
    servers.push(server);
    const storage = memoryStorage();
    const a = await Silo.start({ grains: [Counter], cluster: natsCluster({ servers: server.url, name: 'prod' }), storage });
    const b = await Silo.start({ grains: [Counter], cluster: natsCluster({ servers: server.url, name: 'prod' }), storage });
    const client = await GrainClient.connect({ nats: server.url, cluster: 'prod' });
    try {
      for (let i = 0; i < 20; i++) expect(await client.getGrain(Counter, `g${i}`).add(2)).toBe(2);
      await a.stop();
      for (let i = 0; i < 20; i++) expect(await client.getGrain(Counter, `g${i}`).add(1)).toBe(3);
      expect(b.activationCount('Counter')).toBe(20);
      await until(() => b.connection.membership.live().length === 1, 20_000, 'b alone');
    } finally {
      await client.close();
      await b.stop();
    }
  });
});
